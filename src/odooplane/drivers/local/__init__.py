from odooplane.drivers.local.driver import LocalDriver

__all__ = ["LocalDriver"]
