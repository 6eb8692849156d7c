"""``odooplane render``: what each driver would write for an estate, pure and deterministic.

The quick-start estate (examples/quickstart.yaml: dedicated environments, a pool with a shared
tenant and a hybrid one, a managed cluster, non-production mail) is rendered on both drivers and
compared byte for byte with tests/unit/render/golden/<driver>/quickstart/ (manifest.json included).
Regenerate after an intended change with ``UPDATE_GOLDEN=1`` and read the diff."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from odooplane.cli.main import app
from odooplane.layout import Layout
from odooplane.store import ports
from odooplane.store.db import default_url, open_store
from odooplane.store.secrets import SecretBox, load_key
from tests.support import golden

QUICKSTART = Path(__file__).parents[3] / "examples" / "quickstart.yaml"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The quick-start estate in a directory of its own, on the simulator, Traefik beside Python."""
    for name in ("ODOO_SOURCE", "ODOO_PYTHON", "ODOOPLANE_SIMULATOR", "ODOOPLANE_ESTATE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("odooplane.services.traefik.binary", lambda: f"{sys.prefix}/bin/traefik")
    # Rendered as a user other than root (as root, Odoo runs as its service user from another directory).
    monkeypatch.setattr("odooplane.services.service_users.odoo_user", lambda create=True: None)
    monkeypatch.setattr("odooplane.services.service_users.runtime_dir", lambda data_dir, estate_id: data_dir)
    target = tmp_path / "estate" / "estate.yaml"
    target.parent.mkdir()
    shutil.copy(QUICKSTART, target)
    return target


def render(estate: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["render", str(estate), "--out", str(out), *extra])
    return result.exit_code, result.output


tree = golden.tree


# Some revisions cover host paths (the mail sink's command names the mail directories): the golden
# estate keeps its data directory at one fixed place (never created: rendering writes nothing there).
FIXED_DATA_DIR = "/nonexistent/odooplane-render-golden"


# The worker container's revision covers the paths it mounts, the estate's directory among them (a
# temporary directory here): the golden files hold this instead, and the manifest's digest of
# compose.yaml (which carries that revision) is left out.
WORKER_REVISION = re.compile(rb"(\n  worker:\n(?:    .*\n)*?      odooplane\.revision: )[0-9a-f]{16}\n")


def masked(files: dict[str, bytes]) -> dict[str, bytes]:
    out = dict(files)
    if "compose.yaml" in out and b"\n  worker:\n" in out["compose.yaml"]:
        out["compose.yaml"], found = WORKER_REVISION.subn(rb"\1<covers-the-estate-directory>\n", out["compose.yaml"])
        assert found == 1, "the worker service has no revision label"
        manifest = json.loads(out["manifest.json"])
        for entry in manifest["files"]:
            if entry["path"] == "compose.yaml":
                entry["sha256"] = "<covers-the-worker-revision>"
        out["manifest.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    return out


@pytest.mark.parametrize("driver", ["local", "compose"])
def test_golden(estate: Path, tmp_path: Path, driver: str) -> None:
    estate.write_text(estate.read_text().replace("data_dir: .odooplane", f"data_dir: {FIXED_DATA_DIR}"))
    out = tmp_path / "out"
    code, output = render(estate, out, "--driver", driver)
    assert code == 0, output
    got = masked(tree(out))
    golden.compare(got, GOLDEN / driver / "quickstart", driver)
    text = b"".join(got.values()).decode()
    assert str(tmp_path) not in text  # host directories are placeholders
    assert not Path(FIXED_DATA_DIR).exists()  # nothing was created in the data directory


def test_twice_gives_the_same_bytes(estate: Path, tmp_path: Path) -> None:
    """Twice into two directories, then again into the first: nothing to write."""
    for driver in ("local", "compose", "kubernetes"):
        assert render(estate, tmp_path / f"{driver}-1", "--driver", driver)[0] == 0
        assert render(estate, tmp_path / f"{driver}-2", "--driver", driver)[0] == 0
        assert tree(tmp_path / f"{driver}-1") == tree(tmp_path / f"{driver}-2")
    code, output = render(estate, tmp_path / "local-1", "--driver", "local")
    assert code == 0 and "0 written, 0 removed" in output
    assert not (estate.parent / ".odooplane").exists()  # nothing was created in the data directory


def test_no_secret_value_appears(estate: Path, tmp_path: Path) -> None:
    """Secrets and ports the state store holds: the ports are used, the secrets never written."""
    data_dir = estate.parent / ".odooplane"
    data_dir.mkdir()
    store = open_store(default_url(data_dir))
    box = SecretBox(store, load_key(Layout(data_dir).key_file))
    values = {
        "env/acme/prod/db_password": "dbpw-Zq81sEcret",
        "env/acme/prod/admin_password": "admin-Kx92sEcret",
        "env/acme/prod/admin_hash": "fingerprint|$pbkdf2-sha512$600000$c2FsdA$Hx93sEcrethash",
        "env/acme/prod/admin_user_password": "user-Lm73sEcret",
        "pool/shared/db_password": "pool-Pq55sEcret",
        "cluster/main/superuser": "super-Wv17sEcret",
    }
    for name, value in values.items():
        box.put(name, value)
    ports.pin(store, owner="env/acme/prod", purpose="http", port=20555)
    store.close()
    state = (data_dir / "state.db").read_bytes()
    outputs = []
    for driver in ("local", "compose", "kubernetes"):
        code, output = render(estate, tmp_path / driver, "--driver", driver, "--json")
        assert code == 0, output
        outputs.append(output)
        outputs += [p.read_text() for p in (tmp_path / driver).rglob("*") if p.is_file()]
    everything = "\n".join(outputs)
    for value in values.values():
        for secret in (value, *value.split("|")):
            assert secret not in everything
            assert hashlib.sha256(secret.encode()).hexdigest() not in everything
    conf = (tmp_path / "local/envs/acme__prod/odoo.conf").read_text()
    assert "db_password = <secret:env/acme/prod/db_password>" in conf
    assert "http_port = 20555" in conf
    manifest = json.loads((tmp_path / "local" / "manifest.json").read_text())
    assert ["env/acme/prod", "http"] not in [[p["owner"], p["purpose"]] for p in manifest["provisional_ports"]]
    assert (data_dir / "state.db").read_bytes() == state  # read only


def test_stale_files_removed_foreign_files_kept(estate: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(estate, out, "--driver", "local")[0] == 0
    (out / ".git").mkdir()
    (out / ".git" / "config").write_text("[core]\n")
    (out / "README").write_text("reviewed artifacts\n")
    route = out / "edge" / "dynamic" / "env-initech__prod.yaml"
    assert route.is_file()
    text = estate.read_text()
    estate.write_text(text[:text.index("  initech:")])  # the last tenant leaves the estate
    code, output = render(estate, out, "--driver", "local")
    assert code == 0 and "1 removed" in output, output
    assert not route.exists()
    assert (out / ".git" / "config").read_text() == "[core]\n"
    assert (out / "README").read_text() == "reviewed artifacts\n"
    listed = {f["path"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert listed == set(tree(out)) - {".git/config", "README", "manifest.json"}


def test_switching_driver_removes_the_other_drivers_files(estate: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(estate, out, "--driver", "local")[0] == 0
    assert render(estate, out, "--driver", "compose")[0] == 0
    assert not (out / "supervisor").exists() and not (out / "envs").exists()
    assert (out / "compose.yaml").is_file()


def test_refuses_a_file_as_out(estate: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("keep me\n")
    code, output = render(estate, target)
    assert code == 2
    assert f"--out {target}: is a file, not a directory" in output
    assert target.read_text() == "keep me\n"


def test_refuses_a_directory_with_a_foreign_manifest(estate: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"name": "something else"}\n')
    code, output = render(estate, out)
    assert code == 2 and "not a manifest of `odooplane render`" in output
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_refuses_a_manifest_reaching_outside(estate: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert render(estate, out)[0] == 0
    victim = tmp_path / "victim"
    victim.write_text("x")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"].append({"path": "../victim", "sha256": ""})
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, output = render(estate, out)
    assert code == 2 and "'../victim', which is not a path inside" in output
    assert victim.read_text() == "x"


def test_unknown_driver(estate: Path, tmp_path: Path) -> None:
    code, output = render(estate, tmp_path / "out", "--driver", "nomad")
    assert code == 2 and "--driver nomad: unknown driver (known: compose, kubernetes, local)" in output
    assert not (tmp_path / "out").exists()


def test_json_is_the_manifest(estate: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = render(estate, out, "--driver", "compose", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data == json.loads((out / "manifest.json").read_text())
    assert data["driver"] == "compose" and data["base"] == "${DATA_DIR}/compose"
    assert {w["name"] for w in data["workloads"]} == {"pool-shared-0", "odoo-acme__prod", "odoo-acme__staging",
                                                      "odoo-globex__prod"}
    assert all(len(w["revision"]) == 16 for w in data["workloads"])
    for entry in data["files"]:
        assert hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
    assert {"compose.yaml", "secrets/pool-shared-0.conf", "edge/dynamic/pool-shared.yaml"} <= {
        f["path"] for f in data["files"]}
    assert data["provisional_ports"][0] == {"owner": "cluster/main", "purpose": "pg", "port": 20000}


def test_an_estate_the_driver_cannot_run_is_refused(estate: Path, tmp_path: Path) -> None:
    """A cluster on the host's loopback: containers cannot reach it."""
    estate.write_text(estate.read_text().replace(
        "  main:\n    kind: managed\n", "  main:\n    kind: external\n    url: postgresql://postgres@127.0.0.1:5432/postgres\n"))
    code, output = render(estate, tmp_path / "out", "--driver", "compose")
    assert code == 1, output
    assert "cluster main is at 127.0.0.1, which a container cannot reach" in output
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert render(estate, tmp_path / "local", "--driver", "local")[0] == 0  # the local driver runs it


def test_secret_references_are_never_resolved(estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A master password and a cluster password named by reference: their values never appear, and
    rendering does not need them (an unset reference renders too)."""
    text = estate.read_text().replace(
        "  main:\n    kind: managed\n",
        "  main:\n    kind: external\n    url: postgresql://postgres@db.internal:5432/postgres\n"
        "    password: env:RENDER_TEST_PG\n")
    text = text.replace("        modules: [sale_management, stock]\n        workers: 2\n",
                        "        modules: [sale_management, stock]\n        workers: 2\n"
                        "        admin_password: env:RENDER_TEST_MASTER\n", 1)
    assert "admin_password: env:RENDER_TEST_MASTER" in text and "password: env:RENDER_TEST_PG" in text
    estate.write_text(text)
    monkeypatch.setenv("RENDER_TEST_PG", "pg-Rt41sEcret")
    monkeypatch.setenv("RENDER_TEST_MASTER", "master-Yu62sEcret")
    for driver in ("local", "compose", "kubernetes"):
        code, output = render(estate, tmp_path / driver, "--driver", driver, "--json")
        assert code == 0, output
        everything = output + "".join(p.read_text() for p in (tmp_path / driver).rglob("*") if p.is_file())
        assert "pg-Rt41sEcret" not in everything and "master-Yu62sEcret" not in everything
        assert "admin_passwd = <secret:env/acme/prod/admin_hash>" in everything
        assert "db_host = db.internal" in everything
    monkeypatch.delenv("RENDER_TEST_PG")
    monkeypatch.delenv("RENDER_TEST_MASTER")
    assert render(estate, tmp_path / "unset", "--driver", "local")[0] == 0
