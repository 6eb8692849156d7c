"""The Odoo exceptions the simulator raises, named as in ``odoo/exceptions.py``.

Their ``odoo_name`` is what JSON-RPC error payloads carry in ``data.name``
(``odoo.exceptions.AccessDenied``), and XML-RPC maps them to the same fault
codes as ``odoo/addons/base/controllers/rpc.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odooplane.sim.httpio import Response


class OdooError(Exception):
    """Base of the simulated Odoo exceptions."""

    odoo_name = "odoo.exceptions.UserError"
    xmlrpc_fault_code = 2  # RPC_FAULT_CODE_WARNING

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class UserError(OdooError):
    """A business error shown to the user."""


class AccessDenied(OdooError):
    """Login/password error (no traceback in real Odoo)."""

    odoo_name = "odoo.exceptions.AccessDenied"
    xmlrpc_fault_code = 3  # RPC_FAULT_CODE_ACCESS_DENIED

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class AccessError(OdooError):
    """Access rights error."""

    odoo_name = "odoo.exceptions.AccessError"
    xmlrpc_fault_code = 4  # RPC_FAULT_CODE_ACCESS_ERROR


class MissingError(UserError):
    """A record does not exist (any more)."""

    odoo_name = "odoo.exceptions.MissingError"


class SessionExpired(Exception):
    """``odoo.http.SessionExpiredException``: the session has no (valid) user."""

    odoo_name = "odoo.http.SessionExpiredException"


class RegistryError(RuntimeError):
    """The database's registry cannot be loaded (``odoo.http.RegistryError``)."""


class DatabaseExists(Warning):
    """``odoo.service.db.DatabaseExists``."""


class HttpError(Exception):
    """An HTTP error response (werkzeug's HTTPException), with its status code."""

    def __init__(self, status: int, description: str = "") -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class Abort(Exception):
    """``werkzeug.exceptions.abort(response)``: stop the handler and send ``response`` as is."""

    def __init__(self, response: Response) -> None:
        super().__init__("abort")
        self.response = response
