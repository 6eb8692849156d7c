"""Point-in-time recovery on the compose driver, without an engine: what the cluster's service
mounts, what its archive_command runs (pgBackRest in the container, its configuration in the
volume), and where pgBackRest's commands run. The engine tier restores to a time for real
(tests/e2e/compose/test_compose_pitr.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from odooplane.drivers.base import ClusterSpec, PitrSpec
from odooplane.drivers.compose import artifacts
from odooplane.drivers.compose import pitr as compose_pitr
from odooplane.drivers.local import pgbackrest
from odooplane.errors import PermanentError
from odooplane.render import compose
from odooplane.services.postgres import ClusterConn

SPEC = PitrSpec(name="main", stanza="acme-main", port=25432, password="s3cret-pw", bin_dir=None, retention_full=3,
                archive_timeout_s=30)


def _project(*, pitr: bool) -> dict[str, object]:
    settings = tuple(sorted(compose_pitr.ComposePointInTime.archiving(None, SPEC).items()))  # type: ignore[arg-type]
    spec = ClusterSpec(name="main", port=25432, superuser_password="s3cret-pw", settings=settings, pitr=pitr)
    service = artifacts.postgres_service(spec, image="odooplane/postgres:1", password_file="/srv/secrets/pg-main")
    text = compose.render(compose.Project(name="p", estate="e", clusters=(service,)))
    assert "s3cret-pw" not in text
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def test_a_cluster_with_pitr_mounts_its_repository_volume_and_archives_into_it() -> None:
    data = _project(pitr=True)
    service = data["services"]["pg-main"]  # type: ignore[index]
    mounts = {m["target"]: m["source"] for m in service["volumes"]}
    assert mounts == {compose.POSTGRES_DATA: "pg-main.data", "/var/lib/pgbackrest": "pg-main.pitr"}
    assert "pg-main.pitr" in data["volumes"]  # type: ignore[operator]
    command = " ".join(service["command"])
    assert ("archive_command=/usr/bin/pgbackrest --config=/var/lib/pgbackrest/pgbackrest.conf "
            "--stanza=acme-main archive-push %p") in command
    assert "archive_mode=True" in command and "archive_timeout=30" in command


def test_without_pitr_no_repository_volume_and_another_revision() -> None:
    plain = _project(pitr=False)
    assert "pg-main.pitr" not in plain["volumes"]  # type: ignore[operator]
    spec = ClusterSpec(name="main", port=1, superuser_password="x")
    revisions = {artifacts.postgres_service(s, image="i", password_file="/f").revision
                 for s in (spec, ClusterSpec(name="main", port=1, superuser_password="x", pitr=True))}
    assert len(revisions) == 2


def test_the_configuration_is_the_containers_and_names_no_secret() -> None:
    cfg = compose_pitr.config(SPEC, "abc123")
    assert cfg.exec_prefix == ("docker", "exec", "--user", "postgres", "abc123")
    text = pgbackrest.render_config(cfg)
    assert "pg1-path=/var/lib/postgresql/data" in text and "pg1-socket-path=/var/run/postgresql" in text
    assert "repo1-path=/var/lib/pgbackrest/repo" in text and "repo1-retention-full=3" in text
    assert "s3cret" not in text and cfg.pg_password is None  # trusted over the container's socket


def test_pgbackrest_commands_run_through_the_prefix() -> None:
    # ``echo`` as the prefix shows the command line that would run in the container.
    cfg = compose_pitr.config(SPEC)
    echoed = pgbackrest.PgBackRestConfig(**{**cfg.__dict__, "exec_prefix": ("echo", "in-container")})
    out = pgbackrest._run(echoed, pgbackrest.info_argv(echoed), what="info", timeout=10)
    assert out.stdout.split() == ["in-container", "/usr/bin/pgbackrest", "--config=/var/lib/pgbackrest/pgbackrest.conf",
                                  "--stanza=acme-main", "--output=json", "info"]
    restore = pgbackrest.restore_argv(cfg, pgdata=Path(compose.POSTGRES_DATA), target_time=None, backup_set="X")
    assert restore[0] == "/usr/bin/pgbackrest" and "--archive-mode=off" in restore and "--set=X" in restore


@pytest.mark.parametrize("name", ["../x", "a b", "-lead", ""])
def test_a_scratch_copy_name_docker_would_refuse_is_refused_first(tmp_path: Path, name: str) -> None:
    driver = compose_pitr.ComposePointInTime(project="p", estate_id="e", root=tmp_path, find=lambda n: n,
                                             image=lambda: "i")
    with pytest.raises(PermanentError, match="cannot name a scratch copy"):
        driver._scratch_name(name)


def test_a_scratch_copy_is_dumped_in_its_own_container_and_only_this_projects(tmp_path: Path) -> None:
    driver = compose_pitr.ComposePointInTime(project="p", estate_id="e", root=tmp_path, find=lambda n: n,
                                             image=lambda: "i")
    copy = compose_pitr.ComposeScratch(container="p-pitr-restore-a__prod-1", volume="v", password="x",
                                       backup_label="L")
    assert driver.container_of(copy.conn("db")) == "p-pitr-restore-a__prod-1"
    other = compose_pitr.ComposeScratch(container="q-pitr-x", volume="v", password="x", backup_label="L")
    assert driver.container_of(other.conn()) is None
    managed = ClusterConn(name="main", host="127.0.0.1", port=1, user="postgres", password=None)
    assert driver.container_of(managed) is None
