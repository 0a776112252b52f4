"""Branch 2 of the tee: subscribed to 'server', it gets every message the
server publishes, prints it and sends its result to the client that started
the message, on its own pub.

Both branches serve the step 'pipeline.bar' (the step a message names is
the same whichever branch runs it), so both are servers named 'pipeline'.

Ports: BASE+5 cache, BASE+6 pub; it subscribes to the server's pub at BASE+2.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class Branch2(Pipeline):
    def bar(self, message):
        print("pipeline2 got", message)
        return message + b", then pipeline2"


if __name__ == "__main__":
    pipeline = Branch2("pipeline",
                       db_address=f"tcp://127.0.0.1:{BASE + 5}",
                       sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                       pub_address=f"tcp://127.0.0.1:{BASE + 6}",
                       previous="server",
                       to_client=True)
    pipeline.start()
