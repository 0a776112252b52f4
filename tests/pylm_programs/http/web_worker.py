"""The web worker: method foo served over HTTP on localhost:8888."""
from greenpylm.remote.server import DebugServer, RequestHandler, WSGIApplication


class MyHandler(RequestHandler):
    def foo(self, payload):
        return payload + b' processed online'


app = WSGIApplication(MyHandler)  # for any WSGI server, e.g. gunicorn web_worker:app

if __name__ == '__main__':
    DebugServer('localhost', 8888, MyHandler).serve_forever()
