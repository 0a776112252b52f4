"""The cache service's bounds: bytes held, and what one request may carry."""
from __future__ import annotations

import pytest

from greenpylm import MissingKeyError, ProtocolError, RemoteError
from greenpylm.clients import Client
from greenpylm.parts.cache_service import Cache, CacheFull
from greenpylm.parts.services import CacheService
from greenpylm.parts.servers import ServerTemplate
from helpers import free_port, tcp

pytestmark = pytest.mark.timeout(60)


def test_the_cache_counts_the_bytes_of_keys_and_values():
    cache = Cache(limit=100)
    cache["k"] = b"x" * 50
    cache[("s", "k")] = b"y" * 40
    assert cache.size == 1 + 50 + 2 + 40
    cache["k"] = b"x" * 10  # smaller: room again
    assert cache.size == 1 + 10 + 2 + 40
    with pytest.raises(CacheFull, match="limit of 100"):
        cache["big"] = b"z" * 60
    assert "big" not in cache and cache.size == 53
    assert cache.pop(("s", "k")) == b"y" * 40 and cache.size == 11
    del cache["k"]
    assert cache.size == 0 and not cache


@pytest.fixture
def small_cache(running):
    db = tcp(free_port())
    server = ServerTemplate("small", cache_limit=64 * 1024, max_frame=1024 * 1024)
    server.register_bypass(CacheService, "Cache", db)
    server.preset_cache(name="small")
    running(server)
    return db


def test_a_full_cache_says_so_and_the_server_stays_up(small_cache):
    with Client("small", small_cache) as client:
        client.set(b"x" * 40_000, "first")
        with pytest.raises(RemoteError, match="CacheFull.*limit of 65536") as info:
            client.set(b"y" * 40_000, "second")
        assert info.value.remote_type == "CacheFull"
        with pytest.raises(MissingKeyError):
            client.get("second")
        client.delete("first")
        client.set(b"y" * 40_000, "second")  # room again
        assert client.get("second") == b"y" * 40_000


def test_a_value_or_key_past_the_limits_gets_an_error_naming_the_limit(small_cache):
    with Client("small", small_cache) as client:
        with pytest.raises(RemoteError, match=r"exceeds 1048576"):
            client.set(b"v" * (1024 * 1024 + 1), "huge")
        with pytest.raises(ProtocolError, match="cache key is 70000 bytes long.*65535 at most"):
            client.set(b"v", "k" * 70_000)
        assert client.get("name") == b"small"
