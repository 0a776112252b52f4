"""One hub: single-process clusters, monkey patching, concurrency, offloading, threads."""
from __future__ import annotations

import gc
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import gevent
import greenlet
import pytest
import zmq.green as zmq

from greenpylm import MissingKeyError
from greenpylm.clients import Client
from greenpylm.runner import Cluster
from greenpylm.servers import Master, Worker
from helpers import Proc, free_port, free_port_block, python_code, tcp

pytestmark = pytest.mark.timeout(90)


def test_single_process_example_runs_without_threads():
    proc = Proc(["examples/single_process/cluster.py", "3000"])
    assert proc.popen.wait(60) == 0
    out = proc.drain()
    assert "threads while the job runs: 1" in out
    assert "results: 3000" in out


class Echo(Worker):
    def echo_twice(self, payload):
        return payload * 2


def alive_greenlets() -> set:
    return {g for g in gc.get_objects() if isinstance(g, greenlet.greenlet) and not g.dead
            and g is not greenlet.getcurrent() and g is not gevent.get_hub()}


def test_stopping_a_cluster_leaves_no_greenlet_socket_or_context():
    before = alive_greenlets()  # what other tests of this process may have left
    context = zmq.Context.instance()
    with Cluster() as cluster:
        master = Master("m", "inproc://p", "inproc://s", "inproc://wp", "inproc://wq",
                        "inproc://db")
        cluster.start(Echo("w1", "inproc://db"), master, Echo("w2", "inproc://db"))
        client = cluster.client("m", "inproc://db")
        assert sorted(client.job("m.echo_twice", [b"a", b"b"], timeout=10)) == [b"aa", b"bb"]
        sockets = [p.socket for s in cluster.servers for p in s.parts]
    assert context.closed and all(s.closed for s in sockets)
    assert alive_greenlets() - before == set()


def test_two_hundred_sleeping_calls_overlap_on_one_worker(procs):
    db, pull, pub, wpull, wpush = (tcp(free_port()) for _ in range(5))
    master = Proc(["tests/patched_servers_for_tests.py", "master", "m", db, pull, pub, wpull,
                   wpush])
    procs.append(master)
    master.wait_for("started")
    worker = Proc(["tests/patched_servers_for_tests.py", "sleeper", db])
    procs.append(worker)
    worker.wait_for("working for")
    with Client("m", db) as client:
        client.eval("m.nap", b"warm", timeout=10)
        start = time.monotonic()
        results = list(client.job("m.nap", (b"%d" % i for i in range(200)), timeout=20))
        elapsed = time.monotonic() - start
    assert sorted(results) == sorted(b"%d" % i for i in range(200))
    assert elapsed < 5.0, f"200 naps of 0.1 s took {elapsed:.1f} s: they did not overlap"
    assert "ran after greenpylm was imported" not in worker.output()


def test_the_cache_answers_while_a_cpu_bound_call_runs_in_the_pool(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = Proc(["tests/patched_servers_for_tests.py", "cruncher", "c", db, pull, pub])
    procs.append(server)
    server.wait_for("started")
    with Client("c", db) as client, Client("c", db) as other:
        call = gevent.spawn(client.eval, "c.spin", b"2.0", timeout=30)
        deadline = time.monotonic() + 10
        while True:  # the cache itself says when the computation has begun
            try:
                other.get("spinning", timeout=5)
                break
            except MissingKeyError:
                assert time.monotonic() < deadline
                gevent.sleep(0.01)
        start = time.monotonic()
        assert other.get("name", timeout=5) == b"c"
        answered = time.monotonic() - start
        assert not call.ready(), "the CPU-bound call should still be running"
        assert answered < 0.5, f"the cache took {answered:.2f} s to answer"
        assert int(call.get(timeout=30)) > 0


def test_the_legacy_wsgi_app_answers_http_with_cluster_results(procs):
    env = {"EXAMPLE_BASE_PORT": str(free_port_block(5)), "HTTP_PORT": str(free_port())}
    cluster = Proc(["examples/legacy_app/cluster.py"], env=env)
    procs.append(cluster)
    cluster.wait_for("cluster up")
    app = Proc(["examples/legacy_app/app.py"], env=env)
    procs.append(app)
    app.wait_for("serving on")
    url = f"http://127.0.0.1:{env['HTTP_PORT']}/square?n="

    def ask(n):
        with urllib.request.urlopen(url + str(n), timeout=20) as response:
            return response.status, response.read()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(ask, range(40)))
    assert answers == [(200, b"%d\n" % (n * n)) for n in range(40)]


def test_clients_in_plain_threads_each_with_their_own_hub(procs):
    db, pull, pub = (tcp(free_port()) for _ in range(3))
    server = Proc(["tests/servers_for_tests.py", "server", "s", db, pull, pub])
    procs.append(server)
    server.wait_for("started")
    results = {}

    def in_a_thread(name):
        with Client("s", db) as client:  # made and used in this thread only
            results[name] = list(client.job("s.foo", [name.encode()] * 100, timeout=20))

    threads = [threading.Thread(target=in_a_thread, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {k: set(v) for k, v in results.items()} == {
        f"t{i}": {b"you sent me t%d" % i} for i in range(3)}


def test_patching_after_importing_greenpylm_is_reported():
    late = python_code(
        "import greenpylm.servers\n"
        "from gevent import monkey; monkey.patch_all()\n"
        "from greenpylm.servers import Server\n"
        "s = Server('x', 'inproc://a', 'inproc://b', 'inproc://c'); s.spawn(); s.stop()\n")
    assert late.popen.wait(30) == 0
    assert "patch_all() ran after greenpylm was imported" in late.drain()
    early = python_code(
        "from gevent import monkey; monkey.patch_all()\n"
        "from greenpylm.servers import Server\n"
        "s = Server('x', 'inproc://a', 'inproc://b', 'inproc://c'); s.spawn(); s.stop()\n")
    assert early.popen.wait(30) == 0
    out = early.drain()
    assert "stopped" in out and "patch_all() ran after" not in out
