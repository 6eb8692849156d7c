{
    "name": "Odooplane sessions in Redis",
    "version": "1.0.0",
    "summary": "Stateless web replicas: HTTP sessions in Redis instead of the data directory",
    "author": "Odooplane",
    "license": "LGPL-3",
    "category": "Hidden",
    "depends": ["base", "web"],
    "installable": True,
    "auto_install": False,
}
