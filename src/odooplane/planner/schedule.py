"""What the worker has to do now (pure): backups whose scheduled time has passed since the last
successful one, restore verifications that are due by policy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from odooplane.estate import cron
from odooplane.estate.models import BackupPolicy

VERIFY_EVERY = {"daily": dt.timedelta(days=1), "weekly": dt.timedelta(days=7)}


@dataclass(frozen=True)
class History:
    last_backup: dt.datetime | None  # newest successful scheduled (or any) backup
    last_verification: dt.datetime | None  # newest restore verification, passed or not


def backup_due(policy: BackupPolicy, history: History, now: dt.datetime) -> bool:
    """Due when the newest scheduled time at or before ``now`` has no successful backup after it
    (a new environment is therefore backed up at the first tick, then on schedule)."""
    return backup_due_at(policy, history, now) is not None


def backup_due_at(policy: BackupPolicy, history: History, now: dt.datetime) -> dt.datetime | None:
    """The scheduled time whose backup is due now (None: none is) — the fire time workers claim."""
    if policy.schedule is None:
        return None
    fire = cron.last_at_or_before(cron.parse(policy.schedule), now, policy.timezone)
    if fire is None:
        return None
    return fire if history.last_backup is None or history.last_backup < fire else None


def verification_due(policy: BackupPolicy, history: History, now: dt.datetime) -> bool:
    return verification_due_at(policy, history, now) is not None


def verification_due_at(policy: BackupPolicy, history: History, now: dt.datetime) -> dt.datetime | None:
    """When the verification due now fell due (None: none is): the time of the backup to verify, or
    the last verification plus the policy's interval. Every worker reading the same history gets the
    same time, so it names the job's fire time."""
    if policy.verify == "never" or history.last_backup is None:
        return None
    if history.last_verification is None:
        return history.last_backup
    if policy.verify == "after-each":
        return history.last_backup if history.last_verification < history.last_backup else None
    fell_due = history.last_verification + VERIFY_EVERY[policy.verify]
    return fell_due if now >= fell_due else None


def next_backup(policy: BackupPolicy, now: dt.datetime) -> dt.datetime | None:
    if policy.schedule is None:
        return None
    return cron.next_after(cron.parse(policy.schedule), now, policy.timezone)
