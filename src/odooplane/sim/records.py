"""The records installing a module creates (its "data files"), with their XML ids.

What real Odoo 18 writes on ``-i base`` was checked against a database it
initialised: the users (``__system__``, ``admin``, ``default``, ``public``,
``portaltemplate``) and their partners, the main company, the default
``ir.config_parameter`` keys (``database.secret`` uuid4, ``database.uuid``
uuid1, ``database.create_date``, ``web.base.url`` = ``http://localhost:<http_port>``
…), the two base crons with ``base.autovacuum_job``, and image attachments
stored in the filestore.  No mail server exists in a fresh database.  Other
modules add their crons, configuration parameters and a few records; demo
records are only created when demo data is enabled.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from odooplane.sim import filestore, passwords
from odooplane.sim.config import Config
from odooplane.sim.database import Connection, execute

# module -> (xml id, name, interval_number, interval_type, active, priority), from the 18.0 data files.
CRONS: dict[str, tuple[tuple[str, str, int, str, bool, int], ...]] = {
    "base": (("autovacuum_job", "Base: Auto-vacuum internal data", 1, "days", True, 3),
             ("ir_cron_res_users_deletion", "Base: Portal Users Deletion", 1, "days", True, 8)),
    "account": (("ir_cron_auto_post_draft_entry", "Account: Post draft entries with auto_post enabled and "
                 "accounting date up to today", 1, "days", True, 5),
                ("ir_cron_account_move_send", "Send invoices automatically", 1, "days", True, 5)),
    "auth_signup": (("ir_cron_auth_signup_send_pending_user_reminder", "Users: Notify About Unregistered Users",
                     1, "days", True, 6),),
    "calendar": (("ir_cron_scheduler_alarm", "Calendar: Event Reminder", 1, "days", True, 5),),
    "crm": (("website_crm_score_cron", "Predictive Lead Scoring: Recompute Automated Probabilities", 1, "days",
             False, 5), ("ir_cron_crm_lead_assign", "CRM: Lead Assignment", 1, "days", False, 5)),
    "digest": (("ir_cron_digest_scheduler_action", "Digest Emails", 1, "days", True, 5),),
    "hr": (("ir_cron_data_check_work_permit_validity", "HR Employee: check work permit validity", 1, "days",
            True, 5),),
    "mail": (("ir_cron_mail_scheduler_action", "Mail: Email Queue Manager", 1, "hours", True, 6),
             ("ir_cron_module_update_notification", "Publisher: Update Notification", 1, "weeks", True, 1000),
             ("ir_cron_delete_notification", "Notification: Delete Notifications older than 6 Month", 1, "days",
              True, 5),
             ("ir_cron_mail_gateway_action", "Mail: Fetchmail Service", 5, "minutes", False, 5),
             ("ir_cron_post_scheduled_message", "Mail: Post scheduled messages", 1, "days", True, 5),
             ("ir_cron_send_scheduled_message", "Notification: Notify scheduled messages", 1, "hours", True, 5),
             ("ir_cron_web_push_notification", "Mail: send web push notification", 1, "days", True, 5),
             ("ir_cron_discuss_channel_member_unmute", "Discuss: channel member unmute", 1, "days", True, 5),
             ("ir_cron_discuss_users_settings_unmute", "Discuss: users settings unmute", 1, "days", True, 5)),
    "partner_autocomplete": (("ir_cron_partner_autocomplete", "Partner Autocomplete: Sync with remote DB", 1,
                              "hours", True, 6),),
    "payment": (("cron_post_process_payment_tx", "Payment: Post-process transactions", 10, "minutes", True, 5),),
    "project": (("ir_cron_rating_project", "Project: Send rating", 1, "days", True, 5),),
    "purchase": (("purchase_send_reminder_mail", "Purchase reminder", 1, "days", True, 5),),
    "sale": (("send_invoice_cron", "automatic invoicing: send ready invoice", 1, "days", False, 5),),
    "sms": (("ir_cron_sms_scheduler_action", "SMS: SMS Queue Manager", 1, "hours", True, 5),),
    "snailmail": (("snailmail_print", "Snailmail: process letters queue", 1, "hours", True, 5),),
    "stock": (("ir_cron_scheduler_action", "Procurement: run scheduler", 1, "days", True, 5),),
    "website": (("website_disable_unused_snippets_assets", "Disable unused snippets assets", 1, "weeks", True, 5),
                ("website_visitor_cron", "Website Visitor : clean inactive visitors", 1, "days", True, 5)),
}

PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "base": (("base.login_cooldown_after", "10"), ("base.login_cooldown_duration", "60"),
             ("base.template_portal_user_id", "5"), ("base.default_max_email_size", "10")),
    "base_setup": (("base_setup.show_effect", "True"), ("base_setup.default_user_rights", "True")),
    "mail": (("mail.activity.gc.delete_overdue_years", "3"),),
}


@dataclass
class SeedContext:
    """Everything seeding one module needs."""

    conn: Connection
    config: Config
    dbname: str
    demo: bool

    @property
    def filestore_dir(self) -> str:
        return self.config.filestore(self.dbname)


def now_utc() -> datetime.datetime:
    """Naive UTC now, as Odoo's ``fields.Datetime.now``."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)


