"""Chained servers: each pulls, applies its step, pushes to the next; the
last one pushes to the `LoopClient`, which streams jobs in and results out.

    from greenpylm.chained import Server, LastServer, LoopClient
"""
from .clients import Client, LoopClient
from .servers import LastServer, Server

__all__ = ["Client", "LastServer", "LoopClient", "Server"]
