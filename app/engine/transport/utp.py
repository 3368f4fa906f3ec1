"""One uTP connection (BEP 29) as a sans-I/O state machine: datagrams and `now` in, datagrams,
events and a timer deadline out.

The caller (the asyncio adapter, or a test's simulated link) feeds `receive_datagram(data, now)`,
hands the app's stream to `send(data)`, collects `datagrams_to_send(now)` and `events()`, and
calls `timeout(now)` once `next_timer()` has passed. Nothing here reads a clock or owns a socket.

Connection ids follow libtorrent: the initiator picks `recv_id`, sends its SYN with it and all
later packets with `recv_id + 1`; the acceptor sends with the SYN's id and receives on id + 1.
ST_STATE packets carry the next sequence number without using it up, so the initiator's first
`ack_nr` is the acceptor's `seq_nr - 1`. Our FIN uses up a sequence number, which both libtorrent
and libutp accept (the FIN's number is where the stream ends).
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from app.engine.errors import LocalProtocolError
from app.engine.transport.ledbat import DelayHistory, Ledbat
from app.engine.transport.utp_codec import (
    HEADER_SIZE,
    SEQ_ACK,
    SEQ_MASK,
    U32_MASK,
    Packet,
    PacketType,
    UtpError,
    decode_packet,
    encode_header,
    encode_prefix,
    sack_mask,
    sack_offsets,
    seq_less,
)

PACKET_SIZE = 1400  # the largest datagram we send, header and data: it fits Ethernet's 1500
MAX_PAYLOAD = PACKET_SIZE - HEADER_SIZE
MIN_PACKET_SIZE = 548  # 576, the IPv4 MTU every host must take, less IPv4 and UDP headers
IP_AND_UDP_HEADERS = {False: 20 + 8, True: 40 + 8}  # by "is it IPv6"


def max_payload(path_mtu: int | None, ipv6: bool) -> int:
    """The data a packet carries on a path of this MTU (None: unknown, taken as Ethernet's).

    As libtorrent does, the route's MTU is the ceiling: a tunnel (WireGuard's 1420, PPPoE's
    1492) gets smaller packets instead of fragments. No probing for black holes below it.
    """
    if path_mtu is None:
        return MAX_PAYLOAD
    size = min(PACKET_SIZE, max(MIN_PACKET_SIZE, path_mtu - IP_AND_UDP_HEADERS[ipv6]))
    return size - HEADER_SIZE
RECEIVE_BUFFER = 1024 * 1024  # bytes we advertise in wnd_size when nothing is buffered (libtorrent's)
SEND_BUFFER = 4 * 1024 * 1024  # bytes `send` accepts before it says the buffer is full
MAX_WINDOW = 2 * 1024 * 1024  # the congestion window never grows past this
MAX_REORDER = 1024  # packets past ack_nr we keep out of order; further ones are dropped
DUP_ACK_LIMIT = 3  # BEP 29: three duplicate acks (or three SACKed packets past a hole) mean loss
MAX_FAST_RESENDS = 5  # packets one SACK may fast-retransmit (libtorrent)
INITIAL_RTO = 1.0  # BEP 29: the initial timeout is 1000 ms
MIN_RTO = 0.5  # BEP 29: timeout = max(rtt + rtt_var * 4, 500 ms)
MAX_RTO = 60.0
MAX_TIMEOUTS = 5  # consecutive timeouts of a live connection before it is declared dead
SYN_TRANSMISSIONS = 3  # the SYN is sent this often (1 s, 2 s, 4 s apart) before giving up
FIN_TRANSMISSIONS = 3
LINGER = 3.0  # after our FIN is acked, we wait this long to ack the peer's FIN
HANDSHAKE_TIMEOUT = 10.0  # an accepted connection that hears nothing after the SYN is dropped
ACK_DELAY = 0.002  # an in-order packet alone waits this long for a second one to share its ACK
NO_SAMPLE = 0x7FFFFFFF  # libtorrent: old uTorrent sends INT_MAX for "no delay sample yet"
MIN_PROBE_TIMEOUT = 0.020  # a silent flight is probed after max(2 rtt, 20 ms) (RFC 8985 TLP: 10 ms)
# Sequence numbers from the oldest unacked packet to the next one sent. A receiver keeps only so
# many out of order and drops later ones without an ACK: libutp 511, libtorrent its receive
# buffer over the packet size (about 750 for 1 MiB). Past that, a hole that is not filled makes
# every new packet vanish, and the sender hears nothing until its retransmission timeout.
MAX_SPAN = 500


class State(Enum):
    IDLE = "idle"  # an initiator before `connect`
    SYN_SENT = "syn sent"
    CONNECTED = "connected"
    FIN_SENT = "fin sent"  # our FIN is out; waiting for its ACK
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Connected:
    """The handshake is done: the stream is open both ways."""


@dataclass(frozen=True, slots=True)
class DataReceived:
    data: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over; `reason` says why in plain words, `error` if it was not a clean end."""

    reason: str
    error: bool


