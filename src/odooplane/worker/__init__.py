"""The worker: a long-running process that fires schedules (backups, verifications, retention)
without anyone running the CLI. Odooplane keeps it supervised when an environment has a backup
policy."""
