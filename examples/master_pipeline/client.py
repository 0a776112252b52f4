"""Sends ten messages through master.foo (run by a worker), then
pipeline.bar. It pushes to the master (found through the master's cache
at BASE+0) and listens on the pipeline's pub (BASE+6).
"""
import os

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))

client = Client("master", f"tcp://127.0.0.1:{BASE}",
                sub_address=f"tcp://127.0.0.1:{BASE + 6}")

if __name__ == "__main__":
    messages = (b"message %d" % i for i in range(10))
    for result in client.job(["master.foo", "pipeline.bar"], messages, messages=10):
        print("Client got:", result)
