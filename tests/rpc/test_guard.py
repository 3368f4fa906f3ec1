"""app/rpc/guard.py: host names we answer to, Basic credentials, the failed-login throttle."""

from __future__ import annotations

import base64

import pytest

from app.rpc.guard import FIRST_DELAY, FORGET_AFTER, MAX_DELAY, HostAllowList, LoginThrottle, basic_credentials, host_name, is_loopback


@pytest.mark.parametrize(
    ("header", "name"),
    [("example.org:9091", "example.org"), ("EXAMPLE.org", "example.org"), ("[::1]:9091", "::1"), ("::1", "::1"),
     ("127.0.0.1:1", "127.0.0.1")],
)
def test_host_name_strips_the_port(header: str, name: str) -> None:
    assert host_name(header) == name


def test_the_allow_list_takes_addresses_local_names_our_address_and_added_names() -> None:
    hosts = HostAllowList("nas.lan", ["Box.Example."])
    for header in ("localhost:9091", "localhost.", "127.0.0.1:9091", "[::1]:9091", "192.168.1.7", "nas.lan:9091",
                   "box.example", "box.example.:9091"):
        assert hosts.allows(header), header
    for header in ("evil.example:9091", "nas.lan.evil.example", "", None):
        assert not hosts.allows(header), header


@pytest.mark.parametrize(("address", "loopback"), [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True),
                                                   ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                   ("192.168.1.2", False), ("nas.lan", False)])
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_basic_credentials_split_at_the_first_colon() -> None:
    credentials = basic_credentials(_basic("ann:pa:ss"))
    assert credentials is not None and (credentials.user, credentials.password) == ("ann", "pa:ss")


@pytest.mark.parametrize("header", [None, "", "Bearer x", "Basic !!!", _basic("no-colon"), "Basic " + "_" * 5])
def test_malformed_credentials_are_none(header: str | None) -> None:
    assert basic_credentials(header) is None


def test_each_failure_doubles_the_wait_for_that_address_only() -> None:
    throttle = LoginThrottle()
    assert throttle.wait("10.0.0.1", now=0.0) == 0.0
    assert throttle.failed("10.0.0.1", now=0.0) == FIRST_DELAY
    assert throttle.wait("10.0.0.1", now=0.0) == FIRST_DELAY
    assert throttle.wait("10.0.0.2", now=0.0) == 0.0
    assert throttle.failed("10.0.0.1", now=FIRST_DELAY) == 2 * FIRST_DELAY
    assert throttle.wait("10.0.0.1", now=FIRST_DELAY + 1.5 * FIRST_DELAY) == pytest.approx(0.5 * FIRST_DELAY)
    assert throttle.wait("10.0.0.1", now=FIRST_DELAY + 2 * FIRST_DELAY) == 0.0


def test_the_wait_is_capped_and_forgotten_and_a_success_clears_it() -> None:
    throttle = LoginThrottle()
    for attempt in range(40):
        delay = throttle.failed("a", now=float(attempt))
    assert delay == MAX_DELAY
    assert throttle.wait("a", now=40.0 + FORGET_AFTER) == 0.0
    throttle.failed("b", now=0.0)
    throttle.succeeded("b")
    assert throttle.wait("b", now=0.0) == 0.0
