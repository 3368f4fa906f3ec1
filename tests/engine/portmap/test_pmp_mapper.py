"""app/engine/portmap/pmp_mapper.py: PCP and NAT-PMP mappings against a fake router, fake clock."""

from __future__ import annotations

import struct
from itertools import count

from app.engine.portmap.pmp_mapper import ATTEMPTS, FIRST_RETRY, NO_ANSWER, RETRY_AFTER_SILENCE, Method, PmpMapper
from app.engine.portmap.status import Mapping, MapState
from tests.engine.portmap.fake_router import EXTERNAL_IP, FakeRouter

PORTS = {"TCP": 51413, "UDP": 51413}


def _mapper(**options: object) -> PmpMapper:
    serial = count(1)
    return PmpMapper("10.0.0.5", dict(PORTS), nonce=lambda n: next(serial).to_bytes(n, "big"), **options)  # type: ignore[arg-type]


def _exchange(mapper: PmpMapper, router: FakeRouter | None, now: float) -> int:
    """Fire due timers at `now`, carry every request to the router and its answer back."""
    mapper.handle_timer(now)
    sent = mapper.datagrams_to_send()
    for request in sent:
        if router is not None:
            mapper.receive(router.answer(request, now), now)
    return len(sent)


def _run_until(mapper: PmpMapper, router: FakeRouter | None, end: float, start: float = 0.0) -> int:
    """Follow the mapper's own timer from `start` to `end`; how many datagrams it sent."""
    now, sent = start, _exchange(mapper, router, start)
    while (due := mapper.next_timer()) is not None and due <= end:
        now = max(now, due)
        sent += _exchange(mapper, router, now)
    return sent


def test_pcp_maps_tcp_and_udp_and_learns_the_external_address() -> None:
    mapper, router = _mapper(), FakeRouter()
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    status = mapper.status
    assert status.state == MapState.MAPPED and status.external_address == EXTERNAL_IP
    assert set(status.mappings) == {Mapping("TCP", 51413, 51413, "PCP"), Mapping("UDP", 51413, 51413, "PCP")}
    assert status.summary == f"Port 51413 open through PCP ({EXTERNAL_IP})"


def test_renews_at_half_the_lifetime_the_router_granted() -> None:
    mapper, router = _mapper(lifetime=7200), FakeRouter(lifetime_cap=600)
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    assert mapper.next_timer() == 300.0
    assert _exchange(mapper, router, 299.0) == 0
    assert _exchange(mapper, router, 300.0) == 2
    assert len(router.requests) == 4 and mapper.status.state == MapState.MAPPED
    assert mapper.next_timer() == 600.0


def test_a_router_that_restarted_is_seen_by_its_epoch_and_everything_is_mapped_again() -> None:
    mapper, router = _mapper(), FakeRouter(lifetime_cap=600)
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    router.started_at = -1000  # a router up for a while
    _exchange(mapper, router, 300.0)
    router.restart(400.0)  # forgets the mappings; its epoch starts again
    assert router.mappings == {}
    mapper._slots[1].due = 500.0  # the UDP renewal comes first: its answer shows the restart
    _exchange(mapper, router, 500.0)
    assert mapper.restarts == 1
    _exchange(mapper, router, 500.0)  # the TCP mapping is asked for again at once
    assert set(router.mappings) == {(6, 51413), (17, 51413)}


def test_no_answer_gives_up_after_the_rfc_6886_schedule_with_a_plain_reason_and_asks_later() -> None:
    mapper, router = _mapper(), FakeRouter()
    mapper.start(0.0)
    sent = _run_until(mapper, None, 500.0)
    assert sent == 2 * ATTEMPTS
    assert mapper.status.state == MapState.FAILED
    assert mapper.status.summary == f"No port mapping: {NO_ANSWER}"
    gave_up_at = FIRST_RETRY * (2**ATTEMPTS - 1)  # 127.75 s: RFC 6886's nine tries
    assert mapper.next_timer() == gave_up_at + RETRY_AFTER_SILENCE
    _run_until(mapper, router, gave_up_at + RETRY_AFTER_SILENCE, start=500.0)  # the router is back
    assert mapper.status.state == MapState.MAPPED


def test_the_retransmissions_wait_250_ms_then_double() -> None:
    mapper = _mapper(attempts=5)
    mapper.start(0.0)
    times = []
    now = 0.0
    while now < 100:
        mapper.handle_timer(now)
        if mapper.datagrams_to_send():
            times.append(now)
        now = mapper.next_timer()  # type: ignore[assignment]
    assert times == [0.0, 0.25, 0.75, 1.75, 3.75]
    assert now == 7.75 + RETRY_AFTER_SILENCE  # the fifth went unanswered too: a new round later


