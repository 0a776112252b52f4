"""Sends N messages (10, or the first argument) through 'server.foo' then
'hub.bar'. It sends to the server but listens to the hub, which publishes
the results."""
import os
import sys

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10

if __name__ == "__main__":
    client = Client("server", "tcp://127.0.0.1:%d" % BASE,
                    sub_address="tcp://127.0.0.1:%d" % (BASE + 4))
    payloads = (b"message %d" % i for i in range(N))
    count = 0
    for result in client.job(["server.foo", "hub.bar"], payloads, messages=N):
        print(result)
        count += 1
    print("%d results received" % count)
