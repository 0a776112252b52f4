"""Sends six messages through server.foo and then pipeline.bar.

The client pushes to the server (it finds the server's pull address in
the server's cache at BASE+0) but listens on the pipeline's pub (BASE+4),
since that is where the results come out.
"""
import os

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))

client = Client("server", f"tcp://127.0.0.1:{BASE}",
                sub_address=f"tcp://127.0.0.1:{BASE + 4}")

if __name__ == "__main__":
    messages = [b"keep 0", b"drop 1", b"keep 2", b"keep 3", b"drop 4", b"keep 5"]
    results = 0
    for result in client.job(["server.foo", "pipeline.bar"], messages):
        print("Client got:", result)
        results += 1
    print("Client done:", results, "results")
