"""The right branch: subscribed to 'server' (BASE+2), it gets every message.
With to_client=False it publishes its results under its own name,
'branch', on its pub (BASE+6) for the sink. Its cache is at BASE+5.

Both branches serve the step 'branch.tag' (every message names the same
steps and runs on both branches), so both are servers named 'branch'.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class RightBranch(Pipeline):
    def tag(self, message):
        return message + b" on the right"


if __name__ == "__main__":
    pipeline = RightBranch("branch",
                           db_address=f"tcp://127.0.0.1:{BASE + 5}",
                           sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                           pub_address=f"tcp://127.0.0.1:{BASE + 6}",
                           previous="server",
                           to_client=False)
    pipeline.start()
