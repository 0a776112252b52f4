"""Ships three lambdas, one per server of the chain, and streams numbers through them."""
import os

from greenpylm.chained import LoopClient

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5565"))

if __name__ == "__main__":
    key = os.environ.get("GREENPYLM_KEY", "demo key")
    offset = 10  # captured by the first lambda: closures ship too
    steps = [lambda x: x + offset, lambda x: x * x, lambda x: f"{x} is a square"]
    with LoopClient(f"tcp://127.0.0.1:{BASE + 3}", f"tcp://127.0.0.1:{BASE}", key=key) as client:
        for result in client.job(steps, range(5), ordered=True):
            print(result)
