"""Dockerfiles of the images Odooplane builds: golden files pin them; the inputs that reach a
Dockerfile line are validated; tags are a function of the content alone."""

from __future__ import annotations

import pytest

from odooplane.render import dockerfile
from tests.unit.render import test_renderers as renderers

PINS = ("psycopg==3.3.9", "psycopg-binary==3.3.9", "typing-extensions==4.16.0")


def check_golden(name: str, text: str) -> None:
    renderers.check_golden(f"dockerfile/{name}", text)


def test_simulator_dockerfile() -> None:
    text = dockerfile.simulator(requirements=PINS)
    check_golden("simulator.Dockerfile", text)
    assert "FROM python:3.11-slim-bookworm\n" in text
    assert "--no-index --find-links /tmp/wheelhouse" in text
    assert "USER 101:101\n" in text
    assert 'ENTRYPOINT ["/opt/odooplane/bin/python", "-m", "odooplane.sim"]\n' in text
    assert 'CMD ["-c", "/etc/odoo/odoo.conf"]\n' in text


def test_simulator_dockerfile_takes_the_base_and_the_uid() -> None:
    image = dockerfile.OdooImage(kind="simulator", entrypoint=dockerfile.SIMULATOR.entrypoint, uid=4242, gid=4343)
    text = dockerfile.simulator(base="localhost/debian:bookworm", requirements=PINS, image=image)
    assert text.splitlines()[2] == "FROM localhost/debian:bookworm"
    assert "--uid 4242 --gid 4343" in text and "USER 4242:4343\n" in text


def test_agent_dockerfile_carries_only_the_agent_and_runs_as_odoo_s_uid() -> None:
    text = dockerfile.agent()
    check_golden("agent.Dockerfile", text)
    assert "COPY odooplane /opt/odooplane/src/odooplane\n" in text and "pip" not in text
    assert "USER 101:101\n" in text
    assert 'ENTRYPOINT ["python3", "-m", "odooplane.agent"]\n' in text


def test_source_tree_dockerfile() -> None:
    text = dockerfile.source_tree(base="localhost/odoo-base:bookworm", addons=("/srv/a", "/srv/b"))
    check_golden("source.Dockerfile", text)
    assert "COPY addons/1 /mnt/extra-addons/1\n" in text
    assert 'ENTRYPOINT ["/opt/odoo/venv/bin/python", "/opt/odoo/src/odoo-bin"]\n' in text


def test_traefik_dockerfile() -> None:
    text = dockerfile.traefik(base="localhost/debian:bookworm")
    check_golden("traefik.Dockerfile", text)
    assert f"USER {dockerfile.EDGE_UID}:{dockerfile.EDGE_UID}\n" in text


def test_postgres_dockerfile_installs_the_context_packages_offline() -> None:
    text = dockerfile.postgres(base="localhost/debian:bookworm", debs=True)
    check_golden("postgres.Dockerfile", text)
    assert "apt-get install -y -q --no-install-recommends /tmp/debs/*.deb" in text
    assert "create_main_cluster = false" in text
    assert "--uid 999" in text and "STOPSIGNAL SIGINT\n" in text
    assert "COPY debs" not in dockerfile.postgres(base="localhost/debian-pg:bookworm")


def test_postgres_entrypoint_reads_the_password_from_a_file() -> None:
    assert '--pwfile="$POSTGRES_PASSWORD_FILE"' in dockerfile.POSTGRES_ENTRYPOINT
    assert "POSTGRES_PASSWORD\n" not in dockerfile.POSTGRES_ENTRYPOINT.replace("_FILE", "")


@pytest.mark.parametrize(("call", "message"), [
    (lambda: dockerfile.simulator(base="python:3.11\nRUN curl x", requirements=PINS), "is not an image reference"),
    (lambda: dockerfile.simulator(requirements=("psycopg>=3",)), "requirement 'psycopg>=3' is not pinned"),
    (lambda: dockerfile.simulator(requirements=("psycopg==3 && rm -rf /",)), "is not pinned"),
    (lambda: dockerfile.simulator(requirements=PINS, image=dockerfile.OdooImage(
        kind="simulator", entrypoint=("x",), uid=0)), "uid 0 must be a non-root id"),
    (lambda: dockerfile.traefik(base="UPPER:case"), "is not an image reference"),
    (lambda: dockerfile.agent(base="python:3.11 AS x\nRUN y"), "is not an image reference"),
    (lambda: dockerfile.agent(uid=0), "uid 0 must be a non-root id"),
    (lambda: dockerfile.postgres(base="debian", major=7), "PostgreSQL major version 7"),
])
def test_inputs_reaching_a_dockerfile_line_are_validated(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_content_tag_is_a_function_of_the_content_alone() -> None:
    files = {"Dockerfile": "a:644", "wheelhouse/x.whl": "b:644"}
    tag = dockerfile.content_tag("odooplane/sim", files)
    assert tag.startswith("odooplane/sim:") and len(tag.split(":")[1]) == 20
    assert dockerfile.content_tag("odooplane/sim", dict(reversed(files.items()))) == tag
    assert dockerfile.content_tag("odooplane/sim", {**files, "wheelhouse/x.whl": "b:755"}) != tag  # mode
    assert dockerfile.content_tag("odooplane/sim", {**files, "wheelhouse/y.whl": "b:644"}) != tag  # another file
    assert dockerfile.content_tag("odooplane/sim", {"Dockerfile": "a:644", "wheelhouse/y.whl": "b:644"}) != tag  # name


def test_content_tag_refuses_a_bad_repository_or_a_context_without_dockerfile() -> None:
    with pytest.raises(ValueError, match="is not an image repository name"):
        dockerfile.content_tag("Odooplane/Sim", {"Dockerfile": "a"})
    with pytest.raises(ValueError, match="holds its Dockerfile"):
        dockerfile.content_tag("odooplane/sim", {"x": "a"})
