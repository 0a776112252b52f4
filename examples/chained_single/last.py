"""Last step: `baz`, then the result goes back to the client."""
import os

from greenpylm.chained.servers import LastServer

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class Last(LastServer):
    def baz(self, message):
        print("last got", message)
        return b"ACK: " + message


if __name__ == "__main__":
    Last("last", pull_address=f"tcp://127.0.0.1:{BASE + 2}",
         push_address=f"tcp://127.0.0.1:{BASE + 6}",
         db_address=f"tcp://127.0.0.1:{BASE + 5}").start()
