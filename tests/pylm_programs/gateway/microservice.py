"""A master answering HTTP: GET /<method> goes to a worker, its result is the body."""
from greenpylm.parts.gateways import GatewayDealer, GatewayRouter, HttpGateway
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import CacheService, WorkerPullService, WorkerPushService

DB = 'tcp://127.0.0.1:5559'
WORKER_PULL, WORKER_PUSH = 'tcp://127.0.0.1:5557', 'tcp://127.0.0.1:5558'

server = ServerTemplate()
server.register_inbound(GatewayRouter, 'gateway_router', 'inproc://gateway_router',
                        route='WorkerPush')
server.register_outbound(GatewayDealer, 'gateway_dealer',
                         listen_address='inproc://gateway_router')
server.register_bypass(HttpGateway, name='HttpGateway', listen_address='inproc://gateway_router',
                       hostname='localhost', port=8888)
server.register_inbound(WorkerPullService, 'WorkerPull', WORKER_PULL, route='gateway_dealer')
server.register_outbound(WorkerPushService, 'WorkerPush', WORKER_PUSH)
server.register_bypass(CacheService, 'Cache', DB)
server.preset_cache(name='server', db_address=DB, worker_pull_address=WORKER_PULL,
                    worker_push_address=WORKER_PUSH)

if __name__ == '__main__':
    server.start()
