"""pylm's first name for `greenpylm.chained.clients` (the chained-servers chapter uses it)."""
from .clients import Client, LoopClient

__all__ = ["Client", "LoopClient"]
