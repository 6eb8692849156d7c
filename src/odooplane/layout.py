"""Where things live in the data directory (pure path arithmetic, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    """``root`` is the data directory (state, secrets, backups, edge, supervisor: the control
    plane's, owner-only); ``runtime`` is where Odoo's own directories live (environments, pools,
    templates, their logs, verification sandboxes Odoo boots on) — the data directory itself unless
    Odoo runs as a service user that cannot enter it (services/service_users.py)."""

    root: Path
    runtime: Path | None = None

    @property
    def run_root(self) -> Path:
        return self.runtime or self.root

    @property
    def state_db(self) -> Path:
        return self.root / "state.db"

    @property
    def key_file(self) -> Path:
        return self.root / "secret.key"

    @property
    def supervisor(self) -> Path:
        return self.root / "supervisor"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def edge(self) -> Path:
        return self.root / "edge"

    @property
    def edge_dynamic(self) -> Path:
        return self.edge / "dynamic"

    @property
    def envs(self) -> Path:
        return self.run_root / "envs"

    def env_dir(self, slug: str) -> Path:
        return self.envs / slug

    def env_conf(self, slug: str) -> Path:
        return self.env_dir(slug) / "odoo.conf"

    def env_data(self, slug: str) -> Path:
        """Odoo's data_dir of one environment (filestore/<db>/…, sessions/)."""
        return self.env_dir(slug) / "data"

    def filestore(self, slug: str, database: str) -> Path:
        return self.env_data(slug) / "filestore" / database

    def env_logs(self, slug: str) -> Path:
        return self.run_root / "logs" / "envs" / slug

    def odoo_log(self, slug: str) -> Path:
        return self.env_logs(slug) / "odoo.log"

    def process_log(self, name: str) -> Path:
        return self.logs / "processes" / f"{name}.log"

    def route_file(self, name: str) -> Path:
        return self.edge_dynamic / f"env-{name}.yaml"

    def pool_route_file(self, name: str) -> Path:
        return self.edge_dynamic / f"pool-{name}.yaml"

    @property
    def pools(self) -> Path:
        return self.run_root / "pools"

    def pool_dir(self, name: str) -> Path:
        return self.pools / name

    def pool_conf(self, name: str, index: int) -> Path:
        return self.pool_dir(name) / f"odoo-{index}.conf"

    def pool_data(self, name: str) -> Path:
        """Odoo's data_dir shared by every process of a pool (filestores, sessions)."""
        return self.pool_dir(name) / "data"

    def pool_logs(self, name: str) -> Path:
        return self.run_root / "logs" / "pools" / name

    def pool_odoo_log(self, name: str, index: int) -> Path:
        return self.pool_logs(name) / f"odoo-{index}.log"

    @property
    def templates(self) -> Path:
        return self.run_root / "templates"

    def template_dir(self, key: str) -> Path:
        return self.templates / key

    @property
    def access_log(self) -> Path:
        return self.logs / "edge-access.log"

    @property
    def edge_log(self) -> Path:
        return self.logs / "edge.log"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    def backup_repository(self, name: str) -> Path:
        """Default location of a local backup repository."""
        return self.backups / "repositories" / name

    def backup_stage(self, slug: str) -> Path:
        """Where a backup of one environment is assembled (dump, filestore links, manifest)."""
        return self.backups / "staging" / slug

    @property
    def mail(self) -> Path:
        """The mail catcher's files: one directory of caught messages per non-production environment."""
        return self.root / "mail"

    def mail_dir(self, slug: str) -> Path:
        return self.mail / slug

    @property
    def mail_listeners(self) -> Path:
        """Which port catches which environment's mail; the worker's catcher follows this file."""
        return self.mail / "listeners.json"

    def bucket_cache(self, slug: str) -> Path:
        """Attachments of one environment's bucket, downloaded once for its backups and copies
        (content-addressed: ``<xx>/<sha1>``), outside every backup stage."""
        return self.backups / "bucket-cache" / slug

    def sandbox(self, name: str) -> Path:
        """Scratch space of a restore (verification, restore, drill)."""
        return self.backups / "sandboxes" / name

    def odoo_sandbox(self, name: str) -> Path:
        """Where a verification boots Odoo on a restored copy (reachable by Odoo's service user)."""
        return self.run_root / "sandboxes" / name
