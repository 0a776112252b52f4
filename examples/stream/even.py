"""The even branch: subscribed to the topic 'even' of the server's pub
(BASE+2); sends its results to the client on its own pub (BASE+4).
Its cache is at BASE+3.

Both branches serve the step 'parity.describe' (every message names the
same steps, whichever branch it takes), so both are servers named 'parity'.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class EvenBranch(Pipeline):
    def describe(self, message):
        return message + b" is even"


if __name__ == "__main__":
    pipeline = EvenBranch("parity",
                          db_address=f"tcp://127.0.0.1:{BASE + 3}",
                          sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                          pub_address=f"tcp://127.0.0.1:{BASE + 4}",
                          previous="even",
                          to_client=True)
    pipeline.start()
