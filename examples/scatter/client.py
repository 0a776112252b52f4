"""Sends N messages (10, or the first argument) to 'server.foo'. The master
fans each one out three times, so the client waits for 3 * N results."""
import os
import sys

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10

if __name__ == "__main__":
    client = Client("server", "tcp://127.0.0.1:%d" % BASE)
    payloads = (b"message %d" % i for i in range(N))
    count = 0
    for result in client.job("server.foo", payloads, messages=3 * N):
        print(result)
        count += 1
    print("%d messages sent, %d results received" % (N, count))
