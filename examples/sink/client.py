"""Sends five messages through server.foo, branch.tag and sink.collect.
Each message runs on both branches, so the sink's pub (BASE+8), where
the client listens, gives back two results per message: ten in all.
"""
import os

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))
N = 5

client = Client("server", f"tcp://127.0.0.1:{BASE}",
                sub_address=f"tcp://127.0.0.1:{BASE + 8}")

if __name__ == "__main__":
    messages = (b"message %d" % i for i in range(N))
    steps = ["server.foo", "branch.tag", "sink.collect"]
    for result in client.job(steps, messages, messages=2 * N):
        print("Client got:", result)
