import pytest

from helpers import NetNamespace, Proc


@pytest.fixture
def procs():
    """Processes started by a test; all stopped at its end, whatever happens."""
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop()


@pytest.fixture
def running():
    """Servers spawned in this process by a test; all stopped at its end."""
    servers = []

    def spawn(server):
        server.spawn()
        servers.append(server)
        return server

    yield spawn
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def netns(procs):
    """A network namespace for this test; its processes (in `procs`) are stopped
    and the namespace deleted at the end."""
    namespace = NetNamespace()
    yield namespace
    for p in procs:
        p.stop()
    namespace.delete()
