"""The REST API of the control plane (odooplane serve)."""
