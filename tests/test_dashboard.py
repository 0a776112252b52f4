"""The dashboard in a real browser, /metrics, /health and ``greenpylm top``,
against a master with two workers in processes of their own."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import gevent
import pytest

from greenpylm.clients import Client
from helpers import ROOT, Proc, free_port, master_and_workers, python_code

pytestmark = pytest.mark.timeout(120)
SCREENSHOT = ROOT / "tests" / "artifacts" / "dashboard.png"


def fetch(url: str) -> tuple[int, bytes]:
    def get() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
    return gevent.get_hub().threadpool.apply(get)


@pytest.fixture
def cluster(procs):
    master, db = master_and_workers(procs)
    port = free_port()
    dashboard = Proc(["-m", "greenpylm", "dashboard", f"m={db}", "--listen",
                      f"http://127.0.0.1:{port}", "--interval", "0.5"])
    procs.append(dashboard)
    dashboard.wait_for("serving HTTP on")
    return master, db, f"http://127.0.0.1:{port}"


JOB = """
import sys
from greenpylm.clients import Client
with Client("m", sys.argv[1]) as client:
    results = client.job("m.slow", (b"%d" % i for i in range(int(sys.argv[2]))), timeout=60)
    count = 1 if next(results) else 0
    print("job started", flush=True)
    count += sum(1 for _ in results)
print("results", count, flush=True)
"""


def run_job(db: str, n: int) -> gevent.Greenlet:
    def job() -> int:
        with Client("m", db) as client:
            return sum(1 for _ in client.job("m.slow", (b"%d" % i for i in range(n)),
                                             timeout=60))
    return gevent.spawn(job)


def test_the_page_shows_the_workers_and_its_numbers_move_during_a_job(cluster, procs):
    assert shutil.which("chromium"), "this test needs Debian's chromium: apt-get install " \
        "chromium (.ci/run installs it)"
    master, db, url = cluster
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser = Proc(["tests/browser_for_tests.py", url, str(SCREENSHOT), "w1", "w2"],
                   stdin=subprocess.PIPE)
    procs.append(browser)
    browser.wait_for("workers shown", timeout=60)
    job = python_code(JOB, db, "6000")  # a process: waiting on the browser holds this hub
    procs.append(job)
    job.wait_for("job started")
    browser.popen.stdin.write("go\n")
    browser.popen.stdin.flush()
    moved = browser.wait_for("moved ", timeout=60)
    first, later, shown = re.search(r"moved (\d+) (\d+) topology-workers (\d+)", moved).groups()
    assert int(later) > int(first)
    assert int(shown) == 2  # both workers drawn under their master
    assert job.wait_for("results ", timeout=60) == "results 6000"
    assert SCREENSHOT.stat().st_size > 10_000


def counter(text: str, name: str, labels: str) -> float:
    match = re.search(rf"^{name}{{{re.escape(labels)}}} (\S+)$", text, re.M)
    assert match, f"no {name}{{{labels}}} in:\n{text}"
    return float(match.group(1))


def test_metrics_rise_during_a_job_and_health_follows_the_servers(cluster):
    master, db, url = cluster
    status, body = fetch(url + "/health")
    assert status == 200 and json.loads(body) == {"healthy": True, "servers": {"m": "up"}}
    job = run_job(db, 6000)
    readings = []
    with gevent.Timeout(30):
        while len(readings) < 2 or readings[-1] <= readings[0]:
            status, body = fetch(url + "/metrics")
            assert status == 200
            text = body.decode()
            readings.append(counter(text, "greenpylm_worker_done_total", 'server="m",worker="w1"')
                            + counter(text, "greenpylm_worker_done_total",
                                      'server="m",worker="w2"'))
            gevent.sleep(0.3)
    assert counter(text, "greenpylm_up", 'server="m"') == 1.0
    assert job.get(timeout=60) == 6000
    master.stop()
    with gevent.Timeout(20):
        while fetch(url + "/health")[0] != 503:
            gevent.sleep(0.2)
    status, body = fetch(url + "/health")
    assert json.loads(body)["servers"]["m"].startswith("down: no answer from the cache service")


def test_top_prints_the_workers_of_a_master(cluster):
    master, db, url = cluster
    result = subprocess.run([sys.executable, "-m", "greenpylm", "top", f"m={db}", "--count",
                             "2", "--interval", "0.5"], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, env={**os.environ})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.match(r"m +Master +up ", next(line for line in lines if line.startswith("m ")))
    assert {line.split()[0] for line in lines if line.startswith("w")} >= {"w1", "w2"}
