"""Fault injection: the ``sim_*`` keys that make the simulator fail on purpose.

``sim_fail_init`` / ``sim_fail_upgrade`` (true, or module names) raise while a
module is being installed / upgraded, before its state is committed, the way
a broken data file makes real Odoo fail; ``sim_boot_fail`` stops the server
right at start with a traceback; ``sim_crash_after_requests`` makes the
serving process exit abruptly (``os._exit(70)``) after N requests;
``sim_startup_delay`` waits before listening.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from odooplane.sim.config import Config
from odooplane.sim.data import ParseError

CRASH_EXIT_CODE = 70


def _matches(selection: frozenset[str] | None, module: str, processed: Iterable[str]) -> bool:
    if selection is None:
        return False
    if "*" in selection:
        # "true" fails on the first module processed in this run.
        return not any(True for _ in processed)
    return module in selection


def check_module(config: Config, *, module: str, mode: str, processed: Iterable[str]) -> None:
    """Raise ParseError if ``module`` must fail while being installed (mode ``install``) or upgraded.

    ``processed`` lists the modules this run already installed or upgraded.
    """
    selection = config.sim.fail_init if mode == "install" else config.sim.fail_upgrade
    if _matches(selection, module, processed):
        key = "sim_fail_init" if mode == "install" else "sim_fail_upgrade"
        # As odoo.tools.convert's _tag_root: any error in a data file is re-raised as a ParseError
        # naming the file, line and element, chained to the real cause.
        try:
            raise ValueError(f"Wrong value for ir.config_parameter.key: False (injected by {key})")
        except ValueError as cause:
            raise ParseError(
                f"while parsing {module}/data/{module}_data.xml:3, somewhere inside\n"
                f'<record id="{module}_sim_fault" model="ir.config_parameter">\n'
                f'      <field name="key" eval="False"/>\n'
                f"    </record>"
            ) from cause


def boot_failure() -> None:
    """Raise the ImportError ``sim_boot_fail`` stands for (a server that cannot even start)."""
    raise ModuleNotFoundError("No module named 'snap7'", name="snap7")


class RequestCounter:
    """Counts requests served by this process and crashes it after the configured number."""

    def __init__(self, config: Config) -> None:
        self._limit = config.sim.crash_after_requests
        self._count = 0
        self._lock = threading.Lock()

    def served(self) -> None:
        """Account one served request; exit the process abruptly once the limit is reached."""
        if self._limit is None:
            return
        with self._lock:
            self._count += 1
            if self._count >= self._limit:
                logging.getLogger("odoo.service.server").critical(
                    "sim_crash_after_requests: crashing after %d requests", self._count)
                for handler in logging.getLogger().handlers:
                    handler.flush()
                os._exit(CRASH_EXIT_CODE)