Event = Connected | DataReceived | Closed

CLOSED_BY_US = Closed("closed", error=False)
CLOSED_BY_PEER = Closed("the peer closed the connection", error=False)


@dataclass(slots=True)
class _Sent:
    """A packet that uses a sequence number, kept until it is acked (BEP 29: no repacketizing)."""

    seq: int
    kind: PacketType
    payload: bytes
    sent_at: float = 0.0
    transmissions: int = 0
    need_resend: bool = False  # timed out: not counted in flight until sent again
    fast_resent: bool = False


def micros(now: float) -> int:
    """BEP 29 timestamps: microseconds, truncated to 32 bits."""
    return int(now * 1_000_000) & U32_MASK


class UtpConnection:
    """One uTP connection; build it with `outgoing` (then `connect`) or `incoming` (from a SYN)."""

    def __init__(
        self, recv_id: int, send_id: int, seq_nr: int, *, send_buffer: int = SEND_BUFFER, payload: int = MAX_PAYLOAD
    ) -> None:
        self.payload = payload  # the most data one packet carries (max_payload for its path)
        self.recv_id = recv_id & SEQ_MASK
        self.send_id = send_id & SEQ_MASK
        self.state = State.IDLE
        self.send_buffer_limit = send_buffer
        self.invalid_packets = 0  # datagrams dropped as malformed or implausible
        self._seq_nr = seq_nr & SEQ_MASK  # the next number we use
        self._acked = (seq_nr - 1) & SEQ_MASK  # everything up to here is acked
        self._sent: dict[int, _Sent] = {}  # in sequence order (inserted so)
        self._in_flight = 0
        self._resends = 0  # entries of _sent with need_resend
        self._cc = Ledbat(payload, MAX_WINDOW)
        self._peer_window = payload  # until the peer's first ACK says more
        self._window_limited = False
        self._probe = False  # BEP 29: after a timeout, one packet goes out past a zero window
        self._rtt: float | None = None
        self._rtt_var = 0.0
        self._rto = INITIAL_RTO
        self._timeouts = 0
        self._deadline: float | None = None
        self._probe_at: float | None = None  # the tail loss probe: when a silent flight is probed
        self._probes = 0  # probes since the last ACK that acked something: each waits twice as long
        self._loss_seq = self._acked
        self._dup_acks = 0
        self._reply_micro = 0
        self._delay_history = DelayHistory()
        self._recent_delays: deque[int] = deque(maxlen=3)
        self._ack_nr = 0  # the last packet received in order
        self._syn_seq = 0
        self._ack_now = False
        self._ack_due: float | None = None
        self._unacked = 0  # in-order packets received since our last ACK
        self._advertised = RECEIVE_BUFFER
        self._reorder: dict[int, bytes] = {}
        self._reorder_bytes = 0
        self._reorder_high = 0  # the highest sequence number in _reorder (for the SACK)
        self._inbox: deque[bytes] = deque()  # in order, held while reading is paused
        self._inbox_bytes = 0
        self._reading = True
        self._eof_seq: int | None = None
        self._peer_done = False  # every packet up to the peer's FIN has arrived
        self._confirmed = False
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._head = 0  # bytes of _queue[0] already packetized
        self._closing = False
        self._fin_seq: int | None = None
        self._fin_acked = False  # and we linger to ack the peer's FIN
        self._closed_sent = False
        self._pending_closed: Closed | None = None  # waits for the held data to be read
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._arrived: list[bytes] = []  # in-order payloads not yet in an event: one DataReceived for all

    @classmethod
    def outgoing(cls, connection_id: int, seq_nr: int, *, payload: int = MAX_PAYLOAD) -> UtpConnection:
        """BEP 29: the initiator receives on the id its SYN carries and sends on id + 1."""
        return cls(connection_id, connection_id + 1, seq_nr, payload=payload)

    @classmethod
    def incoming(cls, syn: Packet, seq_nr: int, now: float, *, payload: int = MAX_PAYLOAD) -> UtpConnection:
        """Accept a SYN: send on its id, receive on id + 1, answer with an ST_STATE."""
        connection = cls(syn.connection_id + 1, syn.connection_id, seq_nr, payload=payload)
        connection._accept(syn, now)
        return connection

    # ------------------------------------------------------------------ the application side

    @property
    def send_buffer_size(self) -> int:
        """Bytes handed to `send` and not yet packetized."""
        return self._queued

    @property
    def send_capacity(self) -> int:
        """How many more bytes `send` takes now (back-pressure for the writer)."""
        return max(0, self.send_buffer_limit - self._queued)

    @property
    def receive_window(self) -> int:
        """Bytes the peer may still send us (what we advertise in wnd_size)."""
        return max(0, RECEIVE_BUFFER - self._inbox_bytes - self._reorder_bytes)

    @property
    def bytes_in_flight(self) -> int:
        return self._in_flight

    @property
    def congestion_window(self) -> int:
        return int(self._cc.window)

    @property
    def rtt(self) -> float | None:
        return self._rtt

    @property
    def can_send(self) -> bool:
        """`send` would take data (the connection is not closing)."""
        return not self._closing and self.state in (State.IDLE, State.SYN_SENT, State.CONNECTED)

    @property
    def confirmed(self) -> bool:
        """The peer has sent a packet after the handshake (so its address was not spoofed)."""
        return self._confirmed

    def connect(self, now: float) -> None:
        """Send the SYN (BEP 29: with our receive id; seq_nr is the first number)."""
        if self.state is not State.IDLE:
            raise LocalProtocolError(f"uTP: connect in state {self.state.value}")
        self.state = State.SYN_SENT
        self._transmit(self._new_entry(PacketType.SYN, b""), now)
        self._deadline = now + self._rto

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Queue stream bytes; returns how many were taken (at most `send_capacity`)."""
        if self._closing or self.state in (State.FIN_SENT, State.CLOSED):
            raise LocalProtocolError("uTP: sending on a closed connection")
        taken = min(len(data), self.send_capacity)
        if taken:
            self._queue.append(bytes(data[:taken]))
            self._queued += taken
        return taken

    def close(self) -> None:
        """Graceful close: the queued bytes go out, then a FIN; Closed comes when it is acked."""
        if self.state is State.IDLE or (self.state is State.SYN_SENT and not self._queued):
            self._terminate(CLOSED_BY_US)
        elif self.state in (State.SYN_SENT, State.CONNECTED):
            self._closing = True

    def abort(self, now: float) -> None:
        """Close at once, telling the peer with an ST_RESET."""
        if self.state in (State.CONNECTED, State.FIN_SENT):
            self._out.append(self._header(PacketType.RESET, self._seq_nr, now))
        self._terminate(CLOSED_BY_US)

    def pause_reading(self) -> None:
        """Hold received data (the advertised window shrinks as it piles up)."""
        self._reading = False

    def resume_reading(self) -> None:
        self._reading = True
        self._arrived.extend(self._inbox)
        self._inbox.clear()
        self._inbox_bytes = 0
        if self._advertised < RECEIVE_BUFFER // 2:
            self._ack_now = True  # a window update, or the peer waits for its next timeout
        pending, self._pending_closed = self._pending_closed, None
        if pending is not None:
            self._emit_closed(pending)

    def events(self) -> list[Event]:
        """What happened since the last call, oldest first."""
        self._flush_arrived()
        events, self._events = self._events, []
        return events

    def _flush_arrived(self) -> None:
        """The payloads that arrived since the last event, as one DataReceived: the app's stream
        parser then runs once per batch of datagrams, not once per 1,380 bytes."""
        if self._arrived:
            arrived, self._arrived = self._arrived, []
            self._events.append(DataReceived(arrived[0] if len(arrived) == 1 else b"".join(arrived)))

    def _event(self, event: Connected | Closed) -> None:
        self._flush_arrived()
        self._events.append(event)

    # ------------------------------------------------------------------ the network side

    def receive_datagram(self, data: bytes, now: float) -> None:
        """One datagram for this connection; malformed or implausible ones are counted and dropped."""
        try:
            packet = decode_packet(data)
        except UtpError:
            self.invalid_packets += 1
            return
        if self.state in (State.IDLE, State.CLOSED):
            return
        if packet.type is PacketType.SYN:
            self._on_syn(packet)
        elif packet.connection_id != self.recv_id or not self._plausible(packet):
            self.invalid_packets += 1
        elif packet.type is PacketType.RESET:
            self._terminate(Closed("the peer reset the connection", error=True))
        else:
            self._on_packet(packet, now)

    def datagrams_to_send(self, now: float) -> list[bytes]:
        """Datagrams to put on the wire now: resends, new data, a FIN, an ACK."""
        if self.state in (State.CONNECTED, State.FIN_SENT):
            self._send_resends(now)
            self._send_data(now)
            self._send_fin(now)
            self._send_ack(now)
            if self._fin_acked and self._peer_done:
                self._terminate(CLOSED_BY_US)
        out, self._out = self._out, []
        return out

    def next_timer(self) -> float | None:
        """When `timeout` wants to run next (None: no timer needed)."""
        timers = [timer for timer in (self._deadline, self._ack_due, self._probe_at) if timer is not None]
        return min(timers, default=None)

    def timeout(self, now: float) -> None:
        """Run the timers that are due: the delayed ACK, the tail loss probe, the retransmission timeout."""
        if self._ack_due is not None and now >= self._ack_due:
            self._ack_now = True
            self._ack_due = None
        if self._probe_at is not None and now >= self._probe_at:
            self._send_tail_probe(now)
        if self._deadline is not None and now >= self._deadline and self.state is not State.CLOSED:
            self._on_deadline(now)

    # ------------------------------------------------------------------ receiving

    def _accept(self, syn: Packet, now: float) -> None:
        self.state = State.CONNECTED
        self._ack_nr = self._syn_seq = syn.seq_nr
        self._note_timing(syn, now)
        self._ack_now = True
        self._deadline = now + HANDSHAKE_TIMEOUT
        self._event(Connected())

    def _on_syn(self, packet: Packet) -> None:
        """A resent SYN means our ST_STATE was lost: answer it again."""
        if packet.connection_id == self.send_id and packet.seq_nr == self._syn_seq and not self._confirmed:
            self._ack_now = True

    def _plausible(self, packet: Packet) -> bool:
        """libtorrent's check: an ACK of a packet we never sent, or far behind, is injected or stale."""
        last_sent = (self._seq_nr - 1) & SEQ_MASK
        return not seq_less(last_sent, packet.ack_nr) and not seq_less(
            packet.ack_nr, (self._acked - DUP_ACK_LIMIT) & SEQ_MASK
        )

    def _on_packet(self, packet: Packet, now: float) -> None:
        if self.state is State.SYN_SENT:
            if packet.ack_nr != (self._acked + 1) & SEQ_MASK:
                return  # BEP 29: only an ACK of our SYN opens the connection
            self._established(packet)
        self._confirmed = True
        self._note_timing(packet, now)
        self._on_ack(packet, now)
        _PAYLOAD_HANDLERS[packet.type](self, packet, now)

    def _established(self, packet: Packet) -> None:
        self.state = State.CONNECTED
        self._ack_nr = (packet.seq_nr - 1) & SEQ_MASK  # ST_STATE carries the next number, unused
        self._event(Connected())

    def _note_timing(self, packet: Packet, now: float) -> None:
        """BEP 29: reply_micro is our clock minus their timestamp; their reply is our delay sample."""
        if packet.timestamp:
            self._reply_micro = (micros(now) - packet.timestamp) & U32_MASK
        if packet.timestamp_difference not in (0, NO_SAMPLE):
            self._recent_delays.append(self._delay_history.add(packet.timestamp_difference, now))

    def _on_data(self, packet: Packet, now: float) -> None:
        offset = (packet.seq_nr - self._ack_nr) & SEQ_MASK
        if not packet.payload or self._peer_done:
            return
        if offset == 0 or offset >= 0x8000 or packet.seq_nr in self._reorder:
            self._ack_now = True  # a duplicate: our ACK of it was probably lost
        elif offset <= MAX_REORDER and len(packet.payload) <= self.receive_window:
            self._store(packet, offset, now)
        else:
            self._ack_now = True  # no room: the ACK tells the sender our window

    def _store(self, packet: Packet, offset: int, now: float) -> None:
        if offset != 1:
            if not self._reorder or offset > (self._reorder_high - self._ack_nr) & SEQ_MASK:
                self._reorder_high = packet.seq_nr
            self._reorder[packet.seq_nr] = packet.payload
            self._reorder_bytes += len(packet.payload)
            self._ack_now = True  # BEP 29: a hole, so an ACK with a SACK goes out at once
            return
        self._deliver(packet.payload)
        self._ack_nr = packet.seq_nr
        while (following := (self._ack_nr + 1) & SEQ_MASK) in self._reorder:
            payload = self._reorder.pop(following)
            self._reorder_bytes -= len(payload)
            self._deliver(payload)
            self._ack_nr = following
        self._unacked += 1
        if self._unacked >= 2 or self._reorder:
            self._ack_now = True
        elif self._ack_due is None:
            self._ack_due = now + ACK_DELAY
        self._reach_eof()

    def _deliver(self, payload: bytes) -> None:
        if self._reading:
            self._arrived.append(payload)
        else:
            self._inbox.append(payload)
            self._inbox_bytes += len(payload)

    def _on_fin(self, packet: Packet, now: float) -> None:
        """BEP 29: nothing comes after the FIN's number; wait for what is missing before it."""
        self._ack_now = True
        if self._eof_seq is None and not self._peer_done:
            self._eof_seq = packet.seq_nr
            self._reach_eof()

    def _reach_eof(self) -> None:
        if self._eof_seq is not None and (self._ack_nr + 1) & SEQ_MASK == self._eof_seq:
            self._ack_nr = self._eof_seq
            self._eof_seq = None
            self._peer_done = True
            self._drop_send_queue()
            self._closing = True
            self._emit_closed(CLOSED_BY_PEER)


    # ------------------------------------------------------------------ acknowledgements

    def _on_ack(self, packet: Packet, now: float) -> None:
        self._peer_window = packet.wnd_size
        in_flight = self._in_flight
        if packet.type is PacketType.STATE and packet.ack_nr == self._acked and self._sent:
            self._dup_acks += 1
        acked, fastest = self._ack_through(packet.ack_nr, now)
        if packet.sack:
            sack_acked, sack_fastest = self._ack_sack(packet.ack_nr, packet.sack, now)
            acked, fastest = acked + sack_acked, min(fastest, sack_fastest)
        self._advance_acked()
        if acked:
            self._congestion_step(acked, fastest, in_flight)
        self._fast_resend_on_dup_acks(now)
        self._timeouts = 0
        if self._fin_acked:
            return  # lingering: the deadline is the end of the linger
        self._deadline = now + self._rto if self._sent or self._queued else None
        if acked:
            self._probes = 0
            self._arm_tail_probe(now)
        if self.state is State.FIN_SENT and self._fin_seq not in self._sent:
            self._our_fin_acked(now)

    def _our_fin_acked(self, now: float) -> None:
        """The peer has all we sent; we stay a little to ack its FIN if it has not come yet."""
        self._fin_acked = True
        self._emit_closed(CLOSED_BY_US)
        self._deadline = now + LINGER

    def _ack_through(self, ack_nr: int, now: float) -> tuple[int, float]:
        acked, fastest = 0, float("inf")
        while seq_less(self._acked, ack_nr):
            self._acked = (self._acked + 1) & SEQ_MASK
            entry = self._sent.pop(self._acked, None)
            if entry is not None:
                acked += self._account(entry)
                fastest = min(fastest, now - entry.sent_at)
                self._sample_rtt(entry, now)
        return acked, fastest

    def _ack_sack(self, ack_nr: int, mask: bytes, now: float) -> tuple[int, float]:
        """BEP 29 SACK: ack each packet it names, then resend those with 3 acked after them."""
        sent_after = (self._seq_nr - ack_nr - 1) & SEQ_MASK  # bits past our last packet mean nothing
        offsets = [offset for offset in sack_offsets(mask) if offset <= sent_after]
        acked, fastest = 0, float("inf")
        for offset in offsets:
            entry = self._sent.pop((ack_nr + offset) & SEQ_MASK, None)
            if entry is not None:
                acked += self._account(entry)
                fastest = min(fastest, now - entry.sent_at)
                self._sample_rtt(entry, now)
        if len(offsets) >= DUP_ACK_LIMIT:
            self._fast_resend_holes(ack_nr, offsets, now)
        return acked, fastest

    def _fast_resend_holes(self, ack_nr: int, offsets: list[int], now: float) -> None:
        """The packets still unacked (all of them follow ack_nr now) with 3 SACKed after them."""
        holes = []
        for entry in self._sent.values():  # in sequence order
            offset = (entry.seq - ack_nr) & SEQ_MASK
            if len(offsets) - bisect.bisect_right(offsets, offset) < DUP_ACK_LIMIT:
                break  # fewer still after the later ones
            if not entry.fast_resent:
                holes.append(entry)
                if len(holes) == MAX_FAST_RESENDS:
                    break
        for entry in holes:
            self._fast_resend(entry, now)

    def _fast_resend_on_dup_acks(self, now: float) -> None:
        if self._dup_acks < DUP_ACK_LIMIT:
            return
        self._dup_acks = 0
        entry = self._sent.get((self._acked + 1) & SEQ_MASK)
        if entry is not None and not entry.fast_resent:
            self._fast_resend(entry, now)

    def _fast_resend(self, entry: _Sent, now: float) -> None:
        entry.fast_resent = True
        if not seq_less(entry.seq, self._loss_seq) and entry.seq != self._loss_seq:
            if self._cc.on_loss(now):
                self._loss_seq = self._seq_nr  # BEP 29: one cut per window of loss
        if entry.need_resend:
            return  # already queued by a timeout; it goes out with the resends
        self._transmit(entry, now)

    def _arm_tail_probe(self, now: float) -> None:
        """RFC 8985 (TLP): a flight that hears nothing for max(2 rtt, 20 ms) is probed (then
        after twice as long, and so on, until an ACK or the retransmission timeout).

        When the receiver drops a whole window (a full socket buffer, or libtorrent, which drops
        without a word the packets it has no room to reorder), no later packet is SACKed, so
        neither duplicate ACKs nor the SACK rule see the loss; without a probe only the
        retransmission timeout (500 ms at least, and back to one packet of window) finds it.
        """
        if self._in_flight and self._rtt is not None:
            self._probe_at = now + max(2 * self._rtt, MIN_PROBE_TIMEOUT) * 2**self._probes
        else:
            self._probe_at = None

    def _send_tail_probe(self, now: float) -> None:
        """Resend the oldest packet in flight, the one the receiver waits for: its ACK, with a SACK,
        says what else is missing. The window stays: a receiver that was only busy lost nothing."""
        self._probe_at = None
        self._probes += 1
        oldest = next((entry for entry in self._sent.values() if not entry.need_resend), None)
        if oldest is not None and self.state in (State.CONNECTED, State.FIN_SENT):
            self._transmit(oldest, now)

    def _account(self, entry: _Sent) -> int:
        if entry.need_resend:
            self._resends -= 1
        else:
            self._in_flight -= len(entry.payload)
        return len(entry.payload)

    def _advance_acked(self) -> None:
        moved = False
        while self._acked != (self._seq_nr - 1) & SEQ_MASK and (self._acked + 1) & SEQ_MASK not in self._sent:
            self._acked = (self._acked + 1) & SEQ_MASK
            moved = True
        if moved or not self._sent:
            self._dup_acks = 0
        if seq_less(self._loss_seq, self._acked):
            self._loss_seq = self._acked

    def _sample_rtt(self, entry: _Sent, now: float) -> None:
        """BEP 29: rtt and rtt_var from packets sent once; timeout = max(rtt + 4 rtt_var, 500 ms)."""
        if entry.transmissions != 1:
            return
        sample = now - entry.sent_at
        if self._rtt is None:
            self._rtt, self._rtt_var = sample, sample / 2
        else:
            self._rtt_var += (abs(self._rtt - sample) - self._rtt_var) / 4
            self._rtt += (sample - self._rtt) / 8
        self._rto = max(MIN_RTO, self._rtt + 4 * self._rtt_var)

    def _congestion_step(self, acked: int, fastest: float, in_flight: int) -> None:
        """LEDBAT on the lowest of the last three delay samples, never above the RTT (libtorrent)."""
        if not self._recent_delays:
            return
        delay = min(min(self._recent_delays), int(fastest * 1_000_000))
        self._cc.on_ack(acked, delay, in_flight, self._window_limited)

    # ------------------------------------------------------------------ timers

    def _on_deadline(self, now: float) -> None:
        if self._fin_acked:
            self._terminate(CLOSED_BY_US)
        elif self.state is State.SYN_SENT:
            self._retry_syn(now)
        elif not self._confirmed:
            self._terminate(Closed("the peer sent nothing after the handshake", error=True))
        elif self._sent:
            self._retransmit_timeout(now)
        elif self._queued:
            self._probe = True  # BEP 29: a zero window gets one packet after a timeout
            self._deadline = now + self._rto
        else:
            self._cc.on_timeout(idle=True)
            self._deadline = None

    def _retry_syn(self, now: float) -> None:
        syn = self._sent[(self._seq_nr - 1) & SEQ_MASK]
        if syn.transmissions >= SYN_TRANSMISSIONS:
            self._terminate(Closed("no uTP answer from the peer", error=True))
            return
        self._transmit(syn, now)
        self._deadline = now + INITIAL_RTO * 2 ** (syn.transmissions - 1)

    def _retransmit_timeout(self, now: float) -> None:
        """BEP 29: back to one packet of window; everything in flight is resent, oldest first."""
        self._timeouts += 1
        if self._timeouts > MAX_TIMEOUTS or (self.state is State.FIN_SENT and self._timeouts >= FIN_TRANSMISSIONS):
            self._terminate(self._timed_out())
            return
        self._cc.on_timeout(idle=False)
        self._loss_seq = self._seq_nr
        self._probe_at = None
        for entry in self._sent.values():
            if not entry.need_resend:
                entry.need_resend = True
                self._resends += 1
        self._in_flight = 0
        oldest = next(iter(self._sent.values()))
        self._resend(oldest, now)
        self._deadline = now + min(MAX_RTO, self._rto * 2**self._timeouts)

    def _timed_out(self) -> Closed:
        if self.state is State.FIN_SENT:
            return CLOSED_BY_US
        return Closed("the peer stopped answering (uTP timeout)", error=True)

    # ------------------------------------------------------------------ sending

    def _send_window(self) -> int:
        """BEP 29: in flight may not pass min(max_window, wnd_size)."""
        return min(int(self._cc.window), self._peer_window)

    def _send_resends(self, now: float) -> None:
        if not self._resends:
            return
        for entry in list(self._sent.values()):
            if not entry.need_resend:
                continue
            if self._in_flight and self._in_flight + len(entry.payload) > self._send_window():
                return
            self._resend(entry, now)

    def _resend(self, entry: _Sent, now: float) -> None:
        entry.need_resend = False
        self._resends -= 1
        self._in_flight += len(entry.payload)
        self._transmit(entry, now)

    def _send_data(self, now: float) -> None:
        if self.state is not State.CONNECTED or self._resends:
            return
        prefix = b""
        window = self._send_window()
        while self._queued:
            size = min(self.payload, self._queued)
            if self._in_flight + size > window and not self._take_probe():
                self._window_limited = True
                break
            if (self._seq_nr - self._acked) & SEQ_MASK > MAX_SPAN:
                break  # the receiver waits for the oldest hole: nothing past its reorder buffer
            entry = self._new_entry(PacketType.DATA, self._take(size))
            self._in_flight += size
            prefix = prefix or self._prefix(now)
            self._transmit(entry, now, prefix)
        else:
            self._window_limited = False
        if self._deadline is None and (self._sent or self._queued):
            self._deadline = now + self._rto
        if self._probe_at is None:
            self._arm_tail_probe(now)

    def _take_probe(self) -> bool:
        probe, self._probe = self._probe, False
        return probe and not self._in_flight

    def _send_fin(self, now: float) -> None:
        if self._closing and not self._queued and self.state is State.CONNECTED and not self._resends:
            entry = self._new_entry(PacketType.FIN, b"")
            self._fin_seq = entry.seq
            self.state = State.FIN_SENT
            self._transmit(entry, now)
            self._deadline = now + self._rto

    def _send_ack(self, now: float) -> None:
        if self._ack_now:
            self._out.append(self._header(PacketType.STATE, self._seq_nr, now))
            self._acknowledged()

    def _acknowledged(self) -> None:
        self._ack_now = False
        self._ack_due = None
        self._unacked = 0

    def _new_entry(self, kind: PacketType, payload: bytes) -> _Sent:
        entry = _Sent(self._seq_nr, kind, payload)
        self._sent[entry.seq] = entry
        self._seq_nr = (self._seq_nr + 1) & SEQ_MASK
        return entry

    def _transmit(self, entry: _Sent, now: float, prefix: bytes = b"") -> None:
        """Send a packet that uses a sequence number; `prefix`: the shared header of a burst of data."""
        entry.sent_at = now
        entry.transmissions += 1
        header = prefix + SEQ_ACK.pack(entry.seq, self._ack_nr) if prefix else self._header(entry.kind, entry.seq, now)
        self._out.append(header + entry.payload)
        if not self._reorder:
            self._acknowledged()  # its ack_nr is as good as an ST_STATE (a SACK needs one)

    def _header(self, kind: PacketType, seq: int, now: float) -> bytes:
        if kind is PacketType.SYN:  # BEP 29: the SYN goes out on our receive id
            return encode_header(kind, self.recv_id, micros(now), self._reply_micro, self.receive_window, seq, 0)
        self._advertised = self.receive_window
        sack = b""
        if kind is PacketType.STATE and self._reorder:
            sack = sack_mask(self._ack_nr, self._reorder, self._reorder_high)
        return encode_header(
            kind, self.send_id, micros(now), self._reply_micro, self._advertised, seq, self._ack_nr, sack
        )

    def _prefix(self, now: float) -> bytes:
        """The header of a data packet but its seq_nr and ack_nr (the same for a whole burst)."""
        self._advertised = self.receive_window
        return encode_prefix(PacketType.DATA, self.send_id, micros(now), self._reply_micro, self._advertised)

    def _take(self, size: int) -> bytes:
        """The next `size` queued bytes, as one payload."""
        parts = []
        remaining = size
        while remaining:
            head = self._queue[0]
            available = len(head) - self._head
            if available <= remaining:
                parts.append(head[self._head :] if self._head else head)
                self._queue.popleft()
                self._head = 0
                remaining -= available
            else:
                parts.append(head[self._head : self._head + remaining])
                self._head += remaining
                remaining = 0
        self._queued -= size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _drop_send_queue(self) -> None:
        self._queue.clear()
        self._queued = 0
        self._head = 0

    # ------------------------------------------------------------------ the end

    def _terminate(self, closed: Closed) -> None:
        self.state = State.CLOSED
        self._deadline = None
        self._ack_due = None
        self._probe_at = None
        self._sent.clear()
        self._reorder.clear()
        self._reorder_bytes = 0
        self._drop_send_queue()
        if self._inbox and closed.error:
            self._inbox.clear()
            self._inbox_bytes = 0
        self._emit_closed(closed)

    def _emit_closed(self, closed: Closed) -> None:
        """Once per connection, and after the data held while reading is paused."""
        if self._closed_sent or self._pending_closed is not None:
            return
        if self._inbox:
            self._pending_closed = closed
            return
        self._closed_sent = True
        self._event(closed)


def _ignore(connection: UtpConnection, packet: Packet, now: float) -> None:
    """ST_STATE: everything it says was in its header."""


_PAYLOAD_HANDLERS: dict[PacketType, Callable[[UtpConnection, Packet, float], None]] = {
    PacketType.DATA: UtpConnection._on_data,
    PacketType.FIN: UtpConnection._on_fin,
    PacketType.STATE: _ignore,
}
