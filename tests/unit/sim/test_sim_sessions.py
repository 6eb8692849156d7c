"""File sessions, session tokens and CSRF tokens."""

from __future__ import annotations

import os
import time
from pathlib import Path

from odooplane.sim import sessions
from odooplane.sim.sessions import SessionStore


def test_keys_are_84_urlsafe_characters() -> None:
    key = SessionStore.generate_key()
    assert len(key) == 84
    assert SessionStore.is_valid_key(key)
    assert not SessionStore.is_valid_key("../" + key[3:])


def test_sessions_are_files_under_data_dir_sessions(tmp_path: Path) -> None:
    store = SessionStore(str(tmp_path))
    session = store.new()
    session["db"] = "acme"
    session["uid"] = 2
    store.save(session)
    assert os.path.isfile(tmp_path / session.sid[:2] / session.sid)
    loaded = SessionStore(str(tmp_path)).get(session.sid)
    assert loaded.db == "acme"
    assert loaded.uid == 2
    assert not loaded.is_new


def test_unknown_valid_id_keeps_its_sid(tmp_path: Path) -> None:
    store = SessionStore(str(tmp_path))
    sid = store.generate_key()
    session = store.get(sid)
    assert session.sid == sid
    assert session.db is None


def test_invalid_id_gets_a_new_session(tmp_path: Path) -> None:
    assert SessionStore(str(tmp_path)).get("../../etc/passwd").sid != "../../etc/passwd"


def test_rotation_changes_the_id_and_removes_the_old_file(tmp_path: Path) -> None:
    store = SessionStore(str(tmp_path))
    session = store.new()
    store.save(session)
    old = session.sid
    store.rotate(session)
    assert session.sid != old
    assert not os.path.exists(tmp_path / old[:2] / old)
    assert os.path.exists(tmp_path / session.sid[:2] / session.sid)


def test_logout_keeps_the_database_only_when_asked() -> None:
    session = sessions.Session(sid="x")
    session["db"], session["uid"] = "acme", 2
    session.logout(keep_db=True)
    assert (session.db, session.uid, session.should_rotate) == ("acme", None, True)
    session.logout()
    assert session.db is None


def test_csrf_token_is_bound_to_session_and_secret() -> None:
    token = sessions.csrf_token("sid1", "secret")
    assert sessions.validate_csrf(token, "sid1", "secret")
    assert not sessions.validate_csrf(token, "sid2", "secret")
    assert not sessions.validate_csrf(token, "sid1", "other")
    assert not sessions.validate_csrf(None, "sid1", "secret")


def test_expired_csrf_token_is_refused() -> None:
    expired = sessions.csrf_token("sid", "secret", time_limit=-10)
    assert int(expired.rpartition("o")[2]) < time.time()
    assert not sessions.validate_csrf(expired, "sid", "secret")


def test_session_token_changes_with_password_and_secret() -> None:
    row = (True, 2, "admin", "$pbkdf2-sha512$1$a$b")
    token = sessions.session_token("sid", user_row=row, secret="s1")
    assert token == sessions.session_token("sid", user_row=row, secret="s1")
    assert token != sessions.session_token("sid", user_row=(*row[:3], "other"), secret="s1")
    assert token != sessions.session_token("sid", user_row=row, secret="s2")
