"""Tables of the state database: the operation journal, audit trail, evidence, encrypted
secrets, port allocations, leases and schedule claims. Not a second copy of what runs — that is always observed."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

operations = sa.Table(
    "operations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | succeeded | failed | interrupted
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    sa.Column("summary", sa.JSON),
    # Liveness (store/liveness.py): the process's boot id, and the heartbeat it refreshes while it runs.
    sa.Column("boot_id", sa.String(128)),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    # Requested operations (store/requests.py): what a queued operation must do, and how many times
    # a worker claimed it (a second claim resumes the work of a worker that died).
    sa.Column("request", sa.JSON, nullable=True),
    sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_operations_status", "status"),
    sa.Index("ix_operations_queue", "status", "id"),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("operation_id", sa.Integer, sa.ForeignKey("operations.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # intent | done | failed | skipped
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("duration_s", sa.Float),
    sa.Column("detail", sa.Text),
    sa.Column("error", sa.Text),
    sa.Index("ix_steps_operation", "operation_id", "seq"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.JSON),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

evidence = sa.Table(
    "evidence",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("operation_id", sa.Integer),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Index("ix_evidence_target_kind", "target", "kind"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

ports = sa.Table(
    "ports",
    metadata,
    sa.Column("port", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.UniqueConstraint("owner", "purpose", name="uq_ports_owner_purpose"),
)

probe_results = sa.Table(
    "probe_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("checks", sa.JSON, nullable=False),
    sa.Index("ix_probe_results_target_ts", "target", "ts"),
)

probe_latest = sa.Table(  # the newest row of probe_results per target
    "probe_latest",
    metadata,
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("checks", sa.JSON, nullable=False),
)

release_events = sa.Table(
    "release_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # install | upgrade | rollback | request | approval | gate
    sa.Column("release", sa.String(64), nullable=True),
    sa.Column("from_release", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("duration_s", sa.Float, nullable=True),
    sa.Column("downtime_s", sa.Float, nullable=True),
    sa.Column("operation_id", sa.Integer, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_release_events_target", "target", "id"),
)

# Temporary artifacts (scratch databases, sandboxes, staged filestores) and compound transitions
# (a database/filestore swap) registered *before* they are created, so whatever a killed operation
# leaves behind is found, reported and removed (or rolled forward) by the next run.
temporaries = sa.Table(
    "temporaries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),  # database | directory | filestore | swap | process | role
    sa.Column("location", sa.String(255), nullable=False),  # cluster name (database, swap) or "" (directory)
    sa.Column("name", sa.Text, nullable=False),  # database name, absolute directory path or filestore reference
    sa.Column("target", sa.String(128), nullable=False),  # the environment it belongs to
    sa.Column("purpose", sa.String(32), nullable=False),  # restore | clone | import | verify | create | …
    sa.Column("operation_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_temporaries_target", "target"),
)

# Leases (store/leases.py): one row per held lock, naming its holder. On SQLite the row *is* the lock
# (taken by compare-and-set, renewed by a heartbeat, free once expired or once its local holder is
# gone); on PostgreSQL an advisory lock is, and the row only says who holds it.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("token", sa.String(32), nullable=False),  # this hold's own id (release and renew only your own)
    sa.Column("holder", sa.Text, nullable=False),  # what the holder does, for messages
    sa.Column("operation_id", sa.Integer, nullable=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("boot_id", sa.String(128), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),  # None on PostgreSQL
)

# Scheduled work claimed once per fire time (store/claims.py): two workers of one estate see the
# same job due; the one whose row goes in runs it. A claim is "done" once the job succeeded; a failed
# job's claim is withdrawn (the next tick tries again) and a dead claimant's is taken over.
claims = sa.Table(
    "claims",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(200), nullable=False),  # "backup acme/prod", "verify acme/prod", …
    sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),  # the scheduled time (UTC)
    sa.Column("state", sa.String(16), nullable=False),  # claimed | done
    sa.Column("token", sa.String(32), nullable=False),
    sa.Column("claimed_by", sa.String(255), nullable=False),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("boot_id", sa.String(128), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("job", "fire_at", name="uq_claims_job_fire_at"),
)

# Identity and access (store/identity.py): users and API tokens. A token is stored as the SHA-256 of
# its secret (high-entropy, so a fast hash is enough), a password as an scrypt hash; neither is
# ever stored or shown in the clear.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("os_user", sa.String(64), nullable=True, unique=True),  # the CLI's local user it maps
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),  # the first characters, to recognise it
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
)

# Dashboard sessions (store/identity.py): the cookie's SHA-256 (never the cookie), whose session it
# is, the CSRF token its forms carry, how it signed in (password | oidc), and when it ends.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("via", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
)

# Guardrail waivers (store/waivers.py): asked for by one person, in force once another approved it
# (separation of duties), until it expires or is revoked.
waivers = sa.Table(
    "waivers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),  # tenant/env, tenant/* or *
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("requested_by", sa.String(128), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("approved_by", sa.String(128), nullable=True),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String(128), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

# Usage metering (store/usage.py): per hour and target (an environment, or pool:<name>), the sum of
# the samples taken in it and the growth of the counters; the counters' last readings apart.
usage_hours = sa.Table(
    "usage_hours",
    metadata,
    sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("cpu_cores_sum", sa.Float, nullable=False),  # Σ of the cores sampled
    sa.Column("memory_bytes_sum", sa.Float, nullable=False),  # Σ of the resident memory sampled
    sa.Column("storage_bytes", sa.BigInteger, nullable=False),  # database + filestore, last sampled
    sa.Column("requests", sa.Float, nullable=False),  # through the edge, in the hour
    sa.Column("db_active_ms", sa.Float, nullable=False),  # PostgreSQL's active time of its database
    sa.Column("egress_bytes", sa.Float, nullable=False),  # response bytes through the edge
)

usage_counters = sa.Table(
    "usage_counters",
    metadata,
    sa.Column("key", sa.String(160), primary_key=True),  # <target>|<counter>
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# Rollouts (store/rollouts.py): a wave's phase changes and sign-offs, and cutover rehearsals.
rollout_events = sa.Table(
    "rollout_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rollout", sa.String(64), nullable=False),
    sa.Column("wave", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # phase | signoff
    sa.Column("phase", sa.String(32), nullable=False),  # the phase it happened in (phase: the new one)
    sa.Column("item", sa.String(64), nullable=True),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("detail", sa.JSON, nullable=True),
)

# Sleeping non-production (store/sleeping.py): each environment's sleep and wake, and wake requests.
sleep_events = sa.Table(
    "sleep_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # asleep | awake | wake-requested
    sa.Column("until", sa.DateTime(timezone=True), nullable=True),  # wake-requested: awake until then
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Index("ix_sleep_events_target", "target", "id"),
)