def xmlids(ctx: SeedContext, rows: list[tuple[str, str, str, int, bool]]) -> None:
    """Record each ``(module, name, model, res_id, noupdate)`` in ir_model_data, in order, in one statement."""
    if rows:
        execute(ctx.conn, "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES "
                          + ", ".join(["(%s, %s, %s, %s, %s)"] * len(rows)), [v for row in rows for v in row])


def xmlid(ctx: SeedContext, module: str, name: str, model: str, res_id: int, *, noupdate: bool = True) -> None:
    """Record ``module.name`` for (model, res_id) in ir_model_data."""
    xmlids(ctx, [(module, name, model, res_id, noupdate)])


def insert_many(ctx: SeedContext, table: str, rows: list[dict[str, Any]]) -> list[int]:
    """INSERT rows (audit columns filled as by OdooBot) in one statement; return their ids, in order.

    A column missing from a row gets its default, as with one INSERT per row.
    """
    if not rows:
        return []
    now = now_utc()
    full = [{"create_uid": 1, "create_date": now, "write_uid": 1, "write_date": now, **row} for row in rows]
    columns = list(dict.fromkeys(column for row in full for column in row))
    params: list[Any] = []
    tuples: list[str] = []
    for row in full:
        marks = []
        for column in columns:
            if column in row:
                marks.append("%s")
                params.append(row[column])
            else:
                marks.append("DEFAULT")
        tuples.append(f"({', '.join(marks)})")
    names = ", ".join(f'"{column}"' for column in columns)
    # A multi-row VALUES is inserted, and RETURNING answers, in the order of its rows.
    cursor = execute(ctx.conn, f"INSERT INTO {table} ({names}) VALUES {', '.join(tuples)} RETURNING id", params)
    return [int(row[0]) for row in cursor.fetchall()]


def insert(ctx: SeedContext, table: str, values: dict[str, Any]) -> int:
    """INSERT one row (audit columns filled as by OdooBot) and return its id."""
    return insert_many(ctx, table, [values])[0]


def set_params(ctx: SeedContext, pairs: Iterable[tuple[str, str]]) -> None:
    """``ir.config_parameter.set_param`` of each (key, value), in order (insert or update), in one statement."""
    pairs = list(dict(pairs).items())  # one row per key: ON CONFLICT cannot touch a row twice
    if not pairs:
        return
    now = now_utc()
    execute(ctx.conn, "INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)"
                      " VALUES " + ", ".join(["(%s, %s, 1, %s, 1, %s)"] * len(pairs))
                      + " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, write_date = EXCLUDED.write_date",
            [v for key, value in pairs for v in (key, value, now, now)])


def set_param(ctx: SeedContext, key: str, value: str) -> None:
    """``ir.config_parameter.set_param`` (insert or update)."""
    set_params(ctx, [(key, value)])


