{
    "name": "Odooplane request ids",
    "version": "1.0.0",
    "summary": "Write the edge's request id in Odoo's request log lines",
    "author": "Odooplane",
    "license": "LGPL-3",
    "category": "Hidden",
    "depends": ["base"],
    "installable": True,
    "auto_install": False,
}
