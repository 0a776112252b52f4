"""A pipeline subscribed to what 'master' publishes; sends its results
to the client that started each message.

Ports: BASE+5 cache, BASE+6 pub (the client listens here); it subscribes
to the master's pub at BASE+2.
"""
import os

from greenpylm.servers import Pipeline

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MyPipeline(Pipeline):
    def bar(self, message):
        return message + b" | pipeline"


if __name__ == "__main__":
    pipeline = MyPipeline("pipeline",
                          db_address=f"tcp://127.0.0.1:{BASE + 5}",
                          sub_address=f"tcp://127.0.0.1:{BASE + 2}",
                          pub_address=f"tcp://127.0.0.1:{BASE + 6}",
                          previous="master",
                          to_client=True)
    pipeline.start()
