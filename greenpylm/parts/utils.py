"""pylm's 2016 home of the cache service (`greenpylm.parts.services` is its home now)."""
from .services import CacheService

__all__ = ["CacheService"]
