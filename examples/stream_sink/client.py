"""Sends the numbers 0 to 9 through server.number, parity.describe (on
whichever branch the server picks) and sink.collect. It pushes to the
server (found through the server's cache at BASE+0) and listens on the
sink's pub (BASE+8), where both branches come out: all ten come back.
"""
import os

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))
N = 10

client = Client("server", f"tcp://127.0.0.1:{BASE}",
                sub_address=f"tcp://127.0.0.1:{BASE + 8}")

if __name__ == "__main__":
    numbers = (str(i).encode() for i in range(N))
    steps = ["server.number", "parity.describe", "sink.collect"]
    for result in client.job(steps, numbers, messages=N):
        print("Client got:", result)
