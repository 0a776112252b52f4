"""examples/legacy_app while its cluster is down: a 503 that says so, never a bare
500, and the same app answers again once the cluster is up."""
import urllib.error
import urllib.request

from helpers import Proc, free_port, free_port_block


def ask(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_the_app_answers_503_while_the_cluster_is_down_then_recovers(procs):
    env = {"EXAMPLE_BASE_PORT": str(free_port_block(5)), "HTTP_PORT": str(free_port()),
           "CALL_TIMEOUT": "1"}
    app = Proc(["examples/legacy_app/app.py"], env=env)
    procs.append(app)
    app.wait_for("serving on")
    url = f"http://127.0.0.1:{env['HTTP_PORT']}/square?n=12"

    status, body, headers = ask(url)  # nothing listens on the cluster's ports
    assert status == 503, (status, body)
    assert b"did not answer within 1 s" in body and b"cluster.py" in body, body
    assert headers.get("Retry-After") == "5"

    cluster = Proc(["examples/legacy_app/cluster.py"], env=env)
    procs.append(cluster)
    cluster.wait_for("cluster up")
    # the shared client reconnects on its own (a back-off of 2 s at most): a few
    # requests of 1 s each are enough, and none may be anything but 503 or 200
    answers = []
    for _ in range(8):
        answers.append(ask(url)[:2])
        if answers[-1][0] == 200:
            break
    assert answers[-1] == (200, b"144\n"), answers
    assert {status for status, _ in answers} <= {200, 503}, answers
