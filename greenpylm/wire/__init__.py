"""Layer 1, the wire: the message, its frames, and the errors."""
from .errors import CallTimeout, GreenpylmError, MissingKeyError, ProtocolError, RemoteError
from .frames import decode, encode
from .message import ErrorRecord, Message

__all__ = ["CallTimeout", "ErrorRecord", "GreenpylmError", "Message", "MissingKeyError",
           "ProtocolError", "RemoteError", "decode", "encode"]
