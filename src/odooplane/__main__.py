from odooplane.cli.main import run

run()
