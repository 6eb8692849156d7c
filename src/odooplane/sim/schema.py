"""Tables the simulator creates: real Odoo 18 table and column names, subset of columns.

``CORE`` is what ``base/data/base_data.sql`` creates before anything else
(``odoo.modules.db.initialize``); ``TABLES`` maps a module to the tables (or
columns) installing it adds.  Every statement is idempotent so an upgrade can
replay it.  Column names and types were checked against a database initialised
by real Odoo 18.
"""

from __future__ import annotations

AUDIT = ("create_uid integer, create_date timestamp without time zone, "
         "write_uid integer, write_date timestamp without time zone")

CORE: tuple[str, ...] = (
    "CREATE TABLE ir_actions (id serial PRIMARY KEY, name jsonb, type varchar, binding_type varchar, "
    "create_uid integer, create_date timestamp, write_uid integer, write_date timestamp)",
    "CREATE TABLE ir_act_window (PRIMARY KEY (id)) INHERITS (ir_actions)",
    "CREATE TABLE ir_act_report_xml (PRIMARY KEY (id)) INHERITS (ir_actions)",
    "CREATE TABLE ir_act_url (PRIMARY KEY (id)) INHERITS (ir_actions)",
    "CREATE TABLE ir_act_server (PRIMARY KEY (id)) INHERITS (ir_actions)",
    "CREATE TABLE ir_act_client (PRIMARY KEY (id)) INHERITS (ir_actions)",
    "CREATE TABLE res_users (id serial PRIMARY KEY, company_id integer, partner_id integer, "
    "active boolean DEFAULT true, create_date timestamp without time zone, login varchar(64) NOT NULL UNIQUE, "
    "password varchar DEFAULT NULL)",
    "CREATE TABLE res_groups (id serial PRIMARY KEY, name jsonb NOT NULL)",
    f"CREATE TABLE ir_module_category (id serial PRIMARY KEY, {AUDIT}, "
    "parent_id integer REFERENCES ir_module_category ON DELETE SET NULL, name jsonb NOT NULL)",
    f"CREATE TABLE ir_module_module (id serial PRIMARY KEY, {AUDIT}, website varchar, summary jsonb, "
    "name varchar NOT NULL, author varchar, icon varchar, state varchar(16), latest_version varchar, "
    "shortdesc jsonb, category_id integer REFERENCES ir_module_category ON DELETE SET NULL, description jsonb, "
    "application boolean DEFAULT false, demo boolean DEFAULT false, web boolean DEFAULT false, "
    "license varchar(32), sequence integer DEFAULT 100, auto_install boolean DEFAULT false, "
    "to_buy boolean DEFAULT false)",
    "CREATE TABLE ir_module_module_dependency (id serial PRIMARY KEY, name varchar, "
    "module_id integer REFERENCES ir_module_module ON DELETE CASCADE, auto_install_required boolean DEFAULT true)",
    "CREATE TABLE ir_model_data (id serial PRIMARY KEY, create_uid integer, "
    "create_date timestamp without time zone DEFAULT (now() at time zone 'UTC'), "
    "write_date timestamp without time zone DEFAULT (now() at time zone 'UTC'), write_uid integer, "
    "res_id integer, noupdate boolean DEFAULT false, name varchar NOT NULL, module varchar NOT NULL, "
    "model varchar NOT NULL)",
    "CREATE TABLE res_currency (id serial PRIMARY KEY, name varchar NOT NULL, symbol varchar NOT NULL)",
    "CREATE TABLE res_company (id serial PRIMARY KEY, name varchar NOT NULL, partner_id integer, "
    "currency_id integer, sequence integer, create_date timestamp without time zone)",
    "CREATE TABLE res_partner (id serial PRIMARY KEY, company_id integer, create_date timestamp without time zone, "
    "name varchar)",
)