def test_a_taken_port_pcp_records_the_port_the_router_gave() -> None:
    mapper, router = _mapper(), FakeRouter(taken={(6, 51413)})
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    tcp = next(m for m in mapper.status.mappings if m.transport == "TCP")
    assert tcp.external_port == 51414
    assert mapper.status.summary.startswith("Port 51414 open")


def test_a_nat_pmp_router_is_asked_again_in_nat_pmp_and_its_port_and_address_kept() -> None:
    mapper, router = _mapper(), FakeRouter(speaks_pcp=False, taken={(17, 51413), (17, 51414)})
    mapper.start(0.0)
    _run_until(mapper, router, 1.0)
    assert mapper.method == Method.NATPMP
    status = mapper.status
    assert status.external_address == EXTERNAL_IP
    assert set(status.mappings) == {Mapping("TCP", 51413, 51413, "NAT-PMP"), Mapping("UDP", 51413, 51415, "NAT-PMP")}


def test_a_refusal_is_final_and_said_in_words() -> None:
    mapper, router = _mapper(), FakeRouter(result=2)
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    assert mapper.status.state == MapState.FAILED
    assert "refused" in mapper.status.reason
    assert mapper.next_timer() is None


def test_a_router_out_of_ports_is_asked_again_later() -> None:
    mapper, router = _mapper(), FakeRouter(result=8)
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    assert mapper.status.reason == "the router has no ports left"
    router.result = 0
    _run_until(mapper, router, 60.0)
    assert mapper.status.state == MapState.MAPPED


def test_answers_that_do_not_match_are_ignored() -> None:
    mapper, router = _mapper(), FakeRouter()
    mapper.start(0.0)
    mapper.handle_timer(0.0)
    tcp_request, _ = mapper.datagrams_to_send()
    answer = bytearray(router.answer(tcp_request, 0.0))
    for wrong in (answer[:24] + bytes(12) + answer[36:], answer[:40] + b"\x00\x01" + answer[42:], b"\x02" * 5):
        mapper.receive(bytes(wrong), 0.0)  # another nonce, another internal port, garbage
    assert mapper.status.state == MapState.TRYING
    mapper.receive(bytes(answer), 0.0)
    assert [m.transport for m in mapper.status.mappings] == ["TCP"]


def test_stop_deletes_what_was_mapped() -> None:
    for speaks_pcp in (True, False):
        mapper, router = _mapper(), FakeRouter(speaks_pcp=speaks_pcp)
        mapper.start(0.0)
        _run_until(mapper, router, 1.0)
        assert len(router.mappings) == 2
        mapper.stop()
        for request in mapper.datagrams_to_send():
            router.answer(request, 2.0)
        assert router.mappings == {} and mapper.next_timer() is None


def test_a_gateway_that_says_nothing_listens_ends_the_asking_at_once() -> None:
    mapper = _mapper()
    mapper.start(0.0)
    mapper.handle_timer(0.0)
    mapper.unreachable(0.0)
    assert mapper.status.summary == f"No port mapping: {NO_ANSWER}"
    assert mapper.next_timer() == RETRY_AFTER_SILENCE


def test_unreachable_leaves_open_mappings_open() -> None:
    mapper, router = _mapper(), FakeRouter()
    mapper.start(0.0)
    _exchange(mapper, router, 0.0)
    mapper.unreachable(1.0)  # nothing was being asked
    assert mapper.status.state == MapState.MAPPED


# RFC 6886 3.2.1 / RFC 6887 14.1.1: a restarted router's announcement on 224.0.0.1:5350

GATEWAY = "10.0.0.1"


def _mapped_long_ago(router: FakeRouter, **options: object) -> PmpMapper:
    """Mapped for two hours (renewed at 3600 s), the router up since -1000."""
    mapper = _mapper(gateway=GATEWAY, lifetime=7200, **options)
    router.started_at = -1000
    mapper.start(0.0)
    _run_until(mapper, router, 2.0)
    assert mapper.status.state == MapState.MAPPED and mapper.next_timer() == 3600.0
    return mapper


