"""The ``greenpylm`` command line, run as real processes (``python -m greenpylm``)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import ROOT, Proc, free_port, tcp

pytestmark = pytest.mark.timeout(60)

TESTS = str(ROOT / "tests")


def cli(*args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": TESTS}
    return subprocess.run([sys.executable, "-m", "greenpylm", *args], cwd=ROOT, env=env,
                          input=stdin if stdin is not None else "", text=True,
                          capture_output=True, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "expected an error on stderr"
    return lines[-1]


@pytest.fixture
def echo_server():
    name = "echo"
    db = tcp(free_port())
    proc = Proc(["tests/servers_for_tests.py", "server", name, db, tcp(free_port()),
                 tcp(free_port())])
    try:
        proc.wait_for("started")
        yield name, db
    finally:
        proc.stop()


# -- run ----------------------------------------------------------------------
def test_run_serves_a_server_subclass():
    db = tcp(free_port())
    proc = Proc(["-m", "greenpylm", "run", "servers_for_tests:EchoServer", "viacli",
                 "--db", db, "--pull", tcp(free_port()), "--pub", tcp(free_port())],
                cwd=ROOT, env={"PYTHONPATH": TESTS})
    try:
        proc.wait_for("started")
        result = cli("call", "viacli", db, "viacli.foo", "hello")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "you sent me hello\n"
    finally:
        assert proc.stop() == 0, proc.output()  # SIGTERM: a graceful stop
    assert "Traceback" not in proc.output()


def test_run_serves_a_worker_subclass_and_stats_sees_it():
    db = tcp(free_port())
    master = Proc(["tests/servers_for_tests.py", "master", "boss", db, tcp(free_port()),
                   tcp(free_port()), tcp(free_port()), tcp(free_port())])
    worker = None
    try:
        master.wait_for("started")
        worker = Proc(["-m", "greenpylm", "run", "servers_for_tests:NamedWorker", "w-cli",
                       "--db", db], cwd=ROOT, env={"PYTHONPATH": TESTS})
        worker.wait_for("started")
        result = cli("call", "boss", db, "boss.work", "x")
        assert result.returncode == 0, result.stderr
        assert result.stdout == "x|w-cli\n"
        stats = cli("stats", "boss", db)
        assert stats.returncode == 0, stats.stderr
        data = json.loads(stats.stdout)
        assert data["name"] == "boss"
        assert data["workers_seen"] == ["w-cli"]
        assert data["in_flight"] == 0
        assert data["messages_in"] >= 1
    finally:
        if worker is not None:
            worker.stop()
        master.stop()


# -- call -----------------------------------------------------------------------
def test_call_prints_the_result(echo_server):
    name, db = echo_server
    result = cli("call", name, db, "echo.foo", "héllo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "you sent me héllo\n"
    short = cli("call", name, db, "foo", "short")  # 'method' means SERVER.method
    assert short.stdout == "you sent me short\n"


def test_call_remote_error_is_one_line_and_exit_1(echo_server):
    name, db = echo_server
    result = cli("call", name, db, "echo.fail", "please")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "error: ValueError: fail was asked to fail: please\n"
    unknown = cli("call", name, db, "echo.nope", "x")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: UnknownMethod: ")
    assert len(unknown.stderr.splitlines()) == 1


def test_call_timeout_exit_1():
    result = cli("call", "nobody", tcp(free_port()), "nobody.foo", "x", "--timeout", "0.5")
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith("error: timeout: ")
    assert len(result.stderr.splitlines()) == 1


# -- job --------------------------------------------------------------------------
def test_job_streams_stdin_lines(echo_server):
    name, db = echo_server
    result = cli("job", name, db, "echo.foo", stdin="a\nb b\n\nlast")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(
        ["you sent me a", "you sent me b b", "you sent me ", "you sent me last"])


def test_job_many_lines_ordered(echo_server):
    name, db = echo_server
    lines = [str(i) for i in range(5000)]
    result = cli("job", name, db, "foo", "--ordered", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"you sent me {i}" for i in lines]


def test_job_results_come_before_stdin_ends(echo_server):
    name, db = echo_server
    env = {**os.environ, "PYTHONPATH": TESTS}
    proc = subprocess.Popen([sys.executable, "-m", "greenpylm", "job", name, db, "foo",
                             "--window", "1"], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write("first\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "you sent me first\n"  # stdin still open
        proc.stdin.write("second\n")
        proc.stdin.close()
        assert proc.stdout.read() == "you sent me second\n"
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- stats ---------------------------------------------------------------------------
def test_stats_counts_the_calls(echo_server):
    name, db = echo_server
    calls = 5
    for i in range(calls):
        assert cli("call", name, db, "echo.foo", str(i)).returncode == 0
    assert cli("call", name, db, "echo.fail", "x").returncode == 1
    result = cli("stats", name, db)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["name"] == name
    assert data["messages_in"] >= calls + 1
    assert data["messages_out"] >= calls + 1
    assert data["errors"] >= 1
    assert data["uptime_s"] > 0
    assert "in_flight" not in data  # a master's figure
    assert data["clients"] >= 0 and data["held_for_clients"] == 0  # the client link's
    assert data["counters"]["in"] == data["messages_in"]


def test_stats_timeout_exit_1():
    result = cli("stats", "nobody", tcp(free_port()), "--timeout", "0.5")
    assert result.returncode == 1
    assert one_error_line(result).startswith("error: timeout: ")


# -- demo --------------------------------------------------------------------------------
def test_demo():
    result = cli("demo")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "eval     -> b'HELLO GREENPYLM!'" in out
    assert "job      -> [b'ONE!', b'THREE!', b'TWO!']" in out
    assert "results streamed" in out
    assert "cache    -> b'kept on the server'" in out
    assert "error    -> ZeroDivisionError - division by zero" in out
    assert "and on   -> b'0.25'" in out
    assert "Traceback" not in result.stderr


# -- bad arguments, help ----------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["bogus"],
    [],
    ["call", "echo"],
    ["call", "echo", "not-an-address", "foo", "x"],
    ["call", "echo", "tcp://127.0.0.1:1", "foo", "x", "--timeout", "soon"],
    ["run", "servers_for_tests:EchoServer", "n"],  # no --db
    ["run", "no_such_module_here:Thing", "n", "--db", "tcp://127.0.0.1:1"],
    ["run", "servers_for_tests:NoSuchClass", "n", "--db", "tcp://127.0.0.1:1"],
    ["run", "servers_for_tests", "n", "--db", "tcp://127.0.0.1:1"],
    ["run", "json:JSONDecoder", "n", "--db", "tcp://127.0.0.1:1"],
    ["run", "servers_for_tests:EchoServer", "n", "--db", "tcp://127.0.0.1:1"],  # no --pull/--pub
    ["run", "servers_for_tests:EchoServer", "n", "--db", "tcp://127.0.0.1:1",
     "--log-level", "LOUD"],
])
def test_bad_arguments(args):
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    line = one_error_line(result)
    assert "error" in line
    assert len(result.stderr.splitlines()) <= 3  # usage (at most 2 lines) and the error


@pytest.mark.parametrize("command", [[], ["run"], ["call"], ["job"], ["stats"], ["demo"]])
def test_help(command):
    result = cli(*command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: greenpylm")
    assert result.stderr == ""
