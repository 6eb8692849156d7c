"""The data-plane agent: filestore work done where the filestores live.

``python -m odooplane.agent --root DIR`` reads one JSON task (from its argument, else stdin), does
it under ``DIR`` and answers with one JSON line. The local driver runs it as a subprocess (as Odoo's
service user), the compose driver in a short-lived container with the storages' volumes mounted;
the local driver's ``LocalStorage`` calls the same functions in-process.

It imports nothing but the standard library and nothing else of Odooplane (an import-linter
contract): a container image carries only ``odooplane/__init__.py`` and this package.
"""
