"""odooplane.sim: a small, honest stand-in for Odoo (16-19, 14-15 for longpolling).

It speaks the slice of Odoo a control plane uses (odoo-bin command line and
odoo.conf keys, the databases/tables/filestore ``-i``/``-u``/``neutralize``
produce, dbfilter, sessions, the HTTP/JSON-RPC/XML-RPC endpoints, prefork and
threaded serving, crons) against a real PostgreSQL.  It runs as its own
process and imports nothing else from odooplane.  See docs/simulator.md.
"""
