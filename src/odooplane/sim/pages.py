"""The HTML pages the simulator renders (login, database selector, web client shell).

They carry what clients and tests look for in real Odoo pages: the ``Odoo``
title, the login form's ``csrf_token``/``login``/``password``/``redirect``
fields, the ``Wrong login/password`` alert, and the database manager's
"disabled by the administrator" alert when ``list_db`` is off.  They are not
Odoo's QWeb templates.
"""

from __future__ import annotations

from html import escape

_HEAD = ('<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<meta charset="utf-8"/>\n<title>Odoo</title>\n'
         '<meta name="generator" content="Odoo"/>\n</head>\n')


def login_page(*, csrf_token: str, login: str = "", redirect: str = "", error: str = "", databases: list[str] | None,
               db: str, list_db: bool) -> str:
    """The ``web.login`` page."""
    alert = f'<p class="alert alert-danger" role="alert">{escape(error)}</p>\n' if error else ""
    selector = ""
    if databases is not None and list_db:
        selector = (f'<div class="o_database_list"><span class="input-group-text">Database</span>'
                    f'<a href="/web/database/selector" class="btn">{escape(db)}</a></div>\n')
    manager = "" if list_db else '<!-- database manager disabled (list_db = False) -->\n'
    return (f'{_HEAD}<body class="oe_single_form">\n<main class="o_database_list">\n'
            f'<form class="oe_login_form" role="form" action="/web/login" method="post">\n'
            f'<input type="hidden" name="csrf_token" value="{escape(csrf_token)}"/>\n{selector}'
            f'<label for="login">Email</label>\n'
            f'<input type="text" name="login" id="login" value="{escape(login)}" required="required" '
            f'autocapitalize="off" autocomplete="username"/>\n'
            f'<label for="password">Password</label>\n'
            f'<input type="password" name="password" id="password" required="required" '
            f'autocomplete="current-password"/>\n{alert}'
            f'<input type="hidden" name="redirect" value="{escape(redirect)}"/>\n'
            f'<button type="submit" class="btn btn-primary">Log in</button>\n</form>\n{manager}'
            f'<a href="https://www.odoo.com?utm_source=db&amp;utm_medium=auth" target="_blank">'
            f'Powered by <span>Odoo</span></a>\n</main>\n</body>\n</html>\n')


def database_manager(*, databases: list[str], list_db: bool, manage: bool, error: str = "") -> str:
    """The ``database_manager`` page (selector when ``manage`` is false)."""
    parts = [f'{_HEAD}<body>\n<div class="container">\n']
    if error:
        parts.append(f'<div class="alert alert-danger">{escape(error)}</div>\n')
    if not list_db:
        parts.append('<div class="alert alert-danger text-center">The database manager has been disabled by the '
                     'administrator</div>\n')
    if list_db and databases:
        parts.append('<div class="list-group">\n')
        for name in databases:
            parts.append(f'<a href="/odoo?db={escape(name)}" class="list-group-item">{escape(name)}</a>\n')
        parts.append("</div>\n")
        if manage:
            parts.append('<div class="o_database_actions">backup duplicate drop</div>\n')
        else:
            parts.append('<a href="/web/database/manager">Manage databases</a>\n')
    elif list_db:
        parts.append('<div class="alert alert-info">No databases yet</div>\n')
    parts.append("</div>\n</body>\n</html>\n")
    return "".join(parts)


def webclient(*, db: str, uid: int, name: str) -> str:
    """A stand-in for ``web.webclient_bootstrap``."""
    return (f'{_HEAD}<body class="o_web_client">\n<script type="text/javascript">odoo.__session_info__ = '
            f'{{"uid": {uid}, "db": "{escape(db)}"}};</script>\n'
            f'<div class="o_main_navbar">{escape(name)}</div>\n</body>\n</html>\n')
