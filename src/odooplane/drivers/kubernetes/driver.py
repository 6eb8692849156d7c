"""The kubernetes driver as the operations see it.

What it does today: ``odooplane render --out DIR`` writes the estate's manifests (manifests.py), a
kustomize tree that ``odooplane kubernetes apply`` (apiserver.py), ``kubectl apply --server-side -k
DIR`` or Argo CD applies; health, logs and point-in-time recovery are API calls
(actions/kubernetes_ops.py); ``backup run`` is a Job in the cluster that this host confirms
(actions/kubernetes_backup.py), and so are ``verify`` (actions/kubernetes_verify.py) and an
in-place ``restore`` (actions/kubernetes_restore.py). What it does not do yet: run the other
operations that write an environment's data (copies of another environment, clones, moves,
promotions) — every such call is refused with that explanation, never half done.
"""

from __future__ import annotations

from typing import NoReturn

from odooplane.drivers.kubernetes import manifests
from odooplane.errors import PermanentError
from odooplane.estate.models import KubernetesSettings

NOT_YET = ("the kubernetes driver renders and applies manifests but does not run this on a cluster yet: write "
           "them with `odooplane render ESTATE --out DIR` and apply them with `odooplane kubernetes apply ESTATE` "
           "(or kubectl, or Argo CD) (docs/kubernetes.md)")


class KubernetesDriver:
    name = "kubernetes"

    def __init__(self, settings: KubernetesSettings) -> None:
        self.settings = settings

    def mail_host(self) -> str:
        """Where non-production Odoo sends mail: the platform namespace's mail sink Service."""
        return manifests.mail_host(self.settings)

    def rotate_logs(self, *, max_bytes: int) -> list[str]:
        """Nothing to do: the kubelet rotates containers' logs (and Odoo logs to stdout there)."""
        return []

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        raise PermanentError(f"{name}: {NOT_YET}")
