"""A standalone server with one method, `foo`.

Written against pylm's API: with `greenpylm` renamed to `pylm` in the
import it runs on pylm too. Addresses can be moved with environment
variables (the tests do that to use free ports).
"""
import os

from greenpylm.servers import Server

DB_ADDRESS = os.environ.get("SINGLE_DB", "tcp://127.0.0.1:5555")
PULL_ADDRESS = os.environ.get("SINGLE_PULL", "tcp://127.0.0.1:5556")
PUB_ADDRESS = os.environ.get("SINGLE_PUB", "tcp://127.0.0.1:5557")


class MyServer(Server):
    def foo(self, message):
        print("foo was called with", message)
        return b"you sent me " + message


if __name__ == "__main__":
    server = MyServer("my_server", db_address=DB_ADDRESS, pull_address=PULL_ADDRESS,
                      pub_address=PUB_ADDRESS)
    server.start()
