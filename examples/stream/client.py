"""Sends the numbers 0 to 9 through server.number and parity.describe and
prints what one branch sends back: python client.py even (the default)
listens on the even pipeline's pub (BASE+4), python client.py odd on the
odd one's (BASE+6).

Every number is sent, but the client hears only its branch, so it asks
for as many results as that branch gets (five) and stops there; the
other branch's results are published to nobody.
"""
import os
import sys

from greenpylm.clients import Client

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))
N = 10

if __name__ == "__main__":
    branch = sys.argv[1] if len(sys.argv) > 1 else "even"
    pub = {"even": BASE + 4, "odd": BASE + 6}[branch]
    client = Client("server", f"tcp://127.0.0.1:{BASE}", sub_address=f"tcp://127.0.0.1:{pub}")
    parity = 0 if branch == "even" else 1
    wanted = sum(1 for i in range(N) if i % 2 == parity)
    numbers = (str(i).encode() for i in range(N))
    for result in client.job(["server.number", "parity.describe"], numbers, messages=wanted):
        print("Client got:", result)
