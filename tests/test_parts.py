"""The parts layer: the router's table, in-memory hand-over, ServerTemplate's life cycle."""
from __future__ import annotations

import gevent
import pytest
import zmq.green as zmq

from greenpylm.parts.core import Outbound, Router
from greenpylm.parts.servers import ServerTemplate
from greenpylm.parts.services import CacheService, PubService, PullService, PushService, RepService
from greenpylm.servers import Server
from greenpylm.wire import Message, decode, encode
from greenpylm.wire.transport import recv_frames, send_frames
from helpers import free_port, tcp

pytestmark = pytest.mark.timeout(30)


class Recorder(Outbound):
    """An outbound part that keeps what the router hands it; its feedback is configurable."""

    socket_type = zmq.PUSH
    bind = True

    def __init__(self, name, listen_address, answer=None, **kw):
        super().__init__(name, listen_address, **kw)
        self.received: list[Message] = []
        self.arrived = gevent.event.Event()
        self.answer = answer

    def handle(self, message):
        self.received.append(message)
        self.arrived.set()
        return self.answer(message) if self.answer else None

    def run(self):
        gevent.sleep(3600)


def test_router_routes_blocks_and_reroutes_once():
    router = Router()
    a = Recorder("A", "", answer=lambda m: m.reply(b"from A"))
    b = Recorder("B", "", answer=lambda m: m.reply(b"from B"))
    c = Recorder("C", "")
    router.register_inbound("in", route="A", block=True)
    router.register_inbound("quiet", route="A")
    router.register_inbound("nowhere")
    router.register_outbound("A", route="B", part=a)
    router.register_outbound("B", route="C", part=b)
    router.register_outbound("C", part=c)
    router.check()

    feedback = router.route("in", [Message("s.f", b"x")])
    assert [f.payload for f in feedback] == [b"from A"]  # a blocking part gets A's feedback
    assert [m.payload for m in b.received] == [b"from A"]  # A's feedback rerouted to B...
    assert c.received == []  # ...and not rerouted a second time
    assert router.route("quiet", [Message("s.f", b"y")]) == []  # not blocking: no feedback
    assert router.route("nowhere", [Message("s.f", b"z")]) == []
    assert len(a.received) == 2


def test_router_check_names_a_missing_route():
    router = Router()
    router.register_inbound("in", route="Nope")
    with pytest.raises(ValueError, match="Nope"):
        router.check()


def test_parts_hand_over_the_same_message_object_no_serialization():
    pull = f"inproc://pull-{free_port()}"
    server = ServerTemplate("handover")
    scattered = []

    def scatter(message):
        scattered.append(message)
        yield message

    server.register_inbound(PullService, "Pull", pull, route="Out", hook=scatter)
    out = server.register_outbound(Recorder, "Out", f"inproc://out-{free_port()}")
    runner = server.spawn()
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.connect(pull)
    send_frames(push, encode([Message("s.f", b"hello")]))
    assert out.arrived.wait(5)
    assert out.received[0] is scattered[0]  # the very object, not a copy
    push.close(0)
    server.stop()
    assert runner.join(5) is None and runner.dead


def test_a_part_that_fails_to_take_a_batch_does_not_stop_the_server():
    pull = f"inproc://pull-{free_port()}"
    server = ServerTemplate("clumsy")

    def broken_once(message):
        if message.payload == b"first":
            raise RuntimeError("a bug in a part")
        return None

    server.register_inbound(PullService, "Pull", pull, route="Out")
    out = server.register_outbound(Recorder, "Out", f"inproc://out-{free_port()}",
                                   answer=broken_once)
    runner = server.spawn()
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.connect(pull)
    send_frames(push, encode([Message("s.f", b"first")]))
    send_frames(push, encode([Message("s.f", b"second")]))
    while len(out.received) < 2:  # no other greenlet runs between the test and the clear
        out.arrived.clear()
        assert out.arrived.wait(5)
    assert [m.payload for m in out.received] == [b"first", b"second"]
    assert server.stats["errors"] == 1 and not runner.dead  # counted, and the part goes on
    push.close(0)
    server.stop()


def test_answers_a_part_fails_to_take_are_counted_and_the_next_ones_go_on():
    server = ServerTemplate("clumsy-answers")

    def broken(message):
        if message.payload == b"first":
            raise RuntimeError("a bug in a part")
        return None

    server.register_outbound(Recorder, "Workers", f"inproc://w-{free_port()}", route="Out")
    out = server.register_outbound(Recorder, "Out", f"inproc://out-{free_port()}",
                                   answer=broken)
    server.spawn()
    server.router.emit("Workers", [Message("s.f", b"first")])  # as a master's ledger does
    server.router.emit("Workers", [Message("s.f", b"second")])
    assert [m.payload for m in out.received] == [b"first", b"second"]
    assert server.stats["errors"] == 1
    server.stop()


