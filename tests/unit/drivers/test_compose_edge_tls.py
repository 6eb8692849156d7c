"""TLS at the compose driver's edge: the certificate files of the estate, copied under names of
their content, served on the published HTTPS port."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from odooplane.drivers.base import EdgeSpec
from odooplane.drivers.compose import artifacts
from odooplane.errors import PermanentError
from odooplane.render import compose as render


def _edge(tmp_path: Path, **extra: object) -> EdgeSpec:
    (tmp_path / "a.crt").write_text("CERT A")
    (tmp_path / "a.key").write_text("KEY A")
    return EdgeSpec(http_address="127.0.0.1:8800", api_port=8899, trusted_proxies=(), access_log=True,
                    https_address="127.0.0.1:8443",
                    certificates=((str(tmp_path / "a.crt"), str(tmp_path / "a.key")),), **extra)  # type: ignore[arg-type]


def test_https_entry_point_certificates_and_published_port(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    static = yaml.safe_load(artifacts.edge_static(edge))
    assert static["entryPoints"]["websecure"]["address"] == f":{render.EDGE_HTTPS_PORT}"
    pairs = artifacts.edge_certificates(edge)
    [(sources, (cert, key))] = pairs
    assert sources == (str(tmp_path / "a.crt"), str(tmp_path / "a.key"))
    assert cert.startswith("certs/") and cert.endswith(".crt") and key == cert[:-4] + ".key"
    common = yaml.safe_load(artifacts.edge_common([copy for _, copy in pairs]))
    assert common["tls"]["certificates"] == [{"certFile": f"/etc/traefik/{cert}", "keyFile": f"/etc/traefik/{key}"}]
    assert "KEY A" not in artifacts.edge_common([copy for _, copy in pairs])
    service = artifacts.edge_service(edge, image="odooplane/edge:x", edge_dir=tmp_path / "edge", static="s")
    assert service.https_port == 8443


def test_a_renewed_certificate_gets_a_new_name(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    before = artifacts.edge_certificates(edge)
    (tmp_path / "a.crt").write_text("CERT A, renewed")
    assert artifacts.edge_certificates(edge)[0][1] != before[0][1]


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    edge = _edge(tmp_path)
    (tmp_path / "a.key").unlink()
    with pytest.raises(PermanentError, match=r"a\.key: cannot read this certificate file"):
        artifacts.edge_certificates(edge)


def test_acme_keeps_its_storage_in_a_writable_directory_of_its_own(tmp_path: Path) -> None:
    edge = _edge(tmp_path, acme_email="ops@example.com", acme_ca="https://acme.example.test/dir")
    static = yaml.safe_load(artifacts.edge_static(edge))
    acme = static["certificatesResolvers"]["acme"]["acme"]
    assert acme == {"email": "ops@example.com", "storage": f"{render.EDGE_ACME_DIR}/acme.json",
                    "caServer": "https://acme.example.test/dir", "httpChallenge": {"entryPoint": "web"}}
    service = artifacts.edge_service(edge, image="odooplane/edge:1", edge_dir=tmp_path / "edge",
                                     static=artifacts.edge_static(edge))
    text = render.render(render.Project(name="p", estate="e", edge=service))
    mounts = {m["target"]: m for m in yaml.safe_load(text)["services"]["edge"]["volumes"]}
    assert mounts[render.EDGE_ACME_DIR]["source"] == str(tmp_path / "edge" / "acme")
    assert mounts[render.EDGE_ACME_DIR]["read_only"] is False
    assert mounts[render.EDGE_CONFIG_DIR]["read_only"] is True  # the rest of its configuration stays read-only
    plain = _edge(tmp_path)
    assert "certificatesResolvers" not in yaml.safe_load(artifacts.edge_static(plain))
    assert artifacts.edge_service(plain, image="i", edge_dir=tmp_path, static="").acme_dir is None
