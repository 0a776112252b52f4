"""A master, three workers, a pipeline and a client: one script, one process,
one gevent hub, no threads. Swap the inproc:// addresses for tcp:// ones and
the same servers run as separate processes.
"""
import sys
import threading

from greenpylm.runner import Cluster
from greenpylm.servers import Master, Pipeline, Worker

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


class Squarer(Worker):
    def square(self, payload):
        return str(int(payload) ** 2).encode()


class Labeller(Pipeline):
    def label(self, payload):
        return b"square " + payload


def main():
    master = Master("master", pull_address="inproc://pull", pub_address="inproc://pub",
                    worker_pull_address="inproc://worker-pull",
                    worker_push_address="inproc://worker-push", db_address="inproc://db",
                    pipelined=True)
    workers = [Squarer(f"worker{i}", "inproc://db") for i in range(3)]
    pipeline = Labeller("labeller", "inproc://labeller-db", sub_address="inproc://pub",
                        pub_address="inproc://labeller-pub", previous="master")
    with Cluster() as cluster:
        cluster.start(master, *workers, pipeline)
        client = cluster.client("master", "inproc://db", sub_address="inproc://labeller-pub")
        results = client.job(["master.square", "labeller.label"],
                             (str(i).encode() for i in range(N)))
        count = 0
        for result in results:
            count += 1
            if count == N // 2:
                print("threads while the job runs:", threading.active_count())
        print("results:", count)
        print("last:", result)


if __name__ == "__main__":
    main()
