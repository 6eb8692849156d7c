"""What the platform guarantees about every non-production copy of an Odoo database, whatever
Odoo's own ``neutralize`` did (series 16-19; 14-15 have no ``neutralize`` command at all).

:func:`enforce` makes a database safe in one transaction; :func:`verify` checks it, fail-closed,
one query per guarantee. Both read the schema first (``information_schema``) and only touch
tables and columns that exist, so a database with few modules installed is handled like one
with many. The statements follow Odoo 18's ``*/data/neutralize.sql`` files (quoted in
docs/neutralization.md) and go further where Odoo stops: API keys, passkeys, OAuth tokens, mail
server credentials and the credentials Odoo's files forget are removed, and outgoing mail goes
to a catcher instead of nowhere.

Failure messages name records, never the secret values they hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from odooplane.errors import PermanentError, TemporaryError
from odooplane.services.postgres import ClusterConn, connect

Conn = psycopg.Connection[tuple[object, ...]]

CATCHER_NAME = "Odooplane mail catcher"
NEUTRALIZED_KEY = "database.is_neutralized"
WEBHOOK_PLACEHOLDER = "neutralization - disable webhook"  # base/data/neutralize.sql
ODOO_DUMMY_SERVER = "neutralization - disable emails"  # the server Odoo's neutralize adds
SUPPORTED_SERIES = range(14, 20)

# Values Odoo's neutralize.sql files write instead of a credential: a column holding one of
# these (or nothing) holds no secret.
PLACEHOLDERS = ("", "dummy", "dummy_value", "dummysecret", "dummytoken", "dummykey00012345")

# Tables without which a database is not an Odoo database (base, every series since 14).
CORE_TABLES = ("ir_config_parameter", "ir_mail_server", "ir_cron", "ir_model_data", "res_users",
               "res_users_apikeys")

# -- what is a credential, per table ------------------------------------------------------------
# Explicit column names, taken from the community and enterprise modules' fields and
# neutralize.sql files; a column that does not exist is skipped. Cleared = NULL, or '' when the
# column is NOT NULL.

MAIL_SERVER_SECRETS = (
    "smtp_user", "smtp_pass", "smtp_ssl_certificate", "smtp_ssl_private_key",
    # google_gmail / microsoft_outlook (OAuth mail servers)
    "google_gmail_authorization_code", "google_gmail_refresh_token", "google_gmail_access_token",
    "microsoft_outlook_refresh_token", "microsoft_outlook_access_token",
)
FETCHMAIL_SECRETS = (
    "password", "google_gmail_authorization_code", "google_gmail_refresh_token", "google_gmail_access_token",
    "microsoft_outlook_refresh_token", "microsoft_outlook_access_token",
)
# payment_provider (16+) / payment_acquirer (14-15): cleared on every provider that is disabled.
PAYMENT_SECRETS = (
    # 18 community (payment_*/data/neutralize.sql, plus what those files forget: adyen_client_key,
    # paypal_access_token, xendit_public_key)
    "adyen_merchant_account", "adyen_api_key", "adyen_client_key", "adyen_hmac_key",
    "aps_merchant_identifier", "aps_access_code", "aps_sha_request", "aps_sha_response",
    "asiapay_merchant_id", "asiapay_secure_hash_secret",
    "authorize_login", "authorize_transaction_key", "authorize_signature_key", "authorize_client_key",
    "buckaroo_website_key", "buckaroo_secret_key",
    "flutterwave_public_key", "flutterwave_secret_key", "flutterwave_webhook_secret",
    "mercado_pago_access_token",
    "mollie_api_key",
    "paypal_email_account", "paypal_client_id", "paypal_client_secret", "paypal_access_token",
    "razorpay_key_id", "razorpay_key_secret", "razorpay_webhook_secret",
    "stripe_publishable_key", "stripe_secret_key", "stripe_webhook_secret",
    "worldline_pspid", "worldline_api_key", "worldline_api_secret", "worldline_webhook_key",
    "worldline_webhook_secret",
    "xendit_public_key", "xendit_secret_key", "xendit_webhook_token",
    # providers of older series (14-16)
    "paypal_seller_account", "paypal_pdt_token",
    "ogone_pspid", "ogone_userid", "ogone_password", "ogone_shakey_in", "ogone_shakey_out",
    "sips_merchant_id", "sips_secret",
    "alipay_merchant_partner_id", "alipay_md5_signature_key", "alipay_seller_email",
    "payulatam_merchant_id", "payulatam_account_id", "payulatam_api_key",
    "payumoney_merchant_key", "payumoney_merchant_salt",
)
# delivery_carrier: the enterprise connectors' credentials (delivery_*/data/neutralize.sql, plus
# ups_access_number and fedex_account_number, which those files forget).
DELIVERY_SECRETS = (
    "bpost_account_number", "bpost_developer_password",
    "dhl_SiteID", "dhl_account_number", "dhl_password",
    "easypost_production_api_key",
    "fedex_developer_key", "fedex_developer_password", "fedex_account_number",
    "sendcloud_public_key", "sendcloud_secret_key",
    "shiprocket_email", "shiprocket_access_token", "shiprocket_password",
    "starshipit_api_key", "starshipit_subscription_key",
    "ups_username", "ups_passwd", "ups_access_number",
    "ups_shipper_number", "ups_client_id", "ups_client_secret", "ups_access_token",
    "usps_username",
)
OTHER_SECRETS: dict[str, tuple[str, ...]] = {
    # auth_oauth: the provider's secret (no such column in 18 community) and users' access tokens
    "auth_oauth_provider": ("client_secret",),
    "res_users": ("oauth_access_token", "microsoft_calendar_token", "microsoft_calendar_rtoken"),
    # google_calendar / microsoft_calendar
    "res_users_settings": ("google_calendar_rtoken", "google_calendar_token", "microsoft_calendar_sync_token"),
    # l10n_*_edi
    "res_company": (
        "l10n_eg_client_secret",
        "l10n_hu_edi_username", "l10n_hu_edi_password", "l10n_hu_edi_signature_key", "l10n_hu_edi_replacement_key",
        "l10n_in_edi_username", "l10n_in_edi_password", "l10n_in_edi_token",
        "l10n_in_edi_ewaybill_username", "l10n_in_edi_ewaybill_password",
        "l10n_ro_edi_client_id", "l10n_ro_edi_client_secret", "l10n_ro_edi_access_token",
        "l10n_ro_edi_refresh_token",
        "l10n_vn_edi_username", "l10n_vn_edi_password",
        "l10n_ke_cu_proxy_address",
    ),
    # pos_* payment terminals
    "pos_payment_method": ("mp_bearer_token", "mp_webhook_secret_key", "paytm_merchant_key", "razorpay_api_key"),
    # website_sale_autocomplete
    "website": ("google_places_api_key",),
}

# ir_config_parameter keys that hold credentials or keys (mail, cloud_storage*): deleted.
SECRET_PARAMETERS = (
    "mail.web_push_vapid_private_key", "mail.web_push_vapid_public_key", "mail.sfu_server_key",
    "cloud_storage_provider",
    "cloud_storage_azure_account_name", "cloud_storage_azure_container_name", "cloud_storage_azure_tenant_id",
    "cloud_storage_azure_client_id", "cloud_storage_azure_client_secret",
    "cloud_storage_google_bucket_name", "cloud_storage_google_account_info",
)


@dataclass(frozen=True)
class Flag:
    """A switch between a production and a test mode: ``column`` must not be ``unsafe`` (or,
    with ``unsafe`` None, must be ``safe``)."""

    table: str
    column: str
    safe: bool | str
    unsafe: bool | str | None = None


FLAGS = (
    Flag("delivery_carrier", "prod_environment", False, True),
    Flag("res_company", "l10n_eg_production_env", False, True),
    Flag("res_company", "l10n_in_edi_production_env", False, True),
    Flag("res_company", "l10n_ro_edi_test_env", True),
    Flag("res_company", "l10n_hu_edi_server_mode", "test", "production"),
    Flag("pos_payment_method", "adyen_test_mode", True),
    Flag("pos_payment_method", "paytm_test_mode", True),
    Flag("pos_payment_method", "razorpay_test_mode", True),
    Flag("pos_payment_method", "viva_wallet_test_mode", True),
    Flag("res_users_settings", "google_synchronization_stopped", True),
    Flag("res_users_settings", "microsoft_synchronization_stopped", True),
)

PAYMENT_TABLES = ("payment_provider", "payment_acquirer")  # 16+, 14-15
# Rows deleted outright: API keys, 2FA trusted devices (same table layout), passkeys, web push.
DELETED_TABLES = ("res_users_apikeys", "auth_totp_device", "auth_passkey_key", "mail_push", "mail_push_device")

_TABLES = sorted({
    *CORE_TABLES, *PAYMENT_TABLES, *DELETED_TABLES, *OTHER_SECRETS, *(f.table for f in FLAGS),
    "fetchmail_server", "delivery_carrier", "iap_account", "auth_oauth_provider", "ir_act_server",
    "mail_template", "mail_mail", "ir_ui_view",
})


@dataclass(frozen=True)
class Column:
    data_type: str
    nullable: bool


class Schema:
    """The columns of the tables neutralization cares about, read once."""

    def __init__(self, conn: Conn) -> None:
        self.tables: dict[str, dict[str, Column]] = {}
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s)", (_TABLES,),
        ).fetchall()
        for table, column, data_type, nullable in rows:
            self.tables.setdefault(str(table), {})[str(column)] = Column(str(data_type), str(nullable) == "YES")

    def has(self, table: str, *columns: str) -> bool:
        present = self.tables.get(table)
        return present is not None and all(c in present for c in columns)

    def present(self, table: str, columns: Iterable[str]) -> list[str]:
        have = self.tables.get(table, {})
        return [c for c in columns if c in have]


@dataclass(frozen=True)
class EnforceReport:
    database: str
    series_major: int
    catcher_id: int
    changes: dict[str, int] = field(default_factory=dict)  # what was done -> rows affected
    absent: tuple[str, ...] = ()  # tables of modules that are not installed

    def summary(self) -> str:
        done = ", ".join(f"{what}: {count}" for what, count in self.changes.items() if count)
        return f"{self.database}: catcher #{self.catcher_id}; {done or 'nothing else to change'}"


def _ident(*names: str) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _int(value: object) -> int:
    return int(str(value))


def _rowcount(conn: Conn, query: str | sql.SQL | sql.Composed, params: tuple[object, ...] | None = None) -> int:
    return max(conn.execute(query, params).rowcount, 0)


def _clear_value(column: Column) -> sql.Composable | None:
    """NULL, or '' for a NOT NULL text column; None if the column cannot be cleared."""
    if column.nullable:
        return sql.SQL("NULL")
    if column.data_type in ("character varying", "text", "character"):
        return sql.Literal("")
    if column.data_type == "bytea":
        return sql.SQL("''::bytea")
    return None


def _holds_secret(column: str, info: Column) -> sql.Composable:
    """A predicate true when ``column`` holds something other than nothing or a placeholder."""
    name = sql.Identifier(column)
    if info.data_type == "bytea":
        return sql.SQL("({} IS NOT NULL AND length({}) > 0)").format(name, name)
    if info.data_type in ("character varying", "text", "character"):
        return sql.SQL("({} IS NOT NULL AND {} NOT IN ({}))").format(
            name, name, sql.SQL(", ").join(sql.Literal(p) for p in PLACEHOLDERS))
    return sql.SQL("({} IS NOT NULL)").format(name)


def _clear_secrets(conn: Conn, schema: Schema, table: str, columns: Iterable[str],
                   where: sql.Composable = sql.SQL("TRUE")) -> int:
    present = schema.present(table, columns)
    assignments: list[sql.Composable] = []
    predicates: list[sql.Composable] = []
    for column in present:
        info = schema.tables[table][column]
        value = _clear_value(info)
        if value is None:
            continue
        assignments.append(sql.SQL("{} = {}").format(sql.Identifier(column), value))
        predicates.append(_holds_secret(column, info))
    if not assignments:
        return 0
    return _rowcount(conn, sql.SQL("UPDATE {} SET {} WHERE ({}) AND ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(assignments), where, sql.SQL(" OR ").join(predicates)))


_AUTOVACUUM = ("SELECT res_id FROM ir_model_data WHERE model = 'ir.cron' AND module = 'base' "
               "AND name = 'autovacuum_job' AND res_id IS NOT NULL")


def _set_parameter(conn: Conn, schema: Schema, key: str, value: str) -> int:
    dates = schema.has("ir_config_parameter", "write_date")
    stamp = sql.SQL(", write_date = now() at time zone 'UTC'") if dates else sql.SQL("")
    updated = _rowcount(conn, sql.SQL("UPDATE ir_config_parameter SET value = %s{} WHERE key = %s").format(stamp),
                        (value, key))
    if updated:
        return updated
    if dates and schema.has("ir_config_parameter", "create_date"):
        conn.execute("INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
                     "VALUES (%s, %s, now() at time zone 'UTC', now() at time zone 'UTC')", (key, value))
    else:
        conn.execute("INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", (key, value))
    return 1


def _upsert_catcher(conn: Conn, schema: Schema, host: str, port: int) -> tuple[int, bool]:
    """Create or update the one outgoing server the copy may use; return (id, created)."""
    wanted: dict[str, object] = {
        "name": CATCHER_NAME, "smtp_host": host, "smtp_port": port, "smtp_encryption": "none",
        # 'login' with no user is how Odoo sends without authenticating (what its own dummy uses)
        "smtp_authentication": "login", "smtp_user": None, "smtp_pass": None, "from_filter": None,
        "smtp_debug": False, "sequence": 1, "active": True,
    }
    values = {k: v for k, v in wanted.items() if schema.has("ir_mail_server", k)}
    row = conn.execute("SELECT id FROM ir_mail_server WHERE name = %s ORDER BY id LIMIT 1",
                       (CATCHER_NAME,)).fetchone()
    stamp = schema.has("ir_mail_server", "write_date")
    if row is not None:
        assignments: list[sql.Composable] = [
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in values]
        if stamp:
            assignments.append(sql.SQL("write_date = now() at time zone 'UTC'"))
        conn.execute(sql.SQL("UPDATE ir_mail_server SET {} WHERE id = %s").format(sql.SQL(", ").join(assignments)),
                     (*values.values(), row[0]))
        return _int(row[0]), False
    columns = list(values)
    placeholders: list[sql.Composable] = [sql.Placeholder()] * len(columns)
    if stamp and schema.has("ir_mail_server", "create_date"):
        columns += ["create_date", "write_date"]
        placeholders += [sql.SQL("now() at time zone 'UTC'")] * 2
    created = conn.execute(sql.SQL("INSERT INTO ir_mail_server ({}) VALUES ({}) RETURNING id").format(
        _ident(*columns), sql.SQL(", ").join(placeholders)), tuple(values.values())).fetchone()
    assert created is not None
    return _int(created[0]), True


def enforce(cluster: ClusterConn, database: str, *, smtp_host: str, smtp_port: int,
            series_major: int) -> EnforceReport:
    """Make ``database`` (a copy of production) unable to reach anything real, in one transaction.

    - every mail server inactive and without credentials, except ONE active server named
      :data:`CATCHER_NAME` pointing at ``smtp_host:smtp_port`` (no auth, no encryption);
      templates and queued mails no longer force another server;
    - ``database.is_neutralized`` = true; ``mail.catchall.domain``/``mail.default.from`` untouched;
    - every cron inactive except ``base.autovacuum_job`` (which is made active);
    - incoming mail servers inactive, passwords and OAuth tokens cleared;
    - webhook server actions pointed at Odoo's placeholder URL;
    - payment providers not in test disabled, and disabled providers' credentials cleared;
    - delivery carriers out of production mode, external connectors inactive, credentials cleared;
    - IAP tokens suffixed ``+disabled`` exactly like Odoo;
    - OAuth providers disabled, their secrets and users' access tokens cleared;
    - user API keys, 2FA trusted devices, passkeys, web push devices and keys deleted;
    - other known third-party credentials cleared and production switches turned off.

    ``series_major`` (14-19) is checked and recorded; what is done follows the schema actually
    present (``payment_acquirer`` before 16, webhook actions from 17, passkeys from 18, ...), so a
    series or module mix that this code has not seen is still handled column by column.

    Raise PermanentError if it is not an Odoo database, TemporaryError if a lock is held too long.
    """
    if series_major not in SUPPORTED_SERIES:
        raise PermanentError(f"neutralization: unsupported Odoo series {series_major}")
    if not smtp_host or not 0 < smtp_port < 65536:
        raise PermanentError(f"neutralization: invalid mail catcher address {smtp_host}:{smtp_port}")
    changes: dict[str, int] = {}
    try:
        with connect(cluster, database) as conn, conn.transaction():
            conn.execute("SET LOCAL lock_timeout = '15s'")
            schema = Schema(conn)
            missing = [t for t in CORE_TABLES if not schema.has(t)]
            if missing:
                raise PermanentError(f"{database} is not an Odoo database (no {', '.join(missing)})")
            catcher = _enforce_mail(conn, schema, changes, smtp_host, smtp_port)
            _enforce_base(conn, schema, changes)
            _enforce_integrations(conn, schema, changes)
    except psycopg.errors.LockNotAvailable as exc:
        raise TemporaryError(f"neutralizing {database}: a lock is held by another session ({exc})",
                             delay=10.0) from exc
    except psycopg.Error as exc:
        raise PermanentError(f"neutralizing {database} failed: {str(exc).strip().splitlines()[0]}") from exc
    absent = tuple(t for t in _TABLES if not schema.has(t))
    return EnforceReport(database=database, series_major=series_major, catcher_id=catcher, changes=changes,
                         absent=absent)


def _enforce_mail(conn: Conn, schema: Schema, changes: dict[str, int], host: str, port: int) -> int:
    catcher, created = _upsert_catcher(conn, schema, host, port)
    changes["mail catcher created"] = int(created)
    changes["mail servers deactivated"] = _rowcount(
        conn, "UPDATE ir_mail_server SET active = false WHERE active IS NOT FALSE AND id <> %s", (catcher,))
    changes["mail server credentials cleared"] = _clear_secrets(
        conn, schema, "ir_mail_server", MAIL_SERVER_SECRETS,
        sql.SQL("id <> {}").format(sql.Literal(catcher)))
    for table in ("mail_template", "mail_mail"):  # mail: templates (like Odoo) and the queue
        if schema.has(table, "mail_server_id"):
            changes[f"{table} forced servers removed"] = _rowcount(conn, sql.SQL(
                "UPDATE {} SET mail_server_id = NULL WHERE mail_server_id IS NOT NULL AND mail_server_id <> %s"
            ).format(sql.Identifier(table)), (catcher,))
    if schema.has("fetchmail_server", "active"):
        changes["fetchmail servers deactivated"] = _rowcount(
            conn, "UPDATE fetchmail_server SET active = false WHERE active IS NOT FALSE")
    changes["fetchmail credentials cleared"] = _clear_secrets(conn, schema, "fetchmail_server", FETCHMAIL_SECRETS)
    return catcher


def _enforce_base(conn: Conn, schema: Schema, changes: dict[str, int]) -> None:
    _set_parameter(conn, schema, NEUTRALIZED_KEY, "true")
    changes["crons deactivated"] = _rowcount(
        conn, f"UPDATE ir_cron SET active = false WHERE active IS NOT FALSE AND id NOT IN ({_AUTOVACUUM})")
    changes["autovacuum reactivated"] = _rowcount(
        conn, f"UPDATE ir_cron SET active = true WHERE active IS NOT TRUE AND id IN ({_AUTOVACUUM})")
    if schema.has("ir_act_server", "state", "webhook_url"):
        changes["webhooks replaced"] = _rowcount(
            conn, "UPDATE ir_act_server SET webhook_url = %s WHERE state = 'webhook' "
                  "AND webhook_url IS DISTINCT FROM %s", (WEBHOOK_PLACEHOLDER, WEBHOOK_PLACEHOLDER))
    changes["secret parameters deleted"] = _rowcount(
        conn, "DELETE FROM ir_config_parameter WHERE key = ANY(%s)", (list(SECRET_PARAMETERS),))
    for table in DELETED_TABLES:  # mail_push before mail_push_device (it references it)
        if schema.has(table):
            changes[f"{table} deleted"] = _rowcount(conn, sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
    if schema.has("ir_ui_view", "key", "active"):  # the "neutralized database" banner (web, website)
        changes["banners shown"] = _rowcount(
            conn, "UPDATE ir_ui_view SET active = true WHERE key IN "
                  "('web.neutralize_banner', 'website.neutralize_ribbon') AND active IS NOT TRUE")


def _enforce_integrations(conn: Conn, schema: Schema, changes: dict[str, int]) -> None:
    for table in PAYMENT_TABLES:
        if schema.has(table, "state"):
            changes[f"{table} disabled"] = _rowcount(conn, sql.SQL(
                "UPDATE {} SET state = 'disabled' WHERE state NOT IN ('test', 'disabled')"
            ).format(sql.Identifier(table)))
            changes[f"{table} credentials cleared"] = _clear_secrets(
                conn, schema, table, PAYMENT_SECRETS, sql.SQL("state = 'disabled'"))
    if schema.has("delivery_carrier", "active", "delivery_type"):
        changes["external delivery carriers deactivated"] = _rowcount(
            conn, "UPDATE delivery_carrier SET active = false WHERE active "
                  "AND delivery_type NOT IN ('fixed', 'base_on_rule')")
    changes["delivery credentials cleared"] = _clear_secrets(conn, schema, "delivery_carrier", DELIVERY_SECRETS)
    if schema.has("iap_account", "account_token"):  # iap/data/neutralize.sql, verbatim
        changes["iap tokens disabled"] = _rowcount(
            conn, r"UPDATE iap_account SET account_token = REGEXP_REPLACE(account_token, '(\+.*)?$', '+disabled') "
                  r"WHERE LENGTH(account_token) <= 33 AND account_token NOT LIKE '%+disabled'"
        ) + _rowcount(
            conn, "UPDATE iap_account SET account_token = 'dummy_value+disabled' "
                  "WHERE LENGTH(account_token) > 33 AND account_token NOT LIKE '%+disabled'")
    if schema.has("auth_oauth_provider", "enabled"):
        changes["oauth providers disabled"] = _rowcount(
            conn, "UPDATE auth_oauth_provider SET enabled = false WHERE enabled IS NOT FALSE")
    for table, columns in OTHER_SECRETS.items():
        changes[f"{table} credentials cleared"] = _clear_secrets(conn, schema, table, columns)
    for flag in FLAGS:
        if schema.has(flag.table, flag.column):
            changes[f"{flag.table}.{flag.column} set to {flag.safe}"] = _rowcount(conn, sql.SQL(
                "UPDATE {} SET {} = %s WHERE {}").format(
                    sql.Identifier(flag.table), sql.Identifier(flag.column), _unsafe(flag)), (flag.safe,))


def _unsafe(flag: Flag) -> sql.Composable:
    column = sql.Identifier(flag.column)
    if flag.unsafe is None:
        return sql.SQL("{} IS DISTINCT FROM {}").format(column, sql.Literal(flag.safe))
    return sql.SQL("{} = {}").format(column, sql.Literal(flag.unsafe))


# -- verify ------------------------------------------------------------------------------------

Check = Callable[[Conn, Schema, str, int], list[str]]


def _check_mail_servers(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    rows = conn.execute("SELECT id, name, smtp_host, smtp_port, smtp_encryption FROM ir_mail_server "
                        "WHERE active ORDER BY id").fetchall()
    failures: list[str] = []
    catchers = 0
    for server_id, name, server_host, server_port, encryption in rows:
        if name == CATCHER_NAME and server_host == host and server_port == port and encryption == "none":
            catchers += 1
            if catchers == 1:
                continue
        failures.append(f"mail server #{server_id} {name!r} ({server_host}:{server_port}) is active")
    if catchers == 0:
        failures.append(f"no active mail server {CATCHER_NAME!r} pointing at {host}:{port} without encryption")
    return failures


def _check_mail_routing(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    parts = [sql.SQL("SELECT {}, count(*) FROM {} t JOIN ir_mail_server s ON s.id = t.mail_server_id "
                     "WHERE s.name <> {}").format(sql.Literal(table), sql.Identifier(table), sql.Literal(CATCHER_NAME))
             for table in ("mail_template", "mail_mail") if schema.has(table, "mail_server_id")]
    if not parts:
        return []
    rows = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    return [f"{_int(count)} {table} record(s) force a mail server other than the catcher"
            for table, count in rows if _int(count)]


def _check_mail_credentials(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    return _secret_failures(conn, schema, "ir_mail_server", MAIL_SERVER_SECRETS, label="name")


def _check_crons(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    name = sql.Identifier("cron_name") if schema.has("ir_cron", "cron_name") else sql.SQL("NULL")
    rows = conn.execute(sql.SQL(
        "SELECT c.id, {}, c.active, c.id IN (" + _AUTOVACUUM + ") FROM ir_cron c "
        "WHERE c.active OR c.id IN (" + _AUTOVACUUM + ") ORDER BY c.id").format(name)).fetchall()
    failures: list[str] = []
    autovacuum_active = False
    for cron_id, cron_name, active, is_autovacuum in rows:
        if is_autovacuum:
            autovacuum_active = autovacuum_active or bool(active)
        elif active:
            failures.append(f"cron #{cron_id} {cron_name!r} is active" if cron_name else f"cron #{cron_id} is active")
    if not autovacuum_active:
        failures.append("cron base.autovacuum_job is missing or inactive")
    return failures


def _check_flag(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    row = conn.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (NEUTRALIZED_KEY,)).fetchone()
    if row is None or str(row[0]).strip().lower() != "true":
        return [f"{NEUTRALIZED_KEY} is not true ({'missing' if row is None else repr(row[0])})"]
    return []


def _check_fetchmail(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    if not schema.has("fetchmail_server"):
        return []
    rows = conn.execute("SELECT id, name FROM fetchmail_server WHERE active ORDER BY id").fetchall()
    failures = [f"incoming mail server #{i} {n!r} is active" for i, n in rows]
    return failures + _secret_failures(conn, schema, "fetchmail_server", FETCHMAIL_SECRETS, label="name")


def _check_payment(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    failures: list[str] = []
    for table in PAYMENT_TABLES:
        if not schema.has(table):
            continue
        code = sql.Identifier("code") if schema.has(table, "code") else sql.SQL("NULL")
        rows = conn.execute(sql.SQL("SELECT id, {}, state FROM {} WHERE state NOT IN ('test', 'disabled') "
                                    "ORDER BY id").format(code, sql.Identifier(table))).fetchall()
        failures += [f"{table} #{i} ({c}) is {s!r}, not test or disabled" for i, c, s in rows]
        failures += _secret_failures(conn, schema, table, PAYMENT_SECRETS, where=sql.SQL("state = 'disabled'"))
    return failures


def _check_delivery(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    if not schema.has("delivery_carrier"):
        return []
    failures: list[str] = []
    if schema.has("delivery_carrier", "active", "delivery_type"):
        rows = conn.execute("SELECT id, delivery_type FROM delivery_carrier WHERE active "
                            "AND delivery_type NOT IN ('fixed', 'base_on_rule') ORDER BY id").fetchall()
        failures += [f"delivery carrier #{i} ({t}) is an active external connector" for i, t in rows]
    return failures + _secret_failures(conn, schema, "delivery_carrier", DELIVERY_SECRETS)


def _check_api_keys(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    failures: list[str] = []
    for table, what in (("res_users_apikeys", "user API key(s)"), ("auth_totp_device", "2FA trusted device(s)")):
        if schema.has(table):
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            if row is not None and _int(row[0]):
                failures.append(f"{_int(row[0])} {what} in {table}")
    return failures


def _check_passkeys(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    if not schema.has("auth_passkey_key"):
        return []
    row = conn.execute("SELECT count(*) FROM auth_passkey_key").fetchone()
    return [f"{_int(row[0])} passkey(s) in auth_passkey_key"] if row is not None and _int(row[0]) else []


def _check_oauth(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    failures: list[str] = []
    if schema.has("auth_oauth_provider", "enabled"):
        rows = conn.execute("SELECT id, name FROM auth_oauth_provider WHERE enabled ORDER BY id").fetchall()
        failures += [f"OAuth provider #{i} {str(n)!r} is enabled" for i, n in rows]
    failures += _secret_failures(conn, schema, "auth_oauth_provider", ("client_secret",), label="name")
    failures += _secret_failures(conn, schema, "res_users", ("oauth_access_token",), label="login")
    return failures


def _check_iap(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    if not schema.has("iap_account"):
        return []
    rows = conn.execute("SELECT id, name FROM iap_account WHERE account_token IS NOT NULL "
                        "AND account_token NOT LIKE '%+disabled' ORDER BY id").fetchall()
    return [f"IAP account #{i} {n!r} has a token without '+disabled'" for i, n in rows]


def _check_push(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    failures: list[str] = []
    for table in ("mail_push", "mail_push_device"):
        if schema.has(table):
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            if row is not None and _int(row[0]):
                failures.append(f"{_int(row[0])} row(s) in {table}")
    rows = conn.execute("SELECT key FROM ir_config_parameter WHERE key = ANY(%s) ORDER BY key",
                        (list(SECRET_PARAMETERS),)).fetchall()
    return failures + [f"ir_config_parameter {k!r} is set" for (k,) in rows]


def _check_webhooks(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    if not schema.has("ir_act_server", "state", "webhook_url"):
        return []  # no webhook actions before 17
    rows = conn.execute("SELECT id FROM ir_act_server WHERE state = 'webhook' AND webhook_url IS DISTINCT FROM %s "
                        "ORDER BY id", (WEBHOOK_PLACEHOLDER,)).fetchall()
    return [f"server action #{i} sends a webhook to a real URL" for (i,) in rows]


def _check_other_credentials(conn: Conn, schema: Schema, host: str, port: int) -> list[str]:
    failures: list[str] = []
    for table, columns in OTHER_SECRETS.items():
        if table in ("auth_oauth_provider",):
            continue  # reported by the OAuth check
        wanted = [c for c in columns if not (table == "res_users" and c == "oauth_access_token")]
        failures += _secret_failures(conn, schema, table, wanted)
    for flag in FLAGS:
        if schema.has(flag.table, flag.column):
            row = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                sql.Identifier(flag.table), _unsafe(flag))).fetchone()
            if row is not None and _int(row[0]):
                failures.append(f"{_int(row[0])} {flag.table} record(s) with {flag.column} not {flag.safe}")
    return failures


def _secret_failures(conn: Conn, schema: Schema, table: str, columns: Iterable[str], *,
                     where: sql.Composable = sql.SQL("TRUE"), label: str | None = None) -> list[str]:
    """One query: which records of ``table`` still hold one of ``columns`` (names, not values)."""
    present = schema.present(table, columns)
    if not present:
        return []
    name = sql.Identifier(label) if label and schema.has(table, label) else sql.SQL("NULL")
    checks = [sql.SQL("CASE WHEN {} THEN {} END").format(_holds_secret(c, schema.tables[table][c]), sql.Literal(c))
              for c in present]
    query = sql.SQL("SELECT id, {}, array_remove(ARRAY[{}], NULL) AS held FROM {} WHERE ({}) "
                    "AND cardinality(array_remove(ARRAY[{}], NULL)) > 0 ORDER BY id").format(
        name, sql.SQL(", ").join(checks), sql.Identifier(table), where, sql.SQL(", ").join(checks))
    failures = []
    for record_id, record_name, held in conn.execute(query).fetchall():
        shown = f" {record_name!s}" if record_name is not None else ""
        columns_held = ", ".join(str(c) for c in held) if isinstance(held, list) else str(held)
        failures.append(f"{table} #{record_id}{shown} holds credentials ({columns_held})")
    return failures


CHECKS: tuple[tuple[str, Check], ...] = (
    ("outgoing mail servers", _check_mail_servers),
    ("forced mail servers", _check_mail_routing),
    ("mail server credentials", _check_mail_credentials),
    ("crons", _check_crons),
    (NEUTRALIZED_KEY, _check_flag),
    ("incoming mail servers", _check_fetchmail),
    ("payment providers", _check_payment),
    ("delivery carriers", _check_delivery),
    ("API keys", _check_api_keys),
    ("passkeys", _check_passkeys),
    ("OAuth", _check_oauth),
    ("IAP tokens", _check_iap),
    ("web push", _check_push),
    ("webhooks", _check_webhooks),
    ("other credentials", _check_other_credentials),
)


def verify(cluster: ClusterConn, database: str, *, smtp_host: str, smtp_port: int) -> list[str]:
    """Check every guarantee of :func:`enforce`; return what fails, in words (empty = safe).

    Fail-closed: a check that cannot run (a missing core table, an unexpected column, a query
    error) is a failure, never a pass. Tables of modules that are not installed hold nothing to
    leak and pass. Read-only.
    """
    failures: list[str] = []
    try:
        with connect(cluster, database) as conn:
            conn.execute("SET default_transaction_read_only = on")
            schema = Schema(conn)
            missing = [t for t in CORE_TABLES if not schema.has(t)]
            if missing:
                return [f"{database} is not an Odoo database: no {', '.join(missing)} (nothing can be checked)"]
            for name, check in CHECKS:
                try:
                    failures += check(conn, schema, smtp_host, smtp_port)
                except psycopg.Error as exc:
                    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    failures.append(f"could not check {name}: {detail}")
    except psycopg.Error as exc:
        return [f"could not check {database}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"]
    except (PermanentError, TemporaryError) as exc:
        return [f"could not check {database}: {exc}"]
    return failures
