"""Layer 2, shipping: callables serialized with dill, bundled, signed, cached.

Nothing is unpickled before its signature has been checked (`Seal.open`).
"""
from .bundle import Bundle, Shipped
from .cache import CallableCache, CodeRefused
from .seal import Seal
from .signing import KEY_VARIABLE, Signer, resolve_key

__all__ = ["Bundle", "CallableCache", "CodeRefused", "KEY_VARIABLE", "Seal", "Shipped", "Signer",
           "resolve_key"]
