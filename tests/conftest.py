import pytest

from helpers import Proc


@pytest.fixture
def procs():
    """Processes started by a test; all stopped at its end, whatever happens."""
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop()
