"""greenpylm in one minute: a server and a client, one process, one gevent hub.

Run: python examples/demo.py
"""
import socket

from greenpylm import RemoteError
from greenpylm.clients import Client
from greenpylm.servers import Server


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


class Shouter(Server):
    def shout(self, payload: bytes) -> bytes:
        return payload.upper() + b"!"

    def divide(self, payload: bytes) -> bytes:
        a, b = payload.split(b"/")
        return str(int(a) / int(b)).encode()


def main() -> None:
    db = free_address()
    server = Shouter("shouter", db, free_address(), free_address(), log_level="WARNING")
    server.spawn()  # non-blocking: the server runs as greenlets beside the client
    with Client("shouter", db) as client:
        print("eval     ->", client.eval("shouter.shout", b"hello greenpylm", timeout=10))
        words = [b"one", b"two", b"three"]
        print("job      ->", sorted(client.job("shouter.shout", words, timeout=10)))
        count = sum(1 for _ in client.job("shouter.shout", (b"x" for _ in range(20000))))
        print("job      ->", count, "results streamed")
        client.set(b"kept on the server", "note")
        print("cache    ->", client.get("note"))
        try:
            client.eval("shouter.divide", b"1/0", timeout=10)
        except RemoteError as error:
            print("error    ->", error.remote_type, "-", error.remote_message)
        print("and on   ->", client.eval("shouter.divide", b"1/4", timeout=10))
    server.stop()


if __name__ == "__main__":
    main()
