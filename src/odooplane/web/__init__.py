"""The dashboard of the control plane (odooplane serve)."""
