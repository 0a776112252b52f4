"""A server that splits its stream in two: results whose number is even
are published under the topic 'even', odd ones under 'odd'. A pipeline
subscribed to one of the topics gets only that half.

Ports (default BASE=5555, set EXAMPLE_BASE_PORT to move them all):
BASE+0 cache, BASE+1 pull (the client pushes here), BASE+2 pub.
"""
import os

from greenpylm.servers import Server

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class SplittingServer(Server):
    def number(self, message):
        # The payload is a number written in ASCII; normalise it (b' 07' -> b'7').
        return str(int(message)).encode()

    def handle_stream(self, message):
        # Called on every result before it is published: choose its topic.
        # A failed step leaves an empty payload; it goes down the even branch.
        value = int(message.payload or b"0")
        topic = "even" if value % 2 == 0 else "odd"
        # Overriding handle_stream means moving the message on to its next
        # step by hand, as the default one does.
        message.stage += 1
        return topic, message


if __name__ == "__main__":
    server = SplittingServer("server",
                             db_address=f"tcp://127.0.0.1:{BASE}",
                             pull_address=f"tcp://127.0.0.1:{BASE + 1}",
                             pub_address=f"tcp://127.0.0.1:{BASE + 2}",
                             pipelined=True)
    server.start()
