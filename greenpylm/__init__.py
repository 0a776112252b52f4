"""greenpylm: clusters of small servers (pylm's PALM model) on gevent and zmq.green."""
from .wire.errors import CallTimeout, GreenpylmError, MissingKeyError, ProtocolError, RemoteError

__version__ = "0.1.0"
__all__ = ["CallTimeout", "GreenpylmError", "MissingKeyError", "ProtocolError", "RemoteError",
           "__version__"]
