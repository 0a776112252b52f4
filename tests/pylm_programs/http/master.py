"""A server whose work is done over HTTP by a web worker at localhost:8888."""
from greenpylm.parts.connections import HttpConnection
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import CacheService, PubService, PullService

DB, PULL, PUB = 'tcp://127.0.0.1:5559', 'tcp://127.0.0.1:5555', 'tcp://127.0.0.1:5556'

server = ServerTemplate()
server.register_inbound(PullService, 'Pull', PULL, route='HttpConnection')
server.register_outbound(HttpConnection, 'HttpConnection', 'http://localhost:8888',
                         route='Pub', max_workers=1)
server.register_outbound(PubService, 'Pub', PUB)
server.register_bypass(CacheService, 'Cache', DB)
server.preset_cache(name='server', db_address=DB, pull_address=PULL, pub_address=PUB)

if __name__ == '__main__':
    server.start()
