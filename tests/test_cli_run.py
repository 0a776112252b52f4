"""``greenpylm run`` starts every kind of server, and a master with supervised
worker processes; ``methods`` lists docstrings; payloads are bytes end to end."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

from helpers import ROOT, Proc, free_port, tcp

pytestmark = pytest.mark.timeout(90)

TESTS = str(ROOT / "tests")


def cli(*args: str, stdin: bytes = b"", timeout: float = 30) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": TESTS}
    return subprocess.run([sys.executable, "-m", "greenpylm", *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, timeout=timeout)


def run(*args: str) -> Proc:
    return Proc(["-m", "greenpylm", "run", *args], cwd=ROOT, env={"PYTHONPATH": TESTS})


def start_master(procs, *more: str) -> tuple[Proc, str]:
    """A Master 'm' run from the command line (with `more` options); it and its db."""
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = run("greenpylm.servers:Master", "m", "--db", db, "--pull", pull, "--pub", pub,
                 "--worker-pull", wpull, "--worker-push", wpush, *more)
    procs.append(master)
    return master, db


def pids_of_children(pid: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.add(int(entry))
    return children


def test_a_master_with_two_supervised_workers_serves_a_job_and_restarts_a_crash(procs):
    master, db = start_master(procs, "--workers", "2", "--worker", "servers_for_tests:NamedWorker")
    master.wait_for("worker m-worker-1 joined")
    master.wait_for("worker m-worker-2 joined")
    lines = b"".join(b"%d\n" % i for i in range(500))
    result = cli("job", "m", db, "work", stdin=lines)
    assert result.returncode == 0, result.stderr
    answers = result.stdout.splitlines()
    assert sorted(a.split(b"|")[0] for a in answers) == sorted(lines.split())
    assert {a.split(b"|")[1] for a in answers} <= {b"m-worker-1", b"m-worker-2"}

    started = re.search(r"started worker process m-worker-1 \(pid (\d+)\)",
                        master.wait_for("started worker process m-worker-1"))
    os.kill(int(started.group(1)), signal.SIGKILL)  # a crash
    master.wait_for("worker process m-worker-1 (pid")
    master.wait_for("started worker process m-worker-1", count=2)
    master.wait_for("worker m-worker-1 joined", count=2)
    assert cli("call", "m", db, "work", "again").returncode == 0

    children = pids_of_children(master.popen.pid)
    assert len(children) == 2
    assert master.stop() == 0, master.output()  # SIGTERM: workers first, then the master
    assert not any(os.path.exists(f"/proc/{pid}") for pid in children)
    assert "Traceback" not in master.output()


def test_workers_alone_run_as_n_processes_of_their_class(procs):
    master, db = start_master(procs)
    master.wait_for("started")
    workers = run("servers_for_tests:NamedWorker", "w", "--db", db, "--workers", "3")
    procs.append(workers)
    for i in (1, 2, 3):
        master.wait_for(f"worker w-{i} joined")
    listing = cli("methods", "m", db)
    assert listing.returncode == 0, listing.stderr
    text = listing.stdout.decode()
    assert "m.work  (workers: w-1, w-2, w-3)" in text
    assert "    Answers the payload, '|' and the worker's name." in text
    assert workers.stop() == 0, workers.output()
    master.wait_for("worker w-3 left")


@pytest.mark.parametrize("kind, options, ready", [
    ("greenpylm.servers:Pipeline", ["--db", "DB", "--sub", "A", "--pub", "B",
                                    "--previous", "up"], "started"),
    ("greenpylm.servers:Sink", ["--db", "DB", "--sub", "A", "B", "--pub", "C",
                                "--previous", "up1", "up2"], "started"),
    ("greenpylm.servers:Hub", ["--db", "DB", "--sub", "A", "--pub", "B", "--worker-pull", "C",
                               "--worker-push", "D", "--previous", "up"], "started"),
    ("greenpylm.chained.servers:Server", ["--pull", "A", "--next", "B", "--db", "DB"],
     "started"),
    ("greenpylm.chained.servers:LastServer", ["--pull", "A", "--push", "B"], "started"),
    ("greenpylm.servers:HttpWorker", ["--listen-address", "http://127.0.0.1:0"], "started"),
])
def test_every_kind_of_server_starts_from_the_command_line(procs, kind, options, ready):
    addresses = {name: tcp(free_port()) for name in ("DB", "A", "B", "C", "D")}
    server = run(kind, "s", *[addresses.get(o, o) for o in options])
    procs.append(server)
    server.wait_for(ready)
    assert server.stop() == 0, server.output()
    assert "Traceback" not in server.output()


def test_a_mux_worker_class_runs_and_serves(procs):
    master, db = start_master(procs, "--workers", "1", "--worker", "greenpylm.servers:MuxWorker")
    master.wait_for("worker m-worker-1 joined")
    result = cli("call", "m", db, "echo", "mux")  # a framework class: its echo only
    assert (result.returncode, result.stdout) == (0, b"mux\n"), result.stderr


def start_echo(procs) -> str:
    """The EchoServer 'echo' of servers_for_tests, run from the command line; its db."""
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = run("servers_for_tests:EchoServer", "echo", "--db", db, "--pull", pull,
                 "--pub", pub)
    procs.append(server)
    server.wait_for("started")
    return db


def test_methods_lists_a_servers_own_docstrings_and_checks_its_name(procs):
    db = start_echo(procs)
    listing = cli("methods", "echo", db)
    assert listing.returncode == 0, listing.stderr
    text = listing.stdout.decode()
    assert "echo.foo\n    Answers b'you sent me ' and the payload.\n" in text
    assert "echo.fail\n" in text and "echo.number\n" in text
    wrong = cli("stats", "other", db)
    assert wrong.returncode == 1
    assert wrong.stderr.decode().strip() == f"error: the server at {db} is 'echo', not 'other'"
    assert cli("methods", "other", db).returncode == 1


def test_binary_payloads_and_results_go_through_untouched(procs, tmp_path):
    db = start_echo(procs)
    binary = bytes(range(256)) * 4
    (tmp_path / "payload").write_bytes(binary)
    by_file = cli("call", "echo", db, "foo", "--file", str(tmp_path / "payload"))
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout == b"you sent me " + binary + b"\n"
    by_stdin = cli("call", "echo", db, "foo", "-", stdin=binary)
    assert by_stdin.stdout == b"you sent me " + binary + b"\n"
    lines = cli("job", "echo", db, "foo", "--ordered", stdin=b"\xff\xfe\n\x00\x01\n")
    assert lines.stdout == b"you sent me \xff\xfe\nyou sent me \x00\x01\n"


def test_json_payloads_are_checked_and_results_printed_as_json(procs):
    db = start_echo(procs)
    good = cli("call", "echo", db, "echo", '{"a": [1, 2]}', "--json")
    assert (good.returncode, json.loads(good.stdout)) == (0, {"a": [1, 2]}), good.stderr
    bad = cli("job", "echo", db, "echo", "--json", stdin=b'{"a": 1}\nnot json\n')
    assert bad.returncode == 2
    assert "line 2 is not JSON" in bad.stderr.decode()
