from __future__ import annotations

from pathlib import Path

import typer

from odooplane.cli.output import console, errors, print_json


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render(
        estate: Path = typer.Argument(None, help="Estate file (default: $ODOOPLANE_ESTATE or ./estate.yaml)."),
        out: Path = typer.Option(..., "--out", help="Directory to write the artifacts in (created if missing; "
                                 "only files a previous render wrote there are replaced or removed)."),
        driver: str = typer.Option(None, "--driver",
                                   help="local, compose or kubernetes (default: the estate's platform.driver)."),
        as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
    ) -> None:
        """Write the artifacts a driver would apply for the estate (odoo.conf, supervisord programs or compose.yaml
        and Traefik files; Kubernetes manifests as a kustomize tree) into a directory, with a manifest: nothing is
        applied, allocated or started, and every secret is a placeholder."""
        from odooplane.actions import render as action

        with errors():
            result = action.run(estate, out=out, driver=driver)
        if as_json:
            print_json(result.manifest)
            return
        manifest = result.manifest
        console.print(f"rendered {len(manifest['files'])} file(s) for driver {manifest['driver']} into {result.out}: "
                      f"{len(result.written)} written, {len(result.removed)} removed", markup=False)
        if manifest["provisional_ports"]:
            console.print(f"{len(manifest['provisional_ports'])} port(s) are provisional (not allocated yet): "
                          "see manifest.json", markup=False)
