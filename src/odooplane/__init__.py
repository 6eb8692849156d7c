"""Odooplane: a self-hosted control plane for an estate of Odoo instances."""

__version__ = "0.1.0"
