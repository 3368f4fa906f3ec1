"""EncryptionMemory: which way a peer is dialed first, learned from the dials that worked."""

from __future__ import annotations

import pytest

from app.engine.transport.mse_memory import EncryptionMemory
from app.engine.transport.mse_transport import Encryption

PEER = ("10.0.0.7", 6881)
OTHER = ("10.0.0.8", 6881)
MSE_FIRST, PLAIN_FIRST = (True, False), (False, True)


def test_allow_dials_mse_first_until_a_peer_took_plain() -> None:
    memory = EncryptionMemory()
    assert memory.dial_order(Encryption.ALLOW, PEER) == MSE_FIRST
    memory.connected(Encryption.ALLOW, PEER, encrypted=False)  # MSE refused, plain taken
    assert memory.dial_order(Encryption.ALLOW, PEER) == PLAIN_FIRST
    assert memory.dial_order(Encryption.ALLOW, OTHER) == MSE_FIRST
    assert memory.dial_order(Encryption.ALLOW, ("10.0.0.7", 6882)) == MSE_FIRST  # address and port


def test_a_peer_that_then_refused_plain_but_took_mse_goes_back_to_mse_first() -> None:
    memory = EncryptionMemory()
    memory.connected(Encryption.ALLOW, PEER, encrypted=False)
    memory.connected(Encryption.ALLOW, PEER, encrypted=True)
    assert memory.dial_order(Encryption.ALLOW, PEER) == MSE_FIRST
    assert len(memory) == 0  # the usual order is not stored


def test_a_peer_that_takes_mse_at_once_costs_no_memory() -> None:
    memory = EncryptionMemory()
    memory.connected(Encryption.ALLOW, PEER, encrypted=True)
    assert len(memory) == 0


@pytest.mark.parametrize("policy, order", [(Encryption.REQUIRE, (True,)), (Encryption.DISABLE, (False,))])
def test_require_and_disable_have_one_way_whatever_was_learned(policy: Encryption, order: tuple[bool, ...]) -> None:
    memory = EncryptionMemory()
    memory.connected(Encryption.ALLOW, PEER, encrypted=False)
    memory.connected(policy, OTHER, encrypted=order[0])
    assert memory.dial_order(policy, PEER) == order
    assert memory.dial_order(policy, OTHER) == order
    assert len(memory) == 1  # only what "allow" learned


def test_the_memory_is_bounded_and_forgets_the_oldest_first() -> None:
    memory = EncryptionMemory(capacity=3)
    peers = [(f"10.0.1.{n}", 6881) for n in range(5)]
    for peer in peers[:3]:
        memory.connected(Encryption.ALLOW, peer, encrypted=False)
    memory.connected(Encryption.ALLOW, peers[0], encrypted=False)  # seen again: the newest now
    for peer in peers[3:]:
        memory.connected(Encryption.ALLOW, peer, encrypted=False)
    assert len(memory) == 3
    plain_first = [peer for peer in peers if memory.dial_order(Encryption.ALLOW, peer) == PLAIN_FIRST]
    assert plain_first == [peers[0], peers[3], peers[4]]
