"""``odooplane users …`` and ``odooplane tokens …``: who may use the service and the CLI."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer
from rich.table import Table

from odooplane.cli.output import console, err, errors, print_json

users_app = typer.Typer(help="Users of the dashboard, the API and the CLI: their role and scope.",
                        no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: scoped, expiring, revocable; the secret is shown once.",
                         no_args_is_help=True)
ESTATE = typer.Option(None, "--estate", "-f", help="Estate file (default: the last applied).")
ROLE = typer.Option(..., "--role", "-r", help="One role (see `odooplane users roles`).")
SCOPE = typer.Option(None, "--scope", "-s",
                     help="key=value, repeatable: tenant, environment, stage, pool or a label (business_unit, "
                          "brand, site, cost_centre, tier, compliance). Same key: any of; different keys: all of. "
                          "None: the whole estate.")


def _when(value: dt.datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise typer.BadParameter("the password read from stdin must have at least 12 characters",
                                 param_hint="--password-stdin")
    return password


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="User name (lowercase)."),
    role: str = ROLE,
    scope: list[str] = SCOPE,
    os_user: str = typer.Option(None, "--os-user", help="The local OS user the CLI maps to this user."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read a password for the dashboard "
                                        "login from stdin (none: the user logs in through OIDC only)."),
    estate: Path = ESTATE,
    as_json: bool = typer.Option(False, "--json", help="Print the user as JSON."),
) -> None:
    """Add a user with one role and an optional scope."""
    from odooplane.actions import access as action

    password = _password(password_stdin)
    with errors():
        ctx, me = action.cli_context(estate)
        try:
            row = action.add_user(ctx, me, name=name, role=role, scopes=list(scope or []), os_user=os_user,
                                  password=password)
        finally:
            ctx.close()
    if as_json:
        print_json(row.__dict__)
    else:
        console.print(f"added user {row.name}: {row.role}, scope {' '.join(row.scopes) or 'the whole estate'}")


@users_app.command("password")
def users_password(
    name: str = typer.Argument(..., help="User name."),
    estate: Path = ESTATE,
) -> None:
    """Set a user's dashboard password, read from stdin (at least 12 characters)."""
    from odooplane.actions import access as action

    password = _password(True)
    assert password is not None
    with errors():
        ctx, me = action.cli_context(estate)
        try:
            action.set_password(ctx, me, name, password)
        finally:
            ctx.close()
    console.print(f"password of {name} set")


@users_app.command("remove")
def users_remove(name: str = typer.Argument(..., help="User name."), estate: Path = ESTATE) -> None:
    """Remove a user (their tokens stay until revoked; the audit log keeps what they did)."""
    from odooplane.actions import access as action

    with errors():
        ctx, me = action.cli_context(estate)
        try:
            action.remove_user(ctx, me, name)
        finally:
            ctx.close()
    console.print(f"removed user {name}")


@users_app.command("list")
def users_list(estate: Path = ESTATE, as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Users with their role, scope, OS user and last login."""
    from odooplane.actions import access as action

    with errors():
        ctx, me = action.cli_context(estate)
        try:
            rows = action.list_users(ctx, me)
        finally:
            ctx.close()
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    table = Table()
    for column in ("user", "role", "scope", "os user", "password", "created", "last login"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r.name, r.role, " ".join(r.scopes) or "(all)", r.os_user or "-", "yes" if r.has_password else "-",
                      _when(r.created_at), _when(r.last_login_at))
    console.print(table)


@users_app.command("roles")
def users_roles(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """The roles and the rights each grants."""
    from odooplane import access

    if as_json:
        print_json({role: {"summary": access.ROLE_SUMMARY[role], "rights": sorted(rights)}
                    for role, rights in access.ROLES.items()})
        return
    table = Table()
    for column in ("role", "what it is for", "rights"):
        table.add_column(column, overflow="fold")
    for role, rights in access.ROLES.items():
        table.add_row(role, access.ROLE_SUMMARY[role], ", ".join(r for r in access.RIGHTS if r in rights))
    console.print(table)


@tokens_app.command("create")
def tokens_create(
    name: str = typer.Argument(..., help="Token name (lowercase), e.g. the system that uses it."),
    role: str = ROLE,
    scope: list[str] = SCOPE,
    expires: str = typer.Option("90d", "--expires", help="Lifetime (30d, 12h, …) or `never`."),
    estate: Path = ESTATE,
    as_json: bool = typer.Option(False, "--json", help="Print the token (with its secret) as JSON."),
) -> None:
    """Create an API token and print its secret — the only time it is shown."""
    from odooplane.actions import access as action

    with errors():
        ctx, me = action.cli_context(estate)
        try:
            row, secret = action.create_token(ctx, me, name=name, role=role, scopes=list(scope or []),
                                              expires=expires)
        finally:
            ctx.close()
    if as_json:
        print_json({**row.__dict__, "secret": secret})
        return
    err.print(f"token {row.name}: {row.role}, scope {' '.join(row.scopes) or 'the whole estate'}, "
              f"expires {_when(row.expires_at) if row.expires_at else 'never'}. Its secret (shown once):")
    sys.stdout.write(secret + "\n")


@tokens_app.command("list")
def tokens_list(estate: Path = ESTATE, as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Tokens (never their secret): role, scope, state, expiry, last use."""
    from odooplane.actions import access as action
    from odooplane.clock import current

    with errors():
        ctx, me = action.cli_context(estate)
        try:
            rows = action.list_tokens(ctx, me)
        finally:
            ctx.close()
    at = current().now()
    if as_json:
        print_json([{**r.__dict__, "state": r.state(at)} for r in rows])
        return
    table = Table()
    for column in ("token", "prefix", "role", "scope", "state", "expires", "last used", "created by"):
        table.add_column(column, overflow="fold")
    for r in rows:
        state = r.state(at)
        table.add_row(r.name, r.prefix + "…", r.role, " ".join(r.scopes) or "(all)",
                      "[green]active[/]" if state == "active" else f"[red]{state}[/]",
                      _when(r.expires_at) if r.expires_at else "never", _when(r.last_used_at), r.created_by)
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(name: str = typer.Argument(..., help="Token name."), estate: Path = ESTATE) -> None:
    """Revoke a token at once (kept in the list, for the record)."""
    from odooplane.actions import access as action

    with errors():
        ctx, me = action.cli_context(estate)
        try:
            action.revoke_token(ctx, me, name)
        finally:
            ctx.close()
    console.print(f"revoked token {name}")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
