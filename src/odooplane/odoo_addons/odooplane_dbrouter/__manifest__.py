{
    "name": "Odooplane database router",
    "version": "1.0.0",
    "summary": "Shared pools: serve only the database named by the edge proxy's trusted header",
    "author": "Odooplane",
    "license": "LGPL-3",
    "category": "Hidden",
    "depends": ["base", "web"],
    "installable": True,
    "auto_install": False,
}
