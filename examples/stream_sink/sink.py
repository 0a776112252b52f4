"""The sink joins the two branches again: it subscribes to the topic
'parity' on the even branch's pub (BASE+4) and on the odd branch's pub
(BASE+6), and sends every result to the client that started it, on its
own pub (BASE+8). Its cache is at BASE+7.
"""
import os

from greenpylm.servers import Sink

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class MySink(Sink):
    def collect(self, message):
        return b"sink got: " + message


if __name__ == "__main__":
    sink = MySink("sink",
                  db_address=f"tcp://127.0.0.1:{BASE + 7}",
                  sub_addresses=[f"tcp://127.0.0.1:{BASE + 4}", f"tcp://127.0.0.1:{BASE + 6}"],
                  pub_address=f"tcp://127.0.0.1:{BASE + 8}",
                  previous=["parity", "parity"],
                  to_client=True)
    sink.start()
