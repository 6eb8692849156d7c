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
from collections.abc import Callable
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


def xmlid(ctx: SeedContext, module: str, name: str, model: str, res_id: int, *, noupdate: bool = True) -> None:
    """Record ``module.name`` for (model, res_id) in ir_model_data."""
    execute(ctx.conn, "INSERT INTO ir_model_data (module, name, model, res_id, noupdate) VALUES (%s,%s,%s,%s,%s)",
            (module, name, model, res_id, noupdate))


def insert(ctx: SeedContext, table: str, values: dict[str, Any]) -> int:
    """INSERT one row (audit columns filled as by OdooBot) and return its id."""
    now = now_utc()
    values = {"create_uid": 1, "create_date": now, "write_uid": 1, "write_date": now, **values}
    columns = ", ".join(f'"{column}"' for column in values)
    marks = ", ".join(["%s"] * len(values))
    row = execute(ctx.conn, f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id", list(values.values()))
    return int(row.fetchone()[0])  # type: ignore[index]


def set_param(ctx: SeedContext, key: str, value: str) -> None:
    """``ir.config_parameter.set_param`` (insert or update)."""
    now = now_utc()
    execute(ctx.conn, "INSERT INTO ir_config_parameter (key, value, create_uid, create_date, write_uid, write_date)"
                      " VALUES (%s, %s, 1, %s, 1, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
                      " write_date = EXCLUDED.write_date", (key, value, now, now))


def add_cron(ctx: SeedContext, module: str, spec: tuple[str, str, int, str, bool, int]) -> int:
    """Create an ``ir.cron`` with its server action, as the module's data file does."""
    name, label, number, unit, active, priority = spec
    action = insert(ctx, "ir_act_server", {"name": json.dumps({"en_US": label}), "type": "ir.actions.server",
                                           "state": "code", "usage": "ir_cron", "binding_type": "action"})
    cron = insert(ctx, "ir_cron", {"ir_actions_server_id": action, "cron_name": label, "user_id": 1,
                                   "active": active, "interval_number": number, "interval_type": unit,
                                   "nextcall": now_utc(), "priority": priority, "failure_count": 0})
    xmlid(ctx, module, name, "ir.cron", cron, noupdate=True)
    return cron


def add_attachment(ctx: SeedContext, *, name: str, content: bytes, mimetype: str, res_model: str | None = None,
                   res_field: str | None = None, res_id: int | None = None, url: str | None = None) -> int:
    """Create a binary attachment whose content is written to the filestore."""
    stored = filestore.write(ctx.filestore_dir, content)
    return insert(ctx, "ir_attachment", {
        "name": name, "res_model": res_model, "res_field": res_field, "res_id": res_id, "type": "binary",
        "store_fname": stored.store_fname, "checksum": stored.checksum, "file_size": stored.file_size,
        "mimetype": mimetype, "url": url, "company_id": 1 if res_model == "res.partner" else None,
    })


def seed_core(ctx: SeedContext) -> None:
    """The default data of ``base_data.sql`` (run right after CORE tables are created)."""
    conn = ctx.conn
    execute(conn, "INSERT INTO res_currency (id, name, symbol) VALUES (1, 'USD', '$')")
    execute(conn, "INSERT INTO res_company (id, name, partner_id, currency_id, create_date)"
                  " VALUES (1, 'My Company', 1, 1, now() at time zone 'UTC')")
    execute(conn, "INSERT INTO res_partner (id, name, company_id, create_date) VALUES (1, 'My Company', 1,"
                  " now() at time zone 'UTC')")
    execute(conn, "INSERT INTO res_users (id, login, password, active, partner_id, company_id, create_date)"
                  " VALUES (1, '__system__', NULL, false, 1, 1, now() at time zone 'UTC')")
    execute(conn, "INSERT INTO res_groups (id, name) VALUES (1, '{\"en_US\": \"Employee\"}')")
    for table in ("res_currency", "res_company", "res_partner", "res_users", "res_groups"):
        execute(conn, f"SELECT setval('{table}_id_seq', 1)")
    for name, model in (("USD", "res.currency"), ("main_company", "res.company"), ("main_partner", "res.partner"),
                        ("user_root", "res.users"), ("group_user", "res.groups")):
        xmlid(ctx, "base", name, model, 1)


def _seed_base(ctx: SeedContext) -> None:
    rounds = ctx.config.sim.password_rounds
    execute(ctx.conn, "UPDATE res_partner SET company_id = NULL, is_company = true, active = true,"
                      " complete_name = name WHERE id = 1")
    partners = [("partner_root", "System", "odoobot@example.com", False, 1),
                ("partner_admin", "Administrator", "admin@example.com", True, 1),
                ("public_partner", "Public user", None, False, None),
                ("default_user_res_partner", "Default User Template", None, False, None),
                ("template_portal_user_id_res_partner", "Portal User Template", None, False, None)]
    ids: dict[str, int] = {}
    for name, label, email, active, company in partners:
        ids[name] = insert(ctx, "res_partner", {"name": label, "complete_name": label, "email": email,
                                                "active": active, "company_id": company, "is_company": False})
        xmlid(ctx, "base", name, "res.partner", ids[name])
    execute(ctx.conn, "UPDATE res_users SET partner_id = %s, share = false WHERE id = 1", (ids["partner_root"],))
    users = [("user_admin", "admin", passwords.hash_password("admin", rounds=rounds), True, "partner_admin", False),
             ("default_user", "default", None, False, "default_user_res_partner", False),
             ("public_user", "public", passwords.hash_password(uuid.uuid4().hex, rounds=rounds), False,
              "public_partner", True),
             ("template_portal_user_id", "portaltemplate", None, False, "template_portal_user_id_res_partner", True)]
    for name, login, password, active, partner, share in users:
        user_id = insert(ctx, "res_users", {"login": login, "password": password, "active": active,
                                            "partner_id": ids[partner], "company_id": 1, "share": share})
        xmlid(ctx, "base", name, "res.users", user_id)
    for name, label in (("group_system", "Settings"), ("group_erp_manager", "Access Rights"),
                        ("group_portal", "Portal"), ("group_public", "Public")):
        xmlid(ctx, "base", name, "res.groups", insert(ctx, "res_groups", {"name": json.dumps({"en_US": label})}))
    set_param(ctx, "database.secret", str(uuid.uuid4()))
    set_param(ctx, "database.uuid", str(uuid.uuid1()))
    set_param(ctx, "database.create_date", now_utc().strftime("%Y-%m-%d %H:%M:%S"))
    set_param(ctx, "web.base.url", f"http://localhost:{ctx.config['http_port']}")
    # The company logo in five sizes (three identical, as Odoo only downsizes large images).
    logo = filestore.png(180, 60, (0x71, 0x4B, 0x67))
    for field, content in (("image_1920", logo), ("image_1024", logo), ("image_512", logo),
                           ("image_256", filestore.png(128, 43, (0x71, 0x4B, 0x67))),
                           ("image_128", filestore.png(64, 21, (0x71, 0x4B, 0x67)))):
        add_attachment(ctx, name=field, content=content, mimetype="image/png", res_model="res.partner",
                       res_field=field, res_id=1)
    for lang_id, colour in ((1, (0xB2, 0x22, 0x34)), (2, (0x00, 0x23, 0x95))):
        add_attachment(ctx, name="flag_image", content=filestore.png(24, 16, colour), mimetype="image/png",
                       res_model="res.lang", res_field="flag_image", res_id=lang_id)


def _seed_web(ctx: SeedContext) -> None:
    view = insert(ctx, "ir_ui_view", {"name": "neutralize_banner", "key": "web.neutralize_banner", "type": "qweb",
                                      "mode": "extension", "active": False})
    xmlid(ctx, "web", "neutralize_banner", "ir.ui.view", view, noupdate=False)
    insert(ctx, "ir_attachment", {"name": "placeholder.png", "type": "url", "public": True, "mimetype": "image/png",
                                  "url": "/web/static/img/placeholder.png"})
    add_attachment(ctx, name="res.company.scss", content=b"$o-company-primary-color: #714B67;\n",
                   mimetype="text/scss", url="web/static/asset_styles_company_report.scss")


def _seed_payment(ctx: SeedContext) -> None:
    for name in ("Adyen", "Authorize.net", "Buckaroo", "Demo", "Mercado Pago", "Mollie", "PayPal", "Razorpay",
                 "Stripe", "Wire Transfer"):
        provider = insert(ctx, "payment_provider", {"name": json.dumps({"en_US": name}), "code": "none",
                                                    "state": "disabled", "company_id": 1, "is_published": False})
        xmlid(ctx, "payment", "payment_provider_" + name.lower().replace(" ", "_").replace(".", ""),
              "payment.provider", provider)


def _seed_auth_oauth(ctx: SeedContext) -> None:
    row = execute(ctx.conn, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'").fetchone()
    providers = (("provider_openerp", "Odoo.com Accounts", "https://accounts.odoo.com/oauth2/auth", "userinfo",
                  "https://accounts.odoo.com/oauth2/tokeninfo", True, row[0] if row else None),
                 ("provider_facebook", "Facebook Graph", "https://www.facebook.com/dialog/oauth",
                  "public_profile,email", "https://graph.facebook.com/me", False, None),
                 ("provider_google", "Google OAuth2", "https://accounts.google.com/o/oauth2/auth",
                  "openid profile email", "https://www.googleapis.com/oauth2/v3/userinfo", False, None))
    for name, label, auth, scope, validation, enabled, client_id in providers:
        provider = insert(ctx, "auth_oauth_provider", {
            "name": label, "auth_endpoint": auth, "scope": scope, "validation_endpoint": validation,
            "enabled": enabled, "client_id": client_id, "body": json.dumps({"en_US": f"Log in with {label}"})})
        xmlid(ctx, "auth_oauth", name, "auth.oauth.provider", provider)


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
        for name, email in (("Azure Interior", "azure.Interior24@example.com"),
                            ("Deco Addict", "deco_addict@example.com"),
                            ("Gemini Furniture", "gemini_furniture@example.com")):
            xmlid(ctx, "base", "res_partner_" + name.split()[0].lower(), "res.partner",
                  insert(ctx, "res_partner", {"name": name, "email": email, "is_company": True, "active": True}))
    elif module in ("sale", "purchase"):
        table, prefix = ("sale_order", "S") if module == "sale" else ("purchase_order", "P")
        for number in (1, 2):
            insert(ctx, table, {"name": f"{prefix}{number:05d}", "partner_id": 3, "state": "draft",
                                "date_order": now_utc(), "amount_total": 100 * number, "company_id": 1})
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
    for key, value in PARAMS.get(module, ()):
        set_param(ctx, key, value)
    for spec in CRONS.get(module, ()):
        add_cron(ctx, module, spec)
    if module == "mail_bot":
        execute(ctx.conn, "UPDATE res_partner SET name = 'OdooBot', complete_name = 'OdooBot' WHERE id = 2")
    if module == "payment_stripe":
        execute(ctx.conn, "UPDATE payment_provider SET code = 'stripe' WHERE id = (SELECT res_id FROM ir_model_data"
                          " WHERE module = 'payment' AND name = 'payment_provider_stripe')")
    if ctx.demo:
        _seed_demo(ctx, module)
