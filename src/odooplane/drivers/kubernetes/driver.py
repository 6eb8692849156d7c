"""The kubernetes driver as the operations see it.

What it does today: ``odooplane render --out DIR`` writes the estate's manifests (manifests.py), a
kustomize tree that ``kubectl apply --server-side -k DIR`` or Argo CD applies. What it does not do
yet: apply, observe and run operations against an API server itself — every such call is refused
with that explanation (exit code 2), never half done.
"""

from __future__ import annotations

from typing import NoReturn

from odooplane.drivers.kubernetes import manifests
from odooplane.errors import PermanentError
from odooplane.estate.models import KubernetesSettings

NOT_YET = ("the kubernetes driver renders manifests but does not reach a cluster itself yet: write them with "
           "`odooplane render ESTATE --out DIR` and apply them with `kubectl apply --server-side -k DIR` or Argo CD "
           "(docs/kubernetes.md)")


class KubernetesDriver:
    name = "kubernetes"

    def __init__(self, settings: KubernetesSettings) -> None:
        self.settings = settings

    def mail_host(self) -> str:
        """Where non-production Odoo sends mail: the platform namespace's mail sink Service."""
        return manifests.mail_host(self.settings)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        raise PermanentError(f"{name}: {NOT_YET}")
