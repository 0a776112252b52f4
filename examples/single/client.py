"""Calls `my_server.foo` once and prints what it returned.

The client only knows the server's cache address (db_address); it asks the
server there for the addresses it sends to and listens on.
"""
import os

from greenpylm.clients import Client

client = Client("my_server", os.environ.get("SINGLE_DB", "tcp://127.0.0.1:5555"))

if __name__ == "__main__":
    result = client.eval("my_server.foo", b"a message")
    print("Client got:", result)
