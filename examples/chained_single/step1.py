"""First step of the chain: `foo`, then the message goes on to step2's `bar`."""
import os

from greenpylm.chained.servers import Server

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))


class Step1(Server):
    def foo(self, message):
        print("step1 got", message)
        return b"you sent me " + message


if __name__ == "__main__":
    Step1("step1", pull_address=f"tcp://127.0.0.1:{BASE}",
          next_address=f"tcp://127.0.0.1:{BASE + 1}", next_call="bar",
          db_address=f"tcp://127.0.0.1:{BASE + 3}").start()
