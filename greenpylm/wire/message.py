"""The message every part and peer exchanges, and the error record it may carry."""
from __future__ import annotations

import json
import os
import traceback as _traceback
from dataclasses import dataclass
from itertools import count
from operator import attrgetter
from typing import Any

from .errors import ProtocolError, RemoteError

ID_SIZE = 16


def payload_size(payload: Any) -> int:
    """What a payload weighs in the bounds on memory: its length, 0 for an
    object without one (not pickled yet)."""
    if not hasattr(payload, "__len__"):
        return 0  # an int, say: asking is cheaper than catching len's TypeError
    try:
        return len(payload)
    except Exception:
        return 0


class _Vouched:
    """The `signature` of a message whose own process vouches for it: made
    here, to be signed when it leaves, or received in a sealed batch whose
    seal was checked (docs/protocol.md, 3.9). No decoder makes it from bytes;
    it is falsy, so a message with it is written unsigned."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "VOUCHED"


VOUCHED: Any = _Vouched()

_PAYLOAD = attrgetter("payload")


def payloads_size(messages: list) -> int:
    """The `payload_size` of the payloads of `messages`, summed (at C speed
    when every payload has a length, as bytes do)."""
    try:
        return sum(map(len, map(_PAYLOAD, messages)))
    except Exception:
        return sum(payload_size(m.payload) for m in messages)


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """What went wrong on a server: exception type name, message, traceback."""

    type: str
    message: str
    traceback: str = ""

    @classmethod
    def from_exception(cls, exc: BaseException, with_traceback: bool = True) -> "ErrorRecord":
        text = "".join(_traceback.format_exception(exc)) if with_traceback else ""
        return cls(type(exc).__name__, str(exc), text)

    def to_bytes(self) -> bytes:
        """The error frame: UTF-8 JSON with keys type, message, traceback."""
        return json.dumps(
            {"type": self.type, "message": self.message, "traceback": self.traceback}
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> "ErrorRecord":
        try:
            fields = json.loads(bytes(data).decode("utf-8"))
            record = cls(fields["type"], fields["message"], fields.get("traceback", ""))
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise ProtocolError("bad-error-frame", type(exc).__name__) from None
        if not all(isinstance(v, str) for v in (record.type, record.message, record.traceback)):
            raise ProtocolError("bad-error-frame", "fields must be strings")
        return record

    def to_exception(self) -> RemoteError:
        """The `RemoteError` a client raises for this record."""
        return RemoteError(self.type, self.message, self.traceback)


class MessageIds:
    """Unique 16-byte message ids: a random 8-byte prefix and a counter.

    Cheaper than a uuid4 per message, unique across processes with
    overwhelming probability, and ordered within one source.
    """

    def __init__(self) -> None:
        self._prefix = os.urandom(8)
        self._counter = count(1)

    def __call__(self) -> bytes:
        return self._prefix + next(self._counter).to_bytes(8, "big")


new_id = MessageIds()


class Message:
    """One message: pylm's fields plus what greenpylm's features need.

    - ``pipeline``: stream or session id;  ``client``: id of the client
      that started it (also the topic its results are published on);
    - ``stage``: index of the current step in ``function``;
    - ``function``: ``'server.method'``, or several separated by spaces;
    - ``cache``: key for the cache service, or free for internal use;
    - ``payload``: the data (``bytes``);
    - ``id``: 16 unique bytes, kept by every step so results match inputs;
    - ``code``: a bundle of shipped callables' code, named by ``digest``;
    - ``signature``: HMAC of what would be unpickled (code, pickled payload),
      or `VOUCHED`;
    - ``pickled``: the payload is a pickled Python object, not raw bytes;
    - ``error``: an `ErrorRecord` when a step failed;
    - ``dropped``: a step returned ``None``; the message ends here.
    """

    __slots__ = (
        "id", "pipeline", "client", "stage", "function", "cache", "payload",
        "digest", "signature", "code", "error", "dropped", "pickled", "ticket", "lane",
    )

    def __init__(
        self,
        function: str = "",
        payload: Any = b"",
        *,
        pipeline: str = "",
        client: str = "",
        stage: int = 0,
        cache: str = "",
        id: bytes | None = None,
        digest: bytes = b"",
        signature: bytes = b"",
        code: bytes | None = None,
        error: ErrorRecord | None = None,
        dropped: bool = False,
        pickled: bool = False,
    ) -> None:
        self.id = new_id() if id is None else id
        self.pipeline = pipeline
        self.client = client
        self.stage = stage
        self.function = function
        self.cache = cache
        self.payload = payload
        self.digest = digest
        self.signature = signature
        self.code = code
        self.error = error
        self.dropped = dropped
        self.pickled = pickled
        self.ticket = 0  # a master's hand-out number (worker link envelope, not the header)
        #: where, inside a server, the answer goes back to the caller: the key of the
        #: client's lane at the publisher (`PubPart.lanes`); never on the wire
        self.lane: Any = None

    @classmethod
    def build(cls, function: str, payload: Any, pipeline: str, client: str, stage: int,
              cache: str, id: bytes, digest: bytes, signature: bytes, code: bytes | None,
              error: ErrorRecord | None, dropped: bool, pickled: bool) -> "Message":
        """A message with every field given, in order: built slot by slot, about
        twice as cheap as the keyword constructor, for code that makes one
        message per item (a decoded batch, a call's inputs)."""
        m = object.__new__(cls)
        m.id = id
        m.pipeline = pipeline
        m.client = client
        m.stage = stage
        m.function = function
        m.cache = cache
        m.payload = payload
        m.digest = digest
        m.signature = signature
        m.code = code
        m.error = error
        m.dropped = dropped
        m.pickled = pickled
        m.ticket = 0
        m.lane = None
        return m

    def steps(self) -> list[str]:
        """The ``server.method`` steps of `function`, in order."""
        return self.function.split()

    def current_step(self) -> str:
        """The ``server.method`` this message asks for at its current stage."""
        steps = self.function.split()
        return steps[self.stage] if self.stage < len(steps) else ""

    def reply(self, payload: Any = b"", *, error: ErrorRecord | None = None,
              dropped: bool = False) -> "Message":
        """A message that answers this one: same id, client, pipeline, stage (ticket, lane)."""
        reply = Message(
            self.function, payload, pipeline=self.pipeline, client=self.client,
            stage=self.stage, cache=self.cache, id=self.id, error=error, dropped=dropped,
        )
        reply.ticket = self.ticket
        reply.lane = self.lane
        return reply

    def with_payload(self, payload: Any) -> "Message":
        """A copy of this message (code included) carrying `payload`: one of a fan-out."""
        copy = self.reply(payload)
        copy.code, copy.digest = self.code, self.digest
        return copy

    def __repr__(self) -> str:
        extra = " error" if self.error else (" dropped" if self.dropped else "")
        return (f"<Message {self.id.hex()} {self.function!r} stage={self.stage} "
                f"client={self.client!r} payload={len(self.payload) if isinstance(self.payload, (bytes, bytearray)) else type(self.payload).__name__}{extra}>")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__
                   if f not in ("ticket", "lane"))

    __hash__ = None  # type: ignore[assignment]