def add_crons(ctx: SeedContext, module: str, specs: Iterable[tuple[str, str, int, str, bool, int]]) -> list[int]:
    """Create ``ir.cron`` records with their server actions, as the module's data file does."""
    specs = list(specs)
    actions = insert_many(ctx, "ir_act_server", [
        {"name": json.dumps({"en_US": label}), "type": "ir.actions.server", "state": "code", "usage": "ir_cron",
         "binding_type": "action"} for _, label, *_rest in specs])
    now = now_utc()
    crons = insert_many(ctx, "ir_cron", [
        {"ir_actions_server_id": action, "cron_name": label, "user_id": 1, "active": active,
         "interval_number": number, "interval_type": unit, "nextcall": now, "priority": priority,
         "failure_count": 0}
        for action, (_, label, number, unit, active, priority) in zip(actions, specs, strict=True)])
    xmlids(ctx, [(module, spec[0], "ir.cron", cron, True) for spec, cron in zip(specs, crons, strict=True)])
    return crons


def add_cron(ctx: SeedContext, module: str, spec: tuple[str, str, int, str, bool, int]) -> int:
    """Create an ``ir.cron`` with its server action, as the module's data file does."""
    return add_crons(ctx, module, [spec])[0]


def attachment_values(ctx: SeedContext, *, name: str, content: bytes, mimetype: str, res_model: str | None = None,
                      res_field: str | None = None, res_id: int | None = None,
                      url: str | None = None) -> dict[str, Any]:
    """Write ``content`` to the filestore; return the ir_attachment row of a binary attachment holding it."""
    stored = filestore.write(ctx.filestore_dir, content)
    return {"name": name, "res_model": res_model, "res_field": res_field, "res_id": res_id, "type": "binary",
            "store_fname": stored.store_fname, "checksum": stored.checksum, "file_size": stored.file_size,
            "mimetype": mimetype, "url": url, "company_id": 1 if res_model == "res.partner" else None}


def add_attachment(ctx: SeedContext, *, name: str, content: bytes, mimetype: str, res_model: str | None = None,
                   res_field: str | None = None, res_id: int | None = None, url: str | None = None) -> int:
    """Create a binary attachment whose content is written to the filestore."""
    return insert(ctx, "ir_attachment", attachment_values(ctx, name=name, content=content, mimetype=mimetype,
                                                          res_model=res_model, res_field=res_field, res_id=res_id,
                                                          url=url))


# base_data.sql, in one round trip.
_CORE_DATA = """\
INSERT INTO res_currency (id, name, symbol) VALUES (1, 'USD', '$');
INSERT INTO res_company (id, name, partner_id, currency_id, create_date)
    VALUES (1, 'My Company', 1, 1, now() at time zone 'UTC');
INSERT INTO res_partner (id, name, company_id, create_date) VALUES (1, 'My Company', 1, now() at time zone 'UTC');
INSERT INTO res_users (id, login, password, active, partner_id, company_id, create_date)
    VALUES (1, '__system__', NULL, false, 1, 1, now() at time zone 'UTC');
INSERT INTO res_groups (id, name) VALUES (1, '{"en_US": "Employee"}');
SELECT setval('res_currency_id_seq', 1), setval('res_company_id_seq', 1), setval('res_partner_id_seq', 1),
       setval('res_users_id_seq', 1), setval('res_groups_id_seq', 1);
INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES
    ('base', 'USD', 'res.currency', 1, true), ('base', 'main_company', 'res.company', 1, true),
    ('base', 'main_partner', 'res.partner', 1, true), ('base', 'user_root', 'res.users', 1, true),
    ('base', 'group_user', 'res.groups', 1, true)"""


def seed_core(ctx: SeedContext) -> None:
    """The default data of ``base_data.sql`` (run right after CORE tables are created)."""
    execute(ctx.conn, _CORE_DATA)


