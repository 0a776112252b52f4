"""The stream examples run end to end, each script a process of its own.

pipeline, master_pipeline, tee, stream, stream_sink and sink: every test
moves its example to a free block of loopback ports (EXAMPLE_BASE_PORT),
starts the servers, waits until each has said "started" and each
subscriber "subscribed to ..." (what a server publishes before a
subscription is live never reaches that subscriber), then runs the client
and checks what it printed.
"""
from __future__ import annotations

import ast
import re

import pytest

from helpers import Proc, free_port_block

pytestmark = pytest.mark.timeout(120)


class Example:
    """One example's processes, all on the port block starting at `base`."""

    def __init__(self, procs: list, folder: str, ports: int) -> None:
        self.procs = procs
        self.folder = folder
        self.base = free_port_block(ports)
        self.env = {"EXAMPLE_BASE_PORT": str(self.base)}
        self.servers: list[Proc] = []

    def address(self, offset: int) -> str:
        return f"tcp://127.0.0.1:{self.base + offset}"

    def start(self, script: str, *args: str, ready: tuple[str, ...] = ("started",)) -> Proc:
        """Start `script` and wait for each line of `ready` in its output."""
        proc = Proc([f"examples/{self.folder}/{script}", *args], env=self.env)
        self.procs.append(proc)
        for text in ready:
            proc.wait_for(text)
        if script != "client.py":
            self.servers.append(proc)
        return proc

    def subscribed(self, script: str, topic: str, *offsets: int) -> Proc:
        """Start a pipeline or sink; wait until it listens to `topic` at each pub."""
        return self.start(script, ready=("started",) + tuple(
            f"subscribed to '{topic}' at {self.address(o)}" for o in offsets))

    def client(self, *args: str) -> tuple[list[bytes], str]:
        """Run client.py to its end: the results it printed, and all its output."""
        proc = self.start("client.py", *args, ready=())
        assert proc.popen.wait(60) == 0, proc.drain()
        output = proc.drain()
        results = [ast.literal_eval(line[len("Client got: "):])
                   for line in output.splitlines() if line.startswith("Client got: ")]
        return results, output

    def all_alive(self) -> bool:
        """Whether every server of the example is still running."""
        return all(p.alive() for p in self.servers)


def test_pipeline_runs_both_steps_and_drops(procs):
    ex = Example(procs, "pipeline", 5)
    ex.start("server.py")
    pipeline = ex.subscribed("pipeline.py", "server", 2)
    results, output = ex.client()
    assert results == [b"server saw keep %d, then pipeline saw it" % i for i in (0, 2, 3, 5)]
    assert not any(b"drop" in r for r in results)
    assert "Client done: 4 results" in output  # the job ended by itself
    pipeline.wait_for("pipeline dropped b'server saw drop 1'")
    pipeline.wait_for("pipeline dropped b'server saw drop 4'")
    assert ex.all_alive()


def test_master_pipeline_goes_through_a_worker_then_the_pipeline(procs):
    ex = Example(procs, "master_pipeline", 7)
    ex.start("master.py")
    ex.start("worker.py", "w1", ready=("working for 'master'",))
    ex.start("worker.py", "w2", ready=("working for 'master'",))
    ex.subscribed("pipeline.py", "master", 2)
    results, _ = ex.client()
    shape = re.compile(rb"message (\d) \| worker w[12] \| pipeline")
    matches = [shape.fullmatch(r) for r in results]
    assert all(matches), results
    assert sorted(int(m.group(1)) for m in matches) == list(range(10))
    assert ex.all_alive()


def test_tee_gives_every_message_to_both_pipelines(procs):
    ex = Example(procs, "tee", 7)
    ex.start("server.py")
    branches = [ex.subscribed(f"pipeline{i}.py", "server", 2) for i in (1, 2)]
    results, _ = ex.client("1")
    assert results == [b"server saw message %d, then pipeline1" % i for i in range(5)]
    for i, branch in enumerate(branches, 1):
        for n in range(5):
            branch.wait_for(f"pipeline{i} got b'server saw message {n}'")
    results, _ = ex.client("2")
    assert results == [b"server saw message %d, then pipeline2" % i for i in range(5)]
    assert ex.all_alive()


def test_stream_splits_even_and_odd_exactly(procs):
    ex = Example(procs, "stream", 7)
    ex.start("server.py")
    ex.subscribed("even.py", "even", 2)
    ex.subscribed("odd.py", "odd", 2)
    even, _ = ex.client("even")
    odd, _ = ex.client("odd")
    assert sorted(even) == [b"%d is even" % i for i in range(0, 10, 2)]
    assert sorted(odd) == [b"%d is odd" % i for i in range(1, 10, 2)]
    assert ex.all_alive()


def test_stream_sink_joins_both_branches(procs):
    ex = Example(procs, "stream_sink", 9)
    ex.start("server.py")
    ex.subscribed("even.py", "even", 2)
    ex.subscribed("odd.py", "odd", 2)
    ex.subscribed("sink.py", "parity", 4, 6)
    results, _ = ex.client()
    expected = [b"sink got: %d is %s" % (i, b"odd" if i % 2 else b"even") for i in range(10)]
    assert sorted(results) == sorted(expected)
    assert ex.all_alive()


def test_sink_merges_both_branches_of_a_tee(procs):
    ex = Example(procs, "sink", 9)
    ex.start("server.py")
    ex.subscribed("left.py", "server", 2)
    ex.subscribed("right.py", "server", 2)
    ex.subscribed("sink.py", "branch", 4, 6)
    results, _ = ex.client()
    expected = [b"sink got: server saw message %d on the %s" % (i, side)
                for i in range(5) for side in (b"left", b"right")]
    assert sorted(results) == sorted(expected)
    assert ex.all_alive()
