"""``python -m odooplane.agent``: see odooplane/agent/cli.py."""

from odooplane.agent.cli import main

raise SystemExit(main())
