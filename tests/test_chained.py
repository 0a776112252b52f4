"""Chained servers as separate processes, with shipped callables."""
from __future__ import annotations

import json
import re

import pytest

from greenpylm import RemoteError
from greenpylm.chained.client import LoopClient
from greenpylm.shipping import Bundle, Shipped
from greenpylm.shipping.signing import digest_of
from greenpylm.wire import Message, decode, encode
from greenpylm.wire.transport import deadline_after, recv_frames, send_frames, wait_readable
from helpers import Proc, free_port, tcp

pytestmark = pytest.mark.timeout(120)
KEY = {"GREENPYLM_KEY": "the chain's shared secret"}


def chain(procs, level="INFO", forget_every=0):
    """Three generic chained servers (processes); returns (first pull, client pull, procs)."""
    pulls = [tcp(free_port()) for _ in range(3)]
    back = tcp(free_port())
    nexts = pulls[1:] + [back]
    started = []
    for i, (pull, following) in enumerate(zip(pulls, nexts)):
        if forget_every:
            args = ["tests/servers_for_tests.py", "forgetful", f"step{i}", pull, following,
                    str(forget_every), *(["last"] if i == 2 else [])]
        else:
            role = "last" if i == 2 else "server"
            where = ["--push", following] if role == "last" else ["--next", following]
            args = ["-m", "greenpylm.chained", role, f"step{i}", "--pull", pull, *where,
                    "--log-level", level]
        proc = Proc(args, env=KEY)
        procs.append(proc)
        started.append(proc)
    for proc in started:
        proc.wait_for("started")
    return pulls[0], back, started


def run_client(procs, *args, env=KEY):
    client = Proc(["tests/chained_client_for_tests.py", *args], env=env)
    procs.append(client)
    assert client.popen.wait(90) == 0, client.drain()
    return json.loads(client.drain().splitlines()[-1])


def test_every_kind_of_callable_through_three_processes(procs):
    first, back, _ = chain(procs)
    out = run_client(procs, "all", first, back)
    xs = range(5)
    assert out["lambda"] == [(x + 1) * 2 - 3 for x in xs]
    assert out["closure"] == [-(x * 7 + 7) for x in xs]
    assert out["main function"] == [27 * x for x in xs]
    assert out["partial"] == [str(max(100, 2 ** x)) for x in xs]
    assert out["instance"] == [x + 111 for x in xs]


def test_ten_thousand_items_and_each_lambda_crosses_once_per_server(procs):
    first, back, servers = chain(procs, level="DEBUG")
    out = run_client(procs, "many", "10000", first, back)
    assert out == {"count": 10000, "sorted": True}
    for server in servers:
        server.stop()
        assert server.output().count("received a code frame") == 1, server.output()
        assert len(re.findall(r"loaded shipped callable", server.output())) == 1


def test_evicting_callables_mid_job_loses_no_item(procs):
    first, back, servers = chain(procs, forget_every=1000)
    out = run_client(procs, "many", "5000", first, back)
    assert out == {"count": 5000, "sorted": True}
    for server in servers:
        server.stop()
    assert any("asked for the code of" in s.output() for s in servers)


def test_code_signed_with_another_key_never_runs(procs, tmp_path):
    first, back, servers = chain(procs)
    marker = tmp_path / "must-not-exist"
    out = run_client(procs, "evil", str(marker), first, back,
                     env={"GREENPYLM_KEY": "a different key"})
    # another key is another cluster: the chain's CURVE handshake refuses it
    assert out["error"] == "CallTimeout"
    assert not marker.exists()
    assert all(s.alive() for s in servers)


def test_unsigned_or_undecodable_code_is_refused_and_the_chain_goes_on(procs, tmp_path):
    first, back, servers = chain(procs)
    marker = tmp_path / "must-not-exist"
    evil = Shipped.of(lambda x: open(str(marker), "w"))
    with LoopClient(back, first, key=KEY["GREENPYLM_KEY"]) as client:
        steps = f"s.{evil.reference} .{evil.reference} .{evil.reference}"
        unsigned = Message(steps, b"x", client="tester", code=Bundle.encode([evil]))
        junk = Shipped(digest_of(b"not dill at all"), b"not dill at all")
        undecodable = Message(f"s.{junk.reference} .x .y", b"x", client="tester")
        client.seal.enclose(undecodable, [junk])  # signed properly, but not a pickle
        client.seal.sign(undecodable)
        send_frames(client._push, encode([unsigned, undecodable]))
        replies = []
        deadline = deadline_after(20)
        while len(replies) < 2 and wait_readable(client._replies, deadline):
            replies += decode(recv_frames(client._replies))
        assert [r.error.type for r in replies] == ["CodeRefused", "CodeRefused"]
        assert "not signed" in replies[0].error.message
        assert "cannot load" in replies[1].error.message
        assert not marker.exists()
        assert client.eval([len, str, lambda s: s + "!"], "abc", timeout=20) == "3!"


def test_errors_in_shipped_code_carry_the_remote_traceback(procs):
    first, back, servers = chain(procs)
    with LoopClient(back, first, key=KEY["GREENPYLM_KEY"]) as client:
        with pytest.raises(RemoteError) as info:
            client.eval([lambda x: x, lambda x: 1 / x, lambda x: x], 0, timeout=20)
        assert info.value.remote_type == "ZeroDivisionError"
        assert "lambda" in info.value.remote_traceback
        assert client.eval([lambda x: x, lambda x: 1 / x, lambda x: x], 4, timeout=20) == 0.25


def test_example_chained_single_runs_as_the_seed_shows(procs, netns):
    """The seed's fixed addresses, in a namespace of the test's own."""
    servers = [Proc([f"examples/chained_single/{name}.py"], netns=netns)
               for name in ("step1", "step2", "last")]
    procs.extend(servers)
    for server in servers:
        server.wait_for("started")
    client = Proc(["examples/chained_single/client.py"], netns=netns)
    procs.append(client)
    assert client.popen.wait(60) == 0
    assert "Client got:  b'ACK: got it too, after you sent me a message'" in client.drain()
    for server in servers:
        server.wait_for("Got a message")


def test_example_chained_lambdas_runs(procs):
    from helpers import free_port_block
    env = {"EXAMPLE_BASE_PORT": str(free_port_block(4)), "GREENPYLM_KEY": "example key"}
    servers = Proc(["examples/chained_lambdas/servers.py"], env=env)
    procs.append(servers)
    for name in ("first", "second", "third"):
        servers.wait_for(f"{name}.server - started")
    client = Proc(["examples/chained_lambdas/client.py"], env=env)
    procs.append(client)
    assert client.popen.wait(60) == 0
    assert client.drain().splitlines()[-5:] == [f"{(x + 10) ** 2} is a square" for x in range(5)]
