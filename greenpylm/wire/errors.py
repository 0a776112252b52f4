"""The errors of greenpylm, shared by every layer.

`ProtocolError` is the one error decoding raises; `RemoteError` is what a
client raises when a server sends back an error record.
"""
from __future__ import annotations


class GreenpylmError(Exception):
    """Base class of every error greenpylm raises on purpose."""


class ProtocolError(GreenpylmError):
    """Frames that do not follow the wire protocol.

    `kind` is a short stable word (``'bad-tag'``, ``'truncated'``, ...) that
    servers use to count and log bad input once per kind.
    """

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)


class TimeLimitExceeded(GreenpylmError):
    """A message ran longer than its master's (or worker's) `time_limit`."""


class RemoteError(GreenpylmError):
    """An error raised on a server, carried back to the client.

    `remote_type` is the name of the exception type on the server,
    `remote_message` its message and `remote_traceback` the formatted
    traceback (empty when the error did not come from user code).
    """

    def __init__(self, remote_type: str, remote_message: str, remote_traceback: str = "") -> None:
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback
        super().__init__(f"{remote_type}: {remote_message}")

    def __str__(self) -> str:
        text = f"{self.remote_type}: {self.remote_message}"
        if self.remote_traceback:
            text += "\n\nRemote traceback:\n" + self.remote_traceback.rstrip()
        return text


class MissingKeyError(RemoteError, KeyError):
    """`get` or `delete` of a key the cache service does not hold."""

    def __str__(self) -> str:
        return f"{self.remote_type}: {self.remote_message}"


class CallTimeout(GreenpylmError, TimeoutError):
    """A call that did not complete in its time; the message says what was outstanding."""
