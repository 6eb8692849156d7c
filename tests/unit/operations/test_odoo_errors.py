"""The reason of a failed odoo-bin run is the real cause, read from Odoo's log the way Odoo 18
writes it, not the wrapper around it."""

from __future__ import annotations

from pathlib import Path

from odooplane.services.odoo_commands import error_summary

HEAD = """\
2026-05-04 10:00:01,100 4242 INFO db odoo.modules.loading: loading shop_custom/data/shop.xml
2026-05-04 10:00:01,200 4242 WARNING db odoo.modules.loading: Transient module states were reset
2026-05-04 10:00:01,201 4242 ERROR db odoo.modules.registry: Failed to load registry
2026-05-04 10:00:01,202 4242 CRITICAL db odoo.service.server: Failed to initialize database `db`.
"""

DATA_FILE = HEAD + """\
Traceback (most recent call last):
  File "/opt/odoo/odoo/tools/convert.py", line 508, in _tag_root
    f(rec)
  File "/opt/odoo/odoo/tools/convert.py", line 400, in _tag_record
    record = model._load_records([data], self.mode == 'update')
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: Wrong value for res.partner.type: 'bogus'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/opt/odoo/odoo/service/server.py", line 1310, in preload_registries
    registry = Registry.new(dbname, update_module=update_module)
  File "/opt/odoo/odoo/tools/convert.py", line 521, in _tag_root
    raise ParseError('while parsing %s:%s, somewhere inside\\n%s' % (
odoo.tools.convert.ParseError: while parsing /srv/addons/r3/shop_custom/data/shop.xml:3, somewhere inside
<record id="shop_partner" model="res.partner">
      <field name="name">Shop</field>
      <field name="type">bogus</field>
    </record>
2026-05-04 10:00:01,300 4242 INFO db odoo.service.server: Initiating shutdown
"""

VIEW = HEAD + """\
Traceback (most recent call last):
  File "/opt/odoo/odoo/service/server.py", line 1310, in preload_registries
    registry = Registry.new(dbname, update_module=update_module)
odoo.tools.convert.ParseError: while parsing /srv/addons/shop_custom/views/shop.xml:12
Field "bogus_field" does not exist in model "res.partner"

View error context:
{'file': '/srv/addons/shop_custom/views/shop.xml', 'line': 3}
"""

PLAIN = HEAD + """\
Traceback (most recent call last):
  File "/opt/odoo/odoo/modules/loading.py", line 200, in load_module_graph
    getattr(py_module, post_init)(env)
KeyError: 'missing_key'
"""


def summary(tmp_path: Path, text: str) -> str:
    log = tmp_path / "update.log"
    log.write_text(text)
    return error_summary(log)


def test_data_file_error_is_the_wrapped_cause_with_file_line_and_element(tmp_path: Path) -> None:
    reason = summary(tmp_path, DATA_FILE)
    assert reason == ("ValueError: Wrong value for res.partner.type: 'bogus' (while parsing "
                      "/srv/addons/r3/shop_custom/data/shop.xml:3, in <record id=\"shop_partner\" "
                      "model=\"res.partner\">)")
    assert "somewhere inside" not in reason


def test_view_error_is_the_message_after_the_place(tmp_path: Path) -> None:
    assert summary(tmp_path, VIEW) == ('ParseError: Field "bogus_field" does not exist in model "res.partner" '
                                       "(while parsing /srv/addons/shop_custom/views/shop.xml:12)")


def test_only_the_last_traceback_counts_and_other_errors_are_the_final_exception(tmp_path: Path) -> None:
    assert summary(tmp_path, PLAIN + DATA_FILE).startswith("ValueError: Wrong value")
    assert summary(tmp_path, DATA_FILE + PLAIN) == "KeyError: 'missing_key'"


def test_without_traceback_the_last_error_message_without_the_logger(tmp_path: Path) -> None:
    assert summary(tmp_path, HEAD) == "Failed to initialize database `db`."
    assert error_summary(tmp_path / "never-written.log") == ""
