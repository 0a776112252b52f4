"""The second step: a pipeline subscribed to what 'server' publishes.

`bar` returns None for payloads that contain b'drop': those messages stop
here and never reach the client. The others go back to the client that
sent them (to_client=True).

Ports: BASE+3 cache, BASE+4 pub (the client listens here); it subscribes
to the server's pub at BASE+2.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyPipeline(Pipeline):
    def bar(self, message):
        if b"drop" in message:
            print("pipeline dropped", message)
            return None
        return message + b", then pipeline saw it"


if __name__ == "__main__":
    pipeline = MyPipeline("pipeline",
                          db_address=f"tcp://127.0.0.1:{BASE + 3}",
                          sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                          pub_address=f"tcp://127.0.0.1:{BASE + 4}",
                          previous="server",
                          to_client=True)
    pipeline.start()
