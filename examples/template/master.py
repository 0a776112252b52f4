"""The master of `parallel`, assembled by hand from parts: a router plus
five parts, each routed explicitly.

Ports (127.0.0.1): BASE cache, BASE+1 pull, BASE+2 pub, BASE+3 worker pull,
BASE+4 worker push; BASE is $EXAMPLE_BASE_PORT, 5555 by default.
"""
import os

from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import (CacheService, PubService, PullService,
                                      WorkerPullService, WorkerPushService)

BASE = int(os.environ.get("EXAMPLE_BASE_PORT", "5555"))

db_address = "tcp://127.0.0.1:%d" % BASE
pull_address = "tcp://127.0.0.1:%d" % (BASE + 1)
pub_address = "tcp://127.0.0.1:%d" % (BASE + 2)
worker_pull_address = "tcp://127.0.0.1:%d" % (BASE + 3)
worker_push_address = "tcp://127.0.0.1:%d" % (BASE + 4)

if __name__ == "__main__":
    server = ServerTemplate()
    # what clients send goes to the workers...
    server.register_inbound(PullService, "Pull", pull_address, route="WorkerPush")
    # ...and what the workers send back is published to the clients
    server.register_inbound(WorkerPullService, "WorkerPull", worker_pull_address, route="Pub")
    server.register_outbound(WorkerPushService, "WorkerPush", worker_push_address)
    server.register_outbound(PubService, "Pub", pub_address)
    # the cache talks to clients and workers directly, never to the router
    server.register_bypass(CacheService, "Cache", db_address)
    # the cache tells clients and workers the server's name and addresses
    server.preset_cache(name="server",
                        db_address=db_address,
                        pull_address=pull_address,
                        pub_address=pub_address,
                        worker_pull_address=worker_pull_address,
                        worker_push_address=worker_push_address)
    server.start()
