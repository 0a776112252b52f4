"""A master assembled by hand from parts: pull -> workers -> pub, plus a cache."""
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import (CacheService, PubService, PullService,
                                      WorkerPullService, WorkerPushService)

DB, PULL, PUB = 'tcp://127.0.0.1:5559', 'tcp://127.0.0.1:5555', 'tcp://127.0.0.1:5556'
WORKER_PULL, WORKER_PUSH = 'tcp://127.0.0.1:5557', 'tcp://127.0.0.1:5558'

server = ServerTemplate()
server.register_inbound(PullService, 'Pull', PULL, route='WorkerPush')
server.register_inbound(WorkerPullService, 'WorkerPull', WORKER_PULL, route='Pub')
server.register_outbound(WorkerPushService, 'WorkerPush', WORKER_PUSH)
server.register_outbound(PubService, 'Pub', PUB)
server.register_bypass(CacheService, 'Cache', DB)
server.preset_cache(name='server', db_address=DB, pull_address=PULL, pub_address=PUB,
                    worker_pull_address=WORKER_PULL, worker_push_address=WORKER_PUSH)

if __name__ == '__main__':
    server.start()
