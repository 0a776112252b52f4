"""Branch 1 of the tee: subscribed to 'server', it gets every message the
server publishes, prints it and sends its result to the client that started
the message, on its own pub.

Both branches serve the step 'pipeline.bar' (the step a message names is
the same whichever branch runs it), so both are servers named 'pipeline'.

Ports: BASE+3 cache, BASE+4 pub; it subscribes to the server's pub at BASE+2.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class Branch1(Pipeline):
    def bar(self, message):
        print("pipeline1 got", message)
        return message + b", then pipeline1"


if __name__ == "__main__":
    pipeline = Branch1("pipeline",
                       db_address=f"tcp://127.0.0.1:{BASE + 3}",
                       sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                       pub_address=f"tcp://127.0.0.1:{BASE + 4}",
                       previous="server",
                       to_client=True)
    pipeline.start()
