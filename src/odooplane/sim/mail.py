"""``mail.mail`` over RPC: ``create`` and ``send`` — the one write path the simulator offers, so that
a test can prove where a database's outgoing mail goes, the same way on real Odoo (XML-RPC
``execute_kw(db, uid, pw, 'mail.mail', 'create', [vals])`` then ``'send', [[id]]``).

The server is chosen as ``ir.mail_server.connect`` does: the mail's own ``mail_server_id``, else the
first active ``ir_mail_server`` by sequence, else odoo.conf ``smtp_server``/``smtp_port`` (default
``localhost:25``). A failed delivery leaves the mail in state ``exception`` with the reason.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

from odooplane.sim.config import Config
from odooplane.sim.database import Connection, execute
from odooplane.sim.exceptions import UserError

FIELDS = ("subject", "email_from", "email_to", "body_html", "mail_server_id")


def table_exists(conn: Connection) -> bool:
    row = execute(conn, "SELECT to_regclass('mail_mail') IS NOT NULL").fetchone()
    return bool(row and row[0])


def create(conn: Connection, uid: int, values: dict[str, Any]) -> int:
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise UserError(f"Invalid field {unknown[0]!r} on model 'mail.mail'")
    row = execute(conn, """
        INSERT INTO mail_mail (subject, email_from, email_to, body_html, mail_server_id, state,
                               create_uid, create_date, write_uid, write_date)
        VALUES (%s, %s, %s, %s, %s, 'outgoing', %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')
        RETURNING id""", [values.get("subject") or "", values.get("email_from") or "odoo@localhost",
                          values.get("email_to") or "", values.get("body_html") or "",
                          values.get("mail_server_id") or None, uid, uid]).fetchone()
    assert row is not None
    return int(row[0])


def _server(conn: Connection, config: Config, server_id: int | None) -> tuple[str, int]:
    query = "SELECT smtp_host, smtp_port FROM ir_mail_server WHERE active = true"
    params: list[Any] = []
    if server_id:
        query, params = "SELECT smtp_host, smtp_port FROM ir_mail_server WHERE id = %s", [server_id]
    row = execute(conn, query + " ORDER BY sequence NULLS LAST, id LIMIT 1", params).fetchone()
    if row:
        return str(row[0]), int(row[1] or 25)
    return str(config.get("smtp_server") or "localhost"), int(config.get("smtp_port") or 25)


def send(conn: Connection, config: Config, ids: list[int]) -> bool:
    for mail_id in ids:
        row = execute(conn, "SELECT subject, email_from, email_to, body_html, mail_server_id FROM mail_mail "
                            "WHERE id = %s AND state IN ('outgoing', 'exception')", [mail_id]).fetchone()
        if row is None:
            continue
        subject, sender, recipients, body, server_id = row
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, sender, recipients
        message.set_content(str(body or ""))
        host, port = _server(conn, config, server_id)
        try:
            with smtplib.SMTP(host, port, timeout=10) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            execute(conn, "UPDATE mail_mail SET state = 'exception', failure_reason = %s WHERE id = %s",
                    [f"{host}:{port}: {exc}", mail_id])
            continue
        execute(conn, "UPDATE mail_mail SET state = 'sent', failure_reason = NULL WHERE id = %s", [mail_id])
    return True
