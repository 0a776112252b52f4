"""Starts three generic chained servers as processes (Ctrl-C stops them).

Each is `python -m greenpylm.chained`: a server that applies whatever
callables the client ships. They share the signing key in $GREENPYLM_KEY
(this script sets a demo key if there is none).
"""
import os
import signal
import subprocess
import sys

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5565"))
pull = [f"tcp://127.0.0.1:{BASE + i}" for i in range(3)]
client = f"tcp://127.0.0.1:{BASE + 3}"

if __name__ == "__main__":
    env = {**os.environ, "GREENPYLM_KEY": os.environ.get("GREENPYLM_KEY", "demo key")}
    chained = [sys.executable, "-m", "greenpylm.chained"]
    commands = [
        chained + ["server", "first", "--pull", pull[0], "--next", pull[1]],
        chained + ["server", "second", "--pull", pull[1], "--next", pull[2]],
        chained + ["last", "third", "--pull", pull[2], "--push", client],
    ]
    processes = [subprocess.Popen(command, env=env) for command in commands]

    def stop(*_):
        for process in processes:
            process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.wait()
