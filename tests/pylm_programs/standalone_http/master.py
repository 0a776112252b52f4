"""The 2016 HTTP master: parts sharing one DictDB cache, work done by a web worker."""
from greenpylm.parts.connections import HttpConnection
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import PubService, PullService
from greenpylm.parts.utils import CacheService
from greenpylm.persistence.kv import DictDB

DB, PULL, PUB = 'tcp://127.0.0.1:5559', 'tcp://127.0.0.1:5555', 'tcp://127.0.0.1:5556'

cache = DictDB()
cache.set('name', b'server')
cache.set('db_address', DB.encode())
cache.set('pull_address', PULL.encode())
cache.set('pub_address', PUB.encode())

server = ServerTemplate()
server.register_inbound(PullService, 'Pull', PULL, route='HttpConnection', cache=cache)
server.register_outbound(HttpConnection, 'HttpConnection', 'http://localhost:8888',
                         route='Pub', cache=cache)
server.register_outbound(PubService, 'Pub', PUB, cache=cache)
server.register_bypass(CacheService, 'Cache', DB, cache=cache)

if __name__ == '__main__':
    server.start()
