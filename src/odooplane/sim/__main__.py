"""``python -m odooplane.sim``: the Odoo simulator's odoo-bin."""

from odooplane.sim.cli import main

raise SystemExit(main())
