"""The odd branch: subscribed to the topic 'odd' of the server's pub
(BASE+2). With to_client=False it publishes its results under its own
name, 'parity', on its pub (BASE+6) for the sink. Its cache is at BASE+5.

Both branches serve the step 'parity.describe' (every message names the
same steps, whichever branch it takes), so both are servers named 'parity'.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class OddBranch(Pipeline):
    def describe(self, message):
        return message + b" is odd"


if __name__ == "__main__":
    pipeline = OddBranch("parity",
                         db_address=f"tcp://127.0.0.1:{BASE + 5}",
                         sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                         pub_address=f"tcp://127.0.0.1:{BASE + 6}",
                         previous="odd",
                         to_client=False)
    pipeline.start()