_BASE: tuple[str, ...] = (
    "ALTER TABLE ir_act_server ADD COLUMN IF NOT EXISTS state varchar, "
    "ADD COLUMN IF NOT EXISTS model_name varchar, ADD COLUMN IF NOT EXISTS usage varchar, "
    "ADD COLUMN IF NOT EXISTS code text, ADD COLUMN IF NOT EXISTS webhook_url varchar",
    "ALTER TABLE res_users ADD COLUMN IF NOT EXISTS share boolean, ADD COLUMN IF NOT EXISTS signature text, "
    "ADD COLUMN IF NOT EXISTS action_id integer, ADD COLUMN IF NOT EXISTS create_uid integer, "
    "ADD COLUMN IF NOT EXISTS write_uid integer, ADD COLUMN IF NOT EXISTS write_date timestamp, "
    "ADD COLUMN IF NOT EXISTS login_date timestamp",
    "ALTER TABLE res_partner ADD COLUMN IF NOT EXISTS email varchar, ADD COLUMN IF NOT EXISTS phone varchar, "
    "ADD COLUMN IF NOT EXISTS mobile varchar, ADD COLUMN IF NOT EXISTS street varchar, "
    "ADD COLUMN IF NOT EXISTS street2 varchar, ADD COLUMN IF NOT EXISTS city varchar, "
    "ADD COLUMN IF NOT EXISTS zip varchar, ADD COLUMN IF NOT EXISTS country_id integer, "
    "ADD COLUMN IF NOT EXISTS parent_id integer, ADD COLUMN IF NOT EXISTS lang varchar, "
    "ADD COLUMN IF NOT EXISTS tz varchar, ADD COLUMN IF NOT EXISTS vat varchar, "
    "ADD COLUMN IF NOT EXISTS complete_name varchar, ADD COLUMN IF NOT EXISTS active boolean DEFAULT true, "
    "ADD COLUMN IF NOT EXISTS is_company boolean DEFAULT false, ADD COLUMN IF NOT EXISTS partner_share boolean, "
    "ADD COLUMN IF NOT EXISTS create_uid integer, ADD COLUMN IF NOT EXISTS write_uid integer, "
    "ADD COLUMN IF NOT EXISTS write_date timestamp",
    "ALTER TABLE res_company ADD COLUMN IF NOT EXISTS email varchar, ADD COLUMN IF NOT EXISTS phone varchar, "
    "ADD COLUMN IF NOT EXISTS active boolean DEFAULT true, ADD COLUMN IF NOT EXISTS parent_id integer, "
    "ADD COLUMN IF NOT EXISTS create_uid integer, ADD COLUMN IF NOT EXISTS write_uid integer, "
    "ADD COLUMN IF NOT EXISTS write_date timestamp",
    "ALTER TABLE res_groups ADD COLUMN IF NOT EXISTS create_uid integer, ADD COLUMN IF NOT EXISTS create_date "
    "timestamp, ADD COLUMN IF NOT EXISTS write_uid integer, ADD COLUMN IF NOT EXISTS write_date timestamp",
    f"CREATE TABLE IF NOT EXISTS ir_config_parameter (id serial PRIMARY KEY, {AUDIT}, "
    "key varchar NOT NULL, value text NOT NULL, CONSTRAINT ir_config_parameter_key_uniq UNIQUE (key))",
    f"CREATE TABLE IF NOT EXISTS ir_attachment (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
    "description text, res_model varchar, res_field varchar, res_id integer, company_id integer, "
    "type varchar NOT NULL, url varchar(1024), public boolean, access_token varchar, db_datas bytea, "
    "store_fname varchar, file_size integer, checksum varchar(40), mimetype varchar, index_content text, "
    "original_id integer)",
    f"CREATE TABLE IF NOT EXISTS ir_cron (id serial PRIMARY KEY, {AUDIT}, ir_actions_server_id integer NOT NULL, "
    "cron_name varchar, user_id integer NOT NULL, active boolean, interval_number integer NOT NULL, "
    "interval_type varchar NOT NULL, nextcall timestamp without time zone NOT NULL, "
    "lastcall timestamp without time zone, priority integer, failure_count integer DEFAULT 0, "
    "first_failure_date timestamp without time zone)",
    f"CREATE TABLE IF NOT EXISTS ir_cron_trigger (id serial PRIMARY KEY, {AUDIT}, "
    "cron_id integer REFERENCES ir_cron ON DELETE CASCADE, call_at timestamp without time zone)",
    f"CREATE TABLE IF NOT EXISTS ir_cron_progress (id serial PRIMARY KEY, {AUDIT}, "
    "cron_id integer REFERENCES ir_cron ON DELETE CASCADE, remaining integer DEFAULT 0, done integer DEFAULT 0, "
    "deactivate boolean, timed_out_counter integer DEFAULT 0)",
    f"CREATE TABLE IF NOT EXISTS ir_mail_server (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
    "from_filter varchar, smtp_host varchar, smtp_port integer, "
    "smtp_authentication varchar NOT NULL DEFAULT 'login', "
    "smtp_user varchar, smtp_pass varchar, smtp_encryption varchar NOT NULL DEFAULT 'none', "
    "smtp_debug boolean, max_email_size double precision, sequence integer, active boolean)",
    "CREATE TABLE IF NOT EXISTS res_users_apikeys (id serial PRIMARY KEY, name varchar NOT NULL, "
    "user_id integer NOT NULL REFERENCES res_users(id) ON DELETE CASCADE, scope varchar, "
    "expiration_date timestamp without time zone, "
    "index varchar(8) NOT NULL CHECK (char_length(index) = 8), key varchar NOT NULL, "
    "create_date timestamp without time zone DEFAULT (now() at time zone 'utc'))",
    "CREATE INDEX IF NOT EXISTS res_users_apikeys_user_id_index_idx ON res_users_apikeys (user_id, index)",
    f"CREATE TABLE IF NOT EXISTS ir_ui_view (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
    "model varchar, key varchar, type varchar, priority integer NOT NULL DEFAULT 16, inherit_id integer, "
    "mode varchar, arch_db jsonb, arch_fs varchar, active boolean)",
)

