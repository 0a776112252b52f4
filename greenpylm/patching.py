"""Living with gevent's monkey patching: greenpylm works patched or not, but
`gevent.monkey.patch_all()` must run before anything else is imported (as
gevent itself requires), so this module notes whether it had when
greenpylm was imported, and `check_patch_order` warns once if it ran later.
"""
from __future__ import annotations

from typing import Any

from gevent import monkey

_patched_at_import = monkey.is_module_patched("socket")
_warned = False


def is_patched() -> bool:
    return monkey.is_module_patched("socket")


def check_patch_order(log: Any) -> bool:
    """Warn (once per process) if the standard library was patched after
    greenpylm was imported; True when the order is right."""
    global _warned
    if is_patched() and not _patched_at_import:
        if not _warned:
            _warned = True
            log.warning("gevent.monkey.patch_all() ran after greenpylm was imported: call it "
                        "first, before any other import, so that every module (greenpylm's "
                        "dependencies and yours) uses the patched standard library")
        return False
    return True
