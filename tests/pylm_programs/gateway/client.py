"""An HTTP GET of /function on the gateway; prints the body (bytes)."""
from urllib.request import urlopen

with urlopen('http://localhost:8888/function') as response:
    print(response.read())
