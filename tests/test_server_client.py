"""Server and Client across processes over loopback tcp."""
from __future__ import annotations

import time

import pytest

from greenpylm import CallTimeout, MissingKeyError, RemoteError
from greenpylm.clients import Client
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(60)

NAME = "my_server"


def start_server(name: str = NAME, level: str = "INFO") -> tuple[Proc, str]:
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    proc = Proc(["tests/servers_for_tests.py", "server", name, db, pull, pub, level])
    if level in ("INFO", "DEBUG"):
        proc.wait_for("started")
    return proc, db


@pytest.fixture(scope="module")
def server():
    proc, db = start_server()
    yield proc, db
    proc.stop()


@pytest.fixture
def client(server):
    with Client(NAME, server[1]) as c:
        yield c


def test_two_thousand_sequential_evals_all_answered(client):
    for i in range(2000):
        payload = str(i).encode()
        assert client.eval(f"{NAME}.foo", payload, timeout=10) == b"you sent me " + payload


def test_job_of_ten_thousand_messages_yields_ten_thousand_results(client):
    payloads = [str(i).encode() for i in range(10_000)]
    results = list(client.job(f"{NAME}.foo", iter(payloads), timeout=20))
    assert sorted(results) == sorted(b"you sent me " + p for p in payloads)


def test_job_stops_after_the_expected_number_of_messages(client):
    results = list(client.job(f"{NAME}.foo", (b"x" for _ in range(10)), messages=3, timeout=10))
    assert results == [b"you sent me x"] * 3
    assert client.eval(f"{NAME}.foo", b"next", timeout=10) == b"you sent me next"


@pytest.mark.parametrize("function, remote_type, text", [
    (f"{NAME}.fail", "ValueError", "fail was asked to fail: boom"),
    (f"{NAME}.nothing", "UnknownMethod", "has no method 'nothing'"),
    (f"{NAME}.start", "UnknownMethod", "has no method 'start'"),
    (f"{NAME}._execute", "UnknownMethod", "has no method '_execute'"),
    ("other_server.foo", "WrongServer", "cannot run 'other_server.foo'"),
    (f"{NAME}.number", "TypeError", "returned int, not bytes"),
])
def test_errors_reach_the_client_and_the_server_goes_on(client, function, remote_type, text):
    with pytest.raises(RemoteError) as info:
        client.eval(function, b"boom", timeout=10)
    assert info.value.remote_type == remote_type
    assert text in info.value.remote_message
    if remote_type == "ValueError":
        assert ", in fail" in info.value.remote_traceback
        assert "greenpylm" not in info.value.remote_traceback  # it starts in user code
    assert client.eval(f"{NAME}.foo", b"again", timeout=10) == b"you sent me again"


def test_a_dropped_message_is_none_for_eval_and_skipped_by_job(client):
    assert client.eval(f"{NAME}.drop", b"x", timeout=10) is None
    assert list(client.job(f"{NAME}.drop", [b"a", b"b"], timeout=10)) == []


def test_cache_round_trips_and_missing_keys(client):
    assert client.set(b"value", "key") == "key"
    assert client.get("key") == b"value"
    generated = client.set(b"other")
    assert client.get(generated) == b"other"
    assert client.delete("key") == "key"
    with pytest.raises(MissingKeyError) as info:
        client.get("key")
    assert isinstance(info.value, KeyError) and "'key'" in str(info.value)
    with pytest.raises(KeyError):
        client.delete("key")


def test_sessions_keep_their_keys_to_themselves(server):
    with Client(NAME, server[1], session="alice") as alice, \
            Client(NAME, server[1], session="alic") as alic, \
            Client(NAME, server[1], session="bob") as bob, Client(NAME, server[1]) as plain:
        alice.set(b"alice's", "shared")
        bob.set(b"bob's", "shared")
        alice.set(b"alice's token", "token")
        assert alice.get("shared") == b"alice's"
        assert bob.get("shared") == b"bob's"
        for outsider, key in ((alic, "etoken"), (plain, "alicetoken"), (plain, "shared"),
                              (plain, "token"), (bob, "token")):
            with pytest.raises(MissingKeyError):
                outsider.get(key)
        plain.set(b"everybody's", "token")  # pylm's set(value, key): one cache for all
        assert plain.get("token") == b"everybody's" and alice.get("token") == b"alice's token"
        alice.delete("token")
        assert plain.get("token") == b"everybody's"


def test_given_addresses_are_used_without_asking_the_cache(server):
    with Client(NAME, server[1]) as asking:
        pull, pub = asking.get("pull_address"), asking.get("pub_address")
    with Client(NAME, "tcp://127.0.0.1:1", push_address=pull.decode(),
                sub_address=pub.decode(), this_config=True) as c:
        assert c.eval(f"{NAME}.echo", b"direct", timeout=10) == b"direct"


def test_a_client_made_before_its_server_waits_for_it():
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    with Client("late", db) as c:
        proc = Proc(["tests/servers_for_tests.py", "server", "late", db, pull, pub])
        try:
            assert c.eval("late.foo", b"early", timeout=30) == b"you sent me early"
        finally:
            proc.stop()


def test_timeout_raises_within_its_bound_when_the_server_is_stopped():
    proc, db = start_server("stopping")
    with Client("stopping", db) as c:
        assert c.eval("stopping.foo", b"x", timeout=10) == b"you sent me x"
        proc.stop()
        start = time.monotonic()
        with pytest.raises(CallTimeout, match="1 of 1 messages"):
            c.eval("stopping.foo", b"x", timeout=1.0)
        assert time.monotonic() - start < 3.0
        with pytest.raises(CallTimeout):
            c.get("anything", timeout=0.5)


def test_log_level_is_honoured_and_nothing_is_logged_per_message():
    quiet, qdb = start_server("quiet", "WARNING")
    noisy, ndb = start_server("noisy", "DEBUG")
    normal, db = start_server("normal", "INFO")
    try:
        for name, address in (("quiet", qdb), ("noisy", ndb), ("normal", db)):
            with Client(name, address) as c:
                for _ in range(200):
                    c.eval(f"{name}.foo", b"x", timeout=10)
                for _ in range(5):
                    with pytest.raises(RemoteError):
                        c.eval(f"{name}.fail", b"x", timeout=10)
        for proc in (quiet, noisy, normal):
            proc.stop()
        assert "started" not in quiet.output() and "raised ValueError" in quiet.output()
        assert "| DEBUG" in noisy.output()
        info_lines = [l for l in normal.lines if "| INFO" in l or "| WARNING" in l or "| ERROR" in l]
        assert len(info_lines) <= 4, info_lines  # started, one error report, stop: not per message
        assert sum("raised ValueError" in l for l in normal.lines) == 1
    finally:
        for proc in (quiet, noisy, normal):
            proc.stop()
