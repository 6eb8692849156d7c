"""The fire time of each scheduled job: every worker reading the same history names the same one,
so a job is claimed once per fire time (store/claims.py)."""

from __future__ import annotations

import datetime as dt

from odooplane.estate.models import BackupPolicy
from odooplane.planner.schedule import History, backup_due, backup_due_at, verification_due, verification_due_at

UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2031, 3, day, hour, minute, tzinfo=UTC)


def test_a_due_backup_is_named_by_the_scheduled_time_it_answers() -> None:
    policy = BackupPolicy(schedule="0 2 * * *")
    never = History(last_backup=None, last_verification=None)
    assert backup_due_at(policy, never, at(2, 2, 30)) == at(2, 2)
    assert backup_due_at(policy, never, at(2, 23, 59)) == at(2, 2), "the same fire time all day long"
    done = History(last_backup=at(2, 2, 1), last_verification=None)
    assert backup_due_at(policy, done, at(2, 23)) is None and not backup_due(policy, done, at(2, 23))
    assert backup_due_at(policy, done, at(3, 2, 0)) == at(3, 2)
    assert backup_due_at(BackupPolicy(schedule=None), never, at(3, 2)) is None


def test_a_due_verification_is_named_by_the_backup_it_proves_or_the_end_of_its_interval() -> None:
    weekly, each = BackupPolicy(verify="weekly"), BackupPolicy(verify="after-each")
    first = History(last_backup=at(2, 2, 1), last_verification=None)
    assert verification_due_at(weekly, first, at(2, 3)) == at(2, 2, 1)
    verified = History(last_backup=at(3, 2, 1), last_verification=at(2, 3))
    assert verification_due_at(weekly, verified, at(9, 2, 59)) is None
    assert not verification_due(weekly, verified, at(9, 2, 59))
    assert verification_due_at(weekly, verified, at(9, 4)) == at(9, 3)
    assert verification_due_at(each, verified, at(3, 3)) == at(3, 2, 1)
    assert verification_due_at(BackupPolicy(verify="never"), first, at(9, 4)) is None