TABLES: dict[str, tuple[str, ...]] = {
    "base": _BASE,
    "bus": (
        "CREATE TABLE IF NOT EXISTS bus_bus (id serial PRIMARY KEY, create_uid integer, "
        "create_date timestamp, write_uid integer, write_date timestamp, channel varchar, message varchar)",
    ),
    "iap": (
        f"CREATE TABLE IF NOT EXISTS iap_service (id serial PRIMARY KEY, {AUDIT}, name jsonb, "
        "technical_name varchar, description jsonb, unit_name jsonb, integer_balance boolean)",
        f"CREATE TABLE IF NOT EXISTS iap_account (id serial PRIMARY KEY, {AUDIT}, service_id integer, "
        "name varchar, account_token varchar, balance varchar, state varchar, service_locked boolean, "
        "warning_threshold double precision)",
    ),
    "mail": (
        f"CREATE TABLE IF NOT EXISTS fetchmail_server (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "active boolean, state varchar, server varchar, port integer, server_type varchar, is_ssl boolean, "
        "attach boolean, original boolean, date timestamp, \"user\" varchar, password varchar, "
        "object_id integer, priority integer)",
        f"CREATE TABLE IF NOT EXISTS mail_template (id serial PRIMARY KEY, {AUDIT}, name jsonb, model varchar, "
        "subject jsonb, email_from varchar, mail_server_id integer, active boolean DEFAULT true)",
        f"CREATE TABLE IF NOT EXISTS mail_push_device (id serial PRIMARY KEY, {AUDIT}, partner_id integer, "
        "endpoint varchar NOT NULL, keys varchar NOT NULL, expiration_time timestamp)",
        f"CREATE TABLE IF NOT EXISTS mail_push (id serial PRIMARY KEY, {AUDIT}, "
        "mail_push_device_id integer NOT NULL REFERENCES mail_push_device ON DELETE CASCADE, payload text)",
        f"CREATE TABLE IF NOT EXISTS mail_message (id serial PRIMARY KEY, {AUDIT}, model varchar, res_id integer, "
        "body text, subject varchar, message_type varchar, author_id integer, date timestamp)",
        f"CREATE TABLE IF NOT EXISTS mail_mail (id serial PRIMARY KEY, {AUDIT}, subject varchar, email_from varchar, "
        "email_to text, body_html text, mail_server_id integer, state varchar NOT NULL DEFAULT 'outgoing', "
        "failure_reason text)",
    ),
    "payment": (
        f"CREATE TABLE IF NOT EXISTS payment_provider (id serial PRIMARY KEY, {AUDIT}, name jsonb NOT NULL, "
        "sequence integer, code varchar NOT NULL, state varchar NOT NULL, is_published boolean, "
        "company_id integer NOT NULL, module_id integer)",
    ),
    "payment_stripe": (
        "ALTER TABLE payment_provider ADD COLUMN IF NOT EXISTS stripe_publishable_key varchar, "
        "ADD COLUMN IF NOT EXISTS stripe_secret_key varchar, ADD COLUMN IF NOT EXISTS stripe_webhook_secret varchar",
    ),
    "auth_oauth": (
        f"CREATE TABLE IF NOT EXISTS auth_oauth_provider (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "client_id varchar, auth_endpoint varchar NOT NULL, scope varchar, validation_endpoint varchar NOT NULL, "
        "data_endpoint varchar, enabled boolean, css_class varchar, body jsonb NOT NULL, sequence integer)",
        "ALTER TABLE res_users ADD COLUMN IF NOT EXISTS oauth_provider_id integer, "
        "ADD COLUMN IF NOT EXISTS oauth_uid varchar, ADD COLUMN IF NOT EXISTS oauth_access_token varchar",
    ),
    "website": (
        f"CREATE TABLE IF NOT EXISTS website (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "sequence integer, domain varchar, company_id integer NOT NULL, default_lang_id integer, "
        "cdn_activated boolean, cdn_url varchar, robots_txt text)",
    ),
    "product": (
        f"CREATE TABLE IF NOT EXISTS product_template (id serial PRIMARY KEY, {AUDIT}, name jsonb NOT NULL, "
        "type varchar, list_price numeric, active boolean DEFAULT true, company_id integer)",
        f"CREATE TABLE IF NOT EXISTS product_product (id serial PRIMARY KEY, {AUDIT}, "
        "product_tmpl_id integer NOT NULL, default_code varchar, active boolean DEFAULT true)",
    ),
    "sale": (
        f"CREATE TABLE IF NOT EXISTS sale_order (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "partner_id integer NOT NULL, state varchar, date_order timestamp NOT NULL, amount_total numeric, "
        "company_id integer NOT NULL, user_id integer)",
    ),
    "account": (
        f"CREATE TABLE IF NOT EXISTS account_move (id serial PRIMARY KEY, {AUDIT}, name varchar, "
        "move_type varchar NOT NULL, state varchar NOT NULL, partner_id integer, date date NOT NULL, "
        "amount_total numeric, company_id integer, journal_id integer)",
    ),
    "stock": (
        f"CREATE TABLE IF NOT EXISTS stock_picking (id serial PRIMARY KEY, {AUDIT}, name varchar, origin varchar, "
        "state varchar, partner_id integer, scheduled_date timestamp NOT NULL, company_id integer)",
    ),
    "purchase": (
        f"CREATE TABLE IF NOT EXISTS purchase_order (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "partner_id integer NOT NULL, state varchar, date_order timestamp NOT NULL, amount_total numeric, "
        "company_id integer NOT NULL)",
    ),
    "crm": (
        f"CREATE TABLE IF NOT EXISTS crm_lead (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "partner_id integer, type varchar NOT NULL, active boolean, expected_revenue numeric, company_id integer)",
    ),
    "project": (
        f"CREATE TABLE IF NOT EXISTS project_project (id serial PRIMARY KEY, {AUDIT}, name jsonb NOT NULL, "
        "active boolean, partner_id integer, company_id integer)",
        f"CREATE TABLE IF NOT EXISTS project_task (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "project_id integer, active boolean, company_id integer)",
    ),
    "hr": (
        f"CREATE TABLE IF NOT EXISTS hr_employee (id serial PRIMARY KEY, {AUDIT}, name varchar, user_id integer, "
        "work_email varchar, active boolean, company_id integer NOT NULL)",
    ),
    "calendar": (
        f"CREATE TABLE IF NOT EXISTS calendar_event (id serial PRIMARY KEY, {AUDIT}, name varchar NOT NULL, "
        "start timestamp NOT NULL, stop timestamp NOT NULL, user_id integer, active boolean)",
    ),
}


def statements_for(module: str) -> tuple[str, ...]:
    """Return the DDL installing (or upgrading) ``module`` runs; empty for modules without tables."""
    return TABLES.get(module, ())