def _seed_base(ctx: SeedContext) -> None:
    rounds = ctx.config.sim.password_rounds
    execute(ctx.conn, "UPDATE res_partner SET company_id = NULL, is_company = true, active = true,"
                      " complete_name = name WHERE id = 1")
    partners = [("partner_root", "System", "odoobot@example.com", False, 1),
                ("partner_admin", "Administrator", "admin@example.com", True, 1),
                ("public_partner", "Public user", None, False, None),
                ("default_user_res_partner", "Default User Template", None, False, None),
                ("template_portal_user_id_res_partner", "Portal User Template", None, False, None)]
    partner_ids = insert_many(ctx, "res_partner", [
        {"name": label, "complete_name": label, "email": email, "active": active, "company_id": company,
         "is_company": False} for _, label, email, active, company in partners])
    ids = {name: partner_id for (name, *_), partner_id in zip(partners, partner_ids, strict=True)}
    execute(ctx.conn, "UPDATE res_users SET partner_id = %s, share = false WHERE id = 1", (ids["partner_root"],))
    # The admin password is hashed (once); nobody ever learns the public user's random password, so its hash
    # is drawn at random in the same format instead of spending a full PBKDF2 on it.
    users = [("user_admin", "admin", passwords.admin_hash(rounds), True, "partner_admin", False),
             ("default_user", "default", None, False, "default_user_res_partner", False),
             ("public_user", "public", passwords.unknown_password_hash(rounds), False, "public_partner", True),
             ("template_portal_user_id", "portaltemplate", None, False, "template_portal_user_id_res_partner", True)]
    user_ids = insert_many(ctx, "res_users", [
        {"login": login, "password": password, "active": active, "partner_id": ids[partner], "company_id": 1,
         "share": share} for _, login, password, active, partner, share in users])
    groups = (("group_system", "Settings"), ("group_erp_manager", "Access Rights"), ("group_portal", "Portal"),
              ("group_public", "Public"))
    group_ids = insert_many(ctx, "res_groups", [{"name": json.dumps({"en_US": label})} for _, label in groups])
    xmlids(ctx, [("base", name, "res.partner", ids[name], True) for name, *_ in partners]
           + [("base", name, "res.users", uid, True) for (name, *_), uid in zip(users, user_ids, strict=True)]
           + [("base", name, "res.groups", gid, True) for (name, _), gid in zip(groups, group_ids, strict=True)])
    set_params(ctx, [("database.secret", str(uuid.uuid4())), ("database.uuid", str(uuid.uuid1())),
                     ("database.create_date", now_utc().strftime("%Y-%m-%d %H:%M:%S")),
                     ("web.base.url", f"http://localhost:{ctx.config['http_port']}")])
    # The company logo in five sizes (three identical, as Odoo only downsizes large images).
    logo = filestore.png(180, 60, (0x71, 0x4B, 0x67))
    images = [(field, content, "res.partner", 1) for field, content in (
        ("image_1920", logo), ("image_1024", logo), ("image_512", logo),
        ("image_256", filestore.png(128, 43, (0x71, 0x4B, 0x67))),
        ("image_128", filestore.png(64, 21, (0x71, 0x4B, 0x67))))]
    images += [("flag_image", filestore.png(24, 16, colour), "res.lang", lang_id)
               for lang_id, colour in ((1, (0xB2, 0x22, 0x34)), (2, (0x00, 0x23, 0x95)))]
    insert_many(ctx, "ir_attachment", [
        attachment_values(ctx, name=field, content=content, mimetype="image/png", res_model=model, res_field=field,
                          res_id=res_id) for field, content, model, res_id in images])


def _seed_web(ctx: SeedContext) -> None:
    view = insert(ctx, "ir_ui_view", {"name": "neutralize_banner", "key": "web.neutralize_banner", "type": "qweb",
                                      "mode": "extension", "active": False})
    xmlid(ctx, "web", "neutralize_banner", "ir.ui.view", view, noupdate=False)
    insert_many(ctx, "ir_attachment", [
        {"name": "placeholder.png", "type": "url", "public": True, "mimetype": "image/png",
         "url": "/web/static/img/placeholder.png"},
        attachment_values(ctx, name="res.company.scss", content=b"$o-company-primary-color: #714B67;\n",
                          mimetype="text/scss", url="web/static/asset_styles_company_report.scss")])


def _seed_payment(ctx: SeedContext) -> None:
    names = ("Adyen", "Authorize.net", "Buckaroo", "Demo", "Mercado Pago", "Mollie", "PayPal", "Razorpay", "Stripe",
             "Wire Transfer")
    providers = insert_many(ctx, "payment_provider", [
        {"name": json.dumps({"en_US": name}), "code": "none", "state": "disabled", "company_id": 1,
         "is_published": False} for name in names])
    xmlids(ctx, [("payment", "payment_provider_" + name.lower().replace(" ", "_").replace(".", ""),
                  "payment.provider", provider, True) for name, provider in zip(names, providers, strict=True)])


