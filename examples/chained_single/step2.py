"""Second step: `bar`, then the message goes on to the last server's `baz`."""
import os

from greenpylm.chained.servers import Server

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class Step2(Server):
    def bar(self, message):
        print("step2 got", message)
        return b"got it too, after " + message


if __name__ == "__main__":
    Step2("step2", pull_address=f"tcp://127.0.0.1:{BASE + 1}",
          next_address=f"tcp://127.0.0.1:{BASE + 2}", next_call="baz",
          db_address=f"tcp://127.0.0.1:{BASE + 4}").start()
