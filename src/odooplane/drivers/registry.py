"""The driver registry: names in the estate (``platform.driver``) → driver factories. ``fake`` (the
in-memory driver of the tests) is here for tests to create by name; the estate's schema does not
offer it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from odooplane.drivers.base import Artifacts, DesiredRuntime, Driver, EdgeSpec, OdooWorkload
from odooplane.drivers.compose import artifacts as compose_artifacts
from odooplane.drivers.compose.driver import ComposeDriver, project_name
from odooplane.drivers.fake import FakeDriver
from odooplane.drivers.kubernetes import manifests as kubernetes_manifests
from odooplane.drivers.kubernetes import names as kubernetes_names
from odooplane.drivers.kubernetes.apiserver import ApiError, ApiServer, Applied, TransportError
from odooplane.drivers.kubernetes.driver import KubernetesDriver
from odooplane.drivers.local import LocalDriver
from odooplane.drivers.local import artifacts as local_artifacts
from odooplane.errors import PermanentError
from odooplane.estate.models import Platform
from odooplane.layout import Layout
from odooplane.services import traefik
from odooplane.services.service_users import ServiceUser

Factory = Callable[[Layout, EdgeSpec, ServiceUser | None, str, Platform], Driver]


def _local(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
           platform: Platform) -> Driver:
    return LocalDriver(layout, edge, odoo_user, estate_id=estate_id)


def _compose(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
             platform: Platform) -> Driver:
    return ComposeDriver(layout, edge, odoo_user, estate_id=estate_id, platform_name=platform.name,
                         settings=platform.compose)


def _kubernetes(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
                platform: Platform) -> Driver:
    # Renders only (its other calls are refused with an explanation): not a full Driver yet.
    return cast(Driver, KubernetesDriver(platform.kubernetes))


def _fake(layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None, estate_id: str,
          platform: Platform) -> Driver:
    return FakeDriver(layout.root, edge)


RENDERERS = ("compose", "kubernetes", "local")  # the drivers that render artifacts (the estate offers these)

DRIVERS: dict[str, Factory] = {
    "local": _local,
    "compose": _compose,
    "kubernetes": _kubernetes,
    "fake": _fake,
}


def create(name: str, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None = None, *,
           estate_id: str = "", platform: Platform | None = None) -> Driver:
    try:
        factory = DRIVERS[name]
    except KeyError:
        raise ValueError(f"unknown driver {name!r} (known: {', '.join(RENDERERS)})") from None
    return factory(layout, edge, odoo_user, estate_id, platform or Platform())


@dataclass(frozen=True)
class Rendered:
    """A driver's artifacts for one desired runtime: ``files`` by their path relative to ``base``
    (the directory the driver writes them in)."""

    driver: str
    base: Path
    files: Artifacts


def render(name: str, desired: DesiredRuntime, layout: Layout, edge: EdgeSpec, odoo_user: ServiceUser | None = None,
           *, estate_id: str = "", platform: Platform | None = None) -> Rendered:
    """What driver ``name`` would write for ``desired`` — pure: nothing is written, built or run."""
    platform = platform or Platform()
    if name == "local":
        try:
            binary = traefik.binary()
        except PermanentError:
            binary = "traefik"  # not installed here: apply would refuse; the rendering names it
        return Rendered(name, layout.root, local_artifacts.render_artifacts(
            desired, layout=layout, edge=edge, odoo_user=odoo_user, traefik_binary=binary))
    if name == "compose":
        root = layout.root / "compose"
        return Rendered(name, root, compose_artifacts.render_artifacts(
            desired, root=root, project=project_name(platform.name, platform.compose), estate_id=estate_id,
            edge=edge, settings=platform.compose, mail_dir=layout.mail))
    if name == "kubernetes":
        return Rendered(name, layout.root / "kubernetes", kubernetes_manifests.render_tree(
            desired, estate=platform.name, settings=platform.kubernetes, edge=edge))
    raise ValueError(f"unknown driver {name!r} (known: {', '.join(RENDERERS)})")


def workload_revision(name: str, workload: OdooWorkload) -> str:
    """The revision driver ``name`` runs ``workload`` at (kubernetes: its pods', which does not depend on
    where Odooplane is installed)."""
    if name == "kubernetes":
        return kubernetes_manifests.revision(workload)
    return workload.revision


def kubernetes_api(*, context: str | None, config_file: str | None) -> ApiServer:
    """An API server of the kubeconfig (its ``context``, default the current one)."""
    return ApiServer.from_kubeconfig(context=context, config_file=config_file)


# What the kubernetes verbs need of the driver's naming and objects (actions reach them here).
kubernetes_placement = kubernetes_names.placement
kubernetes_env_base = kubernetes_names.env_base
kubernetes_recovery_cluster = kubernetes_manifests.recovery_cluster
kubernetes_backup = kubernetes_manifests.on_demand_backup
kubernetes_backup_job = kubernetes_manifests.backup_job
kubernetes_backup_job_names = kubernetes_manifests.backup_job_names
kubernetes_restic_secret = kubernetes_manifests.restic_secret
KUBERNETES_BACKUP = kubernetes_manifests.BackupPaths()
kubernetes_verify_job = kubernetes_manifests.verify_job
kubernetes_job_label = kubernetes_manifests.of_label
KUBERNETES_VERIFY = kubernetes_manifests.VerifyPaths()
kubernetes_identity_secret = kubernetes_manifests.identity_secret
kubernetes_identity_secret_name = kubernetes_manifests.identity_secret_name
kubernetes_identity_container = kubernetes_manifests.identity_container
kubernetes_identity_volume = kubernetes_manifests.identity_volume
kubernetes_identity_command = kubernetes_manifests.identity_command
KUBERNETES_IDENTITY_KEY = kubernetes_manifests.IDENTITY_KEY
KUBERNETES_SALT_KEY = kubernetes_manifests.SALT_KEY
KUBERNETES_IDENTITY_DIR = kubernetes_manifests.IDENTITY_DIR
KUBERNETES_IDENTITY_CONTAINER = kubernetes_manifests.IDENTITY_CONTAINER
kubernetes_odoo_job = kubernetes_manifests.odoo_job
KUBERNETES_LABEL_INSTANCE = kubernetes_manifests.LABEL_INSTANCE
KUBERNETES_LABEL_COMPONENT = kubernetes_manifests.LABEL_COMPONENT


__all__ = [
    "DRIVERS",
    "KUBERNETES_BACKUP",
    "KUBERNETES_IDENTITY_CONTAINER",
    "KUBERNETES_IDENTITY_DIR",
    "KUBERNETES_IDENTITY_KEY",
    "KUBERNETES_LABEL_COMPONENT",
    "KUBERNETES_LABEL_INSTANCE",
    "KUBERNETES_SALT_KEY",
    "KUBERNETES_VERIFY",
    "RENDERERS",
    "ApiError",
    "ApiServer",
    "Applied",
    "Rendered",
    "TransportError",
    "create",
    "kubernetes_api",
    "kubernetes_backup",
    "kubernetes_backup_job",
    "kubernetes_backup_job_names",
    "kubernetes_env_base",
    "kubernetes_identity_command",
    "kubernetes_identity_container",
    "kubernetes_identity_secret",
    "kubernetes_identity_secret_name",
    "kubernetes_identity_volume",
    "kubernetes_job_label",
    "kubernetes_odoo_job",
    "kubernetes_placement",
    "kubernetes_recovery_cluster",
    "kubernetes_restic_secret",
    "kubernetes_verify_job",
    "render",
    "workload_revision",
]
