"""Root namespace for `invoke` run from the checkout; `vam` (the console script) uses the same one."""

from vam.tasks import ns

__all__ = ["ns"]