def test_a_pcp_announcement_of_a_restart_remaps_at_once_not_at_the_renewal() -> None:
    router = FakeRouter(lifetime_cap=7200)
    mapper = _mapped_long_ago(router)
    router.restart(100.0)
    mapper.announced(router.announce(103.0), GATEWAY, 103.0)
    assert mapper.restarts == 1 and mapper.next_timer() == 103.0
    assert _exchange(mapper, router, 103.0) == 2
    assert set(router.mappings) == {(6, 51413), (17, 51413)}
    assert mapper.status.state == MapState.MAPPED and mapper.next_timer() == 103.0 + 3600


def test_a_nat_pmp_announcement_remaps_and_says_the_address() -> None:
    router = FakeRouter(speaks_pcp=False, lifetime_cap=7200)
    mapper = _mapped_long_ago(router)
    assert mapper.method == Method.NATPMP
    router.restart(100.0)
    mapper.external_address = ""
    mapper.announced(router.announce(101.0), GATEWAY, 101.0)
    assert mapper.external_address == EXTERNAL_IP
    assert _exchange(mapper, router, 101.0) == 3  # TCP, UDP and the address
    assert set(router.mappings) == {(6, 51413), (17, 51413)}


def test_an_announcement_with_a_clock_that_went_on_changes_nothing() -> None:
    router = FakeRouter(lifetime_cap=7200)
    mapper = _mapped_long_ago(router)
    mapper.announced(router.announce(500.0), GATEWAY, 500.0)  # the same epoch, 500 s on
    assert mapper.restarts == 0 and mapper.next_timer() == 3600.0


def test_slots_that_failed_while_the_router_was_away_are_asked_again_when_it_announces() -> None:
    router = FakeRouter(lifetime_cap=7200)
    mapper = _mapped_long_ago(router)
    mapper._slots[0].ask(300.0)  # a TCP renewal went out to a router that was off
    mapper.unreachable(300.0)
    assert mapper._slots[0].state == MapState.FAILED and mapper.next_timer() == 300.0 + RETRY_AFTER_SILENCE
    router.restart(310.0)
    mapper.announced(router.announce(312.0), GATEWAY, 312.0)
    assert _exchange(mapper, router, 312.0) == 2
    assert set(router.mappings) == {(6, 51413), (17, 51413)} and len(mapper.status.mappings) == 2


def test_announcements_from_anyone_but_the_gateway_or_garbage_are_ignored() -> None:
    router = FakeRouter(lifetime_cap=7200)
    mapper = _mapped_long_ago(router)
    router.restart(100.0)
    restart = router.announce(101.0)
    for data, source in [
        (restart, "10.0.0.66"),  # RFC 6886 3.2.1: not our gateway
        (b"", GATEWAY), (b"\x02", GATEWAY), (restart[:23], GATEWAY), (b"\x01" + restart[1:], GATEWAY),
        (restart[:1] + b"\x81" + restart[2:], GATEWAY),  # a MAP answer, not an ANNOUNCE
        (restart[:3] + b"\x03" + restart[4:], GATEWAY),  # an error result
        (struct.pack("!BBHI", 0, 129, 0, 0), GATEWAY),  # a NAT-PMP map answer, cut short
        (struct.pack("!BBHI4B", 0, 128, 3, 0, 1, 2, 3, 4), GATEWAY),  # an address answer with an error
    ]:
        mapper.announced(data, source, 101.0)
    assert mapper.restarts == 0 and mapper.next_timer() == 3600.0 and mapper.datagrams_to_send() == []


def test_without_a_known_gateway_or_after_stop_announcements_do_nothing() -> None:
    router = FakeRouter(lifetime_cap=7200)
    unknown = _mapper(lifetime=7200)
    unknown.start(0.0)
    _exchange(unknown, router, 0.0)
    router.restart(100.0)
    unknown.announced(router.announce(101.0), "", 101.0)
    assert unknown.restarts == 0
    stopped = _mapped_long_ago(FakeRouter(lifetime_cap=7200))
    stopped.stop()
    stopped.datagrams_to_send()
    stopped.announced(FakeRouter(started_at=100.0).announce(101.0), GATEWAY, 101.0)
    stopped.handle_timer(101.0)
    assert stopped.datagrams_to_send() == [] and stopped.next_timer() is None


def test_a_pcp_announcement_sent_to_our_own_port_counts_too() -> None:
    router = FakeRouter(lifetime_cap=7200)
    mapper = _mapped_long_ago(router)
    router.restart(100.0)
    mapper.receive(router.announce(101.0), 101.0)  # on the socket connected to the gateway
    assert mapper.restarts == 1 and _exchange(mapper, router, 101.0) == 2
    assert set(router.mappings) == {(6, 51413), (17, 51413)}
