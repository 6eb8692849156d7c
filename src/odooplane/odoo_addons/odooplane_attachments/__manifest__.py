{
    "name": "Odooplane attachments in object storage",
    "version": "1.0.0",
    "summary": "Stateless web replicas: attachment contents in S3 instead of the filestore",
    "author": "Odooplane",
    "license": "LGPL-3",
    "category": "Hidden",
    "depends": ["base"],
    "installable": True,
    "auto_install": False,
}
