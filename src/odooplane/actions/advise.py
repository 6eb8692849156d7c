"""``advise``: the recommended placement of each environment, and the rules behind it."""

from __future__ import annotations

from pathlib import Path

from odooplane.actions import estate_file
from odooplane.errors import NotFound
from odooplane.estate.advisor import Advice, advise


def run(path: Path | None, *, tenant: str | None = None) -> list[Advice]:
    valid = estate_file.load(path)
    if tenant and tenant not in valid.estate.tenants:
        raise NotFound(f"{tenant}: no such tenant in {valid.path}")
    return [advise(env, cluster_region=env.cluster.region) for env in valid.environments
            if tenant is None or env.ref.tenant == tenant]
