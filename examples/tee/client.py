"""Sends five messages through server.foo and pipeline.bar, and prints the
results of one branch of the tee: python client.py 1 (the default) listens
on pipeline1's pub (BASE+4), python client.py 2 on pipeline2's (BASE+6).

Both branches run every message; results go to the client that sent the
message, on each branch's own pub, and a client listens to one pub only,
so it sees one branch's results. The other branch's output shows in its
own terminal.
"""
import os
import sys

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))

if __name__ == "__main__":
    branch = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    client = Client("server", f"tcp://127.0.0.1:{BASE}",
                    sub_address=f"tcp://127.0.0.1:{BASE + 2 + 2 * branch}")
    messages = (b"message %d" % i for i in range(5))
    for result in client.job(["server.foo", "pipeline.bar"], messages, messages=5):
        print("Client got:", result)
