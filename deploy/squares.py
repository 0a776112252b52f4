"""The application of the deployment examples (docs/deploy.md): workers that
square integers. Clients call ``squares.square`` on the master named
``squares``: ``greenpylm call squares tcp://127.0.0.1:5555 square 12`` prints 144.
"""
from greenpylm.servers import Worker


class Squarer(Worker):
    def square(self, payload: bytes) -> bytes:
        """The square of an integer written in ASCII digits."""
        return str(int(payload) ** 2).encode()
