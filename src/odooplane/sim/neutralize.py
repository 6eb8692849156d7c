"""``odoo-bin neutralize``: make a copy of production harmless.

Real Odoo (``odoo/modules/neutralize.py``) collects ``<module>/data/neutralize.sql``
of every installed module (state installed, to upgrade or to remove), in
ir_module_module order, and runs them in one transaction, or prints them
wrapped in ``BEGIN;``/``COMMIT;`` with ``--stdout``.  The statements below
have the same effect as Odoo 18's files for the simulated modules; a module on
``addons_path`` contributes its own ``data/neutralize.sql`` file verbatim.
Like real Odoo, neutralisation does not revoke API keys, OAuth tokens or
sessions: a platform has to do that itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping

from odooplane.sim import database
from odooplane.sim.config import Config
from odooplane.sim.database import Connection, execute
from odooplane.sim.modules import Manifest, catalogue

_logger = logging.getLogger("odoo.modules.neutralize")

QUERIES: dict[str, str] = {
    "base": """\
-- switch off every outgoing mail server
UPDATE ir_mail_server SET active = false;
-- add a catch-all server that cannot deliver, so the command-line SMTP fallback is never used
INSERT INTO ir_mail_server (name, smtp_port, smtp_host, smtp_encryption, active, smtp_authentication)
     VALUES ('neutralization - disable emails', 1025, 'invalid', 'none', true, 'login');
-- stop every scheduled action except the autovacuum
UPDATE ir_cron SET active = false
 WHERE id NOT IN (SELECT res_id FROM ir_model_data
                   WHERE model = 'ir.cron' AND module = 'base' AND name = 'autovacuum_job');
-- flag the database as neutralized
INSERT INTO ir_config_parameter (key, value) VALUES ('database.is_neutralized', true)
    ON CONFLICT (key) DO UPDATE SET value = true;
-- point webhook server actions nowhere
UPDATE ir_act_server SET webhook_url = 'neutralization - disable webhook' WHERE state = 'webhook';""",
    "web": """\
-- show the "neutralized database" banner
UPDATE ir_ui_view SET active = true WHERE key = 'web.neutralize_banner';""",
    "iap": """\
-- suffix every IAP token with +disabled (legacy over-long tokens are replaced)
UPDATE iap_account SET account_token = REGEXP_REPLACE(account_token, '(\\+.*)?$', '+disabled')
 WHERE LENGTH(account_token) <= 33;
UPDATE iap_account SET account_token = 'dummy_value+disabled'
 WHERE LENGTH(account_token) > 33 AND account_token NOT LIKE '%+disabled';""",
    "mail": """\
-- templates no longer force a mail server
UPDATE mail_template SET mail_server_id = NULL;
-- stop fetching incoming mail
UPDATE fetchmail_server SET active = false;
-- forget web push keys, pending pushes and registered devices
DELETE FROM ir_config_parameter
 WHERE key IN ('mail.web_push_vapid_private_key', 'mail.web_push_vapid_public_key', 'mail.sfu_server_key');
TRUNCATE mail_push;
TRUNCATE mail_push_device CASCADE;""",
    "payment": """\
-- providers that are live are disabled (test ones stay usable)
UPDATE payment_provider SET state = 'disabled' WHERE state NOT IN ('test', 'disabled');""",
    "payment_stripe": """\
-- forget Stripe credentials
UPDATE payment_provider
   SET stripe_secret_key = NULL, stripe_publishable_key = NULL, stripe_webhook_secret = NULL;""",
    "auth_oauth": """\
-- no OAuth login on a neutralized copy
UPDATE auth_oauth_provider SET enabled = false;""",
    "website": """\
-- websites answer on no production domain, use no CDN and ask robots to stay away
UPDATE website SET domain = NULL;
UPDATE ir_ui_view SET active = true WHERE key = 'website.neutralize_ribbon';
UPDATE website SET cdn_activated = false;
UPDATE website SET robots_txt = E'User-agent: *\\nDisallow: /';""",
}


def installed_modules(conn: Connection) -> list[str]:
    """``get_installed_modules``: installed (or to upgrade/remove) modules, in table order."""
    rows = execute(conn, "SELECT name FROM ir_module_module WHERE state IN ('installed', 'to upgrade', 'to remove')"
                         " ORDER BY id").fetchall()
    return [str(name) for (name,) in rows]


def queries(modules: list[str], manifests: Mapping[str, Manifest]) -> Iterator[str]:
    """``get_neutralization_queries``: the SQL of each module that has some."""
    for module in modules:
        manifest = manifests.get(module)
        if manifest is not None and manifest.path is not None:
            path = os.path.join(manifest.path, "data", "neutralize.sql")
            if os.path.isfile(path):
                with open(path, encoding="utf-8") as handle:
                    yield handle.read().strip()
            continue
        if module in QUERIES:
            yield QUERIES[module].strip()


def script(conn: Connection, config: Config) -> str:
    """Return what ``neutralize --stdout`` prints for the database behind ``conn``."""
    manifests = catalogue(config.release.series, config.addons_paths)
    lines = ["BEGIN;"]
    lines += [query.rstrip(";") + ";" for query in queries(installed_modules(conn), manifests)]
    lines.append("COMMIT;")
    return "\n".join(lines)


def neutralize_database(config: Config, dbname: str) -> None:
    """Apply every installed module's neutralization SQL to ``dbname`` in one transaction.

    Raise psycopg.Error if a statement fails (nothing is then changed).
    """
    manifests = catalogue(config.release.series, config.addons_paths)
    with database.connect(config, dbname) as conn:
        for query in queries(installed_modules(conn), manifests):
            execute(conn, query)
        conn.commit()
    _logger.info("Neutralization finished")
