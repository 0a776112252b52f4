"""Sends one message into the chain: step1.foo -> step2.bar -> last.baz -> here."""
import os

from greenpylm.chained.client import LoopClient

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))

if __name__ == "__main__":
    client = LoopClient(push_address=f"tcp://127.0.0.1:{BASE}",
                        pull_address=f"tcp://127.0.0.1:{BASE + 6}",
                        db_address=f"tcp://127.0.0.1:{BASE + 3}", server_name="step1")
    for result in client.job("foo", [b"a message"], messages=1):
        print("Client got:", result)