def test_start_stop_closes_every_socket_and_frees_the_ports():
    ports = [free_port() for _ in range(4)]
    server = ServerTemplate("lifecycle")
    server.register_inbound(PullService, "Pull", tcp(ports[0]), route="Push")
    server.register_outbound(PushService, "Push", tcp(ports[1]))
    server.register_outbound(PubService, "Pub", tcp(ports[2]))
    server.register_bypass(CacheService, "Cache", tcp(ports[3]))
    runner = server.spawn()
    assert isinstance(runner, gevent.Greenlet) and server.running
    sockets = [p.socket for p in server.parts]
    with pytest.raises(RuntimeError, match="already running"):
        server.spawn()
    server.stop()
    assert runner.join(5) is None and runner.dead
    assert all(s.closed for s in sockets) and not server.running
    again = ServerTemplate("again")
    again.register_inbound(PullService, "Pull", tcp(ports[0]))
    again.spawn()
    again.stop()


def test_a_busy_address_fails_spawn_and_leaves_nothing_open():
    port = free_port()
    first = ServerTemplate("first")
    first.register_inbound(PullService, "Pull", tcp(port))
    first.spawn()
    second = ServerTemplate("second")
    cache = second.register_bypass(CacheService, "Cache", tcp(free_port()))
    second.register_inbound(PullService, "Pull", tcp(port))
    with pytest.raises(zmq.ZMQError):
        second.spawn()
    assert cache.socket is None and not second.running
    first.stop()


def test_duplicate_part_names_are_refused():
    server = ServerTemplate("dup")
    server.register_inbound(PullService, "Pull", tcp(free_port()))
    with pytest.raises(ValueError, match="already registered"):
        server.register_outbound(PushService, "Pull", tcp(free_port()))


def test_rep_service_replies_with_the_blocking_routes_feedback():
    address = f"inproc://rep-{free_port()}"
    server = ServerTemplate("rep")
    server.register_inbound(RepService, "Rep", address, route="Out", block=True)
    server.register_outbound(Recorder, "Out", f"inproc://o-{free_port()}",
                             answer=lambda m: m.reply(m.payload.upper()))
    server.spawn()
    dealer = zmq.Context.instance().socket(zmq.DEALER)
    dealer.connect(address)
    request = Message("rep.x", b"shout")
    send_frames(dealer, [b""] + encode([request]))
    frames = recv_frames(dealer)
    [reply] = decode(frames[1:])
    assert (reply.id, reply.payload) == (request.id, b"SHOUT")
    dealer.close(0)
    server.stop()


def test_preset_cache_names_the_server_and_stores_bytes():
    server = ServerTemplate()
    server.preset_cache(name="server", pull_address="tcp://127.0.0.1:5555", answer=42)
    assert server.name == "server"
    assert server.cache == {"name": b"server", "pull_address": b"tcp://127.0.0.1:5555",
                            "answer": b"42"}


@pytest.mark.parametrize("build", [
    lambda: Server("s", "inproc://a", "inproc://b", "inproc://c", concurency=1),
    lambda: ServerTemplate("s", heartbeat=3),
    lambda: ServerTemplate("s").register_inbound(PullService, "Pull", "inproc://p",
                                                 concurency=2),
    lambda: ServerTemplate("s").register_outbound(PubService, "Pub", "inproc://q", topik="x"),
])
def test_a_misspelt_option_is_a_type_error_naming_it(build):
    with pytest.raises(TypeError, match="concurency|heartbeat|topik"):
        build()


def test_an_outbox_bounds_the_bytes_it_holds_as_well_as_the_messages():
    from greenpylm.parts.outbound import OUTBOX_BYTES

    part = Outbound("Out", "inproc://nowhere")
    big = Message("s.f", b"x" * (OUTBOX_BYTES // 4))
    for _ in range(4):
        part.outbox.put(big)  # four quarters: full, with 4 messages of 20,000 allowed
    assert part.outbox.bytes == 4 * len(big.payload)
    waiting = gevent.spawn(part.outbox.put, Message("s.f", b"one more"))
    gevent.sleep(0)  # it runs until it waits
    assert not waiting.dead  # the producer waits
    assert len(part.outbox.take(1)) == 1
    waiting.join(timeout=5)
    assert waiting.dead and part.outbox.bytes == 3 * len(big.payload) + len(b"one more")
    part.outbox.put_back(part.outbox.take())
    assert part.outbox.bytes == 3 * len(big.payload) + len(b"one more")