def _seed_auth_oauth(ctx: SeedContext) -> None:
    row = execute(ctx.conn, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'").fetchone()
    providers = (("provider_openerp", "Odoo.com Accounts", "https://accounts.odoo.com/oauth2/auth", "userinfo",
                  "https://accounts.odoo.com/oauth2/tokeninfo", True, row[0] if row else None),
                 ("provider_facebook", "Facebook Graph", "https://www.facebook.com/dialog/oauth",
                  "public_profile,email", "https://graph.facebook.com/me", False, None),
                 ("provider_google", "Google OAuth2", "https://accounts.google.com/o/oauth2/auth",
                  "openid profile email", "https://www.googleapis.com/oauth2/v3/userinfo", False, None))
    ids = insert_many(ctx, "auth_oauth_provider", [
        {"name": label, "auth_endpoint": auth, "scope": scope, "validation_endpoint": validation,
         "enabled": enabled, "client_id": client_id, "body": json.dumps({"en_US": f"Log in with {label}"})}
        for _, label, auth, scope, validation, enabled, client_id in providers])
    xmlids(ctx, [("auth_oauth", spec[0], "auth.oauth.provider", provider, True)
                 for spec, provider in zip(providers, ids, strict=True)])


def _seed_website(ctx: SeedContext) -> None:
    website = insert(ctx, "website", {"name": "My Website", "company_id": 1, "sequence": 10, "cdn_activated": False})
    xmlid(ctx, "website", "default_website", "website", website)
    view = insert(ctx, "ir_ui_view", {"name": "neutralize_ribbon", "key": "website.neutralize_ribbon",
                                      "type": "qweb", "mode": "extension", "active": False})
    xmlid(ctx, "website", "neutralize_ribbon", "ir.ui.view", view, noupdate=False)


def _seed_hr(ctx: SeedContext) -> None:
    employee = insert(ctx, "hr_employee", {"name": "Administrator", "user_id": 2, "active": True, "company_id": 1,
                                           "work_email": "admin@example.com"})
    xmlid(ctx, "hr", "employee_admin", "hr.employee", employee)


def _seed_demo(ctx: SeedContext, module: str) -> None:
    if module == "base":
        companies = (("Azure Interior", "azure.Interior24@example.com"), ("Deco Addict", "deco_addict@example.com"),
                     ("Gemini Furniture", "gemini_furniture@example.com"))
        ids = insert_many(ctx, "res_partner", [{"name": name, "email": email, "is_company": True, "active": True}
                                               for name, email in companies])
        xmlids(ctx, [("base", "res_partner_" + name.split()[0].lower(), "res.partner", partner, True)
                     for (name, _), partner in zip(companies, ids, strict=True)])
    elif module in ("sale", "purchase"):
        table, prefix = ("sale_order", "S") if module == "sale" else ("purchase_order", "P")
        insert_many(ctx, table, [{"name": f"{prefix}{number:05d}", "partner_id": 3, "state": "draft",
                                  "date_order": now_utc(), "amount_total": 100 * number, "company_id": 1}
                                 for number in (1, 2)])
    elif module == "crm":
        insert(ctx, "crm_lead", {"name": "Office Design Project", "type": "opportunity", "active": True,
                                 "expected_revenue": 24000, "company_id": 1})


SEEDERS: dict[str, Callable[[SeedContext], None]] = {
    "base": _seed_base, "web": _seed_web, "payment": _seed_payment, "auth_oauth": _seed_auth_oauth,
    "website": _seed_website, "hr": _seed_hr,
}


def seed(ctx: SeedContext, module: str) -> None:
    """Create the records installing ``module`` creates (its data, and demo data if enabled)."""
    seeder = SEEDERS.get(module)
    if seeder is not None:
        seeder(ctx)
    set_params(ctx, PARAMS.get(module, ()))
    if module in CRONS:
        add_crons(ctx, module, CRONS[module])
    if module == "mail_bot":
        execute(ctx.conn, "UPDATE res_partner SET name = 'OdooBot', complete_name = 'OdooBot' WHERE id = 2")
    if module == "payment_stripe":
        execute(ctx.conn, "UPDATE payment_provider SET code = 'stripe' WHERE id = (SELECT res_id FROM ir_model_data"
                          " WHERE module = 'payment' AND name = 'payment_provider_stripe')")
    if ctx.demo:
        _seed_demo(ctx, module)
