import itertools

from app.engine.dht.tokens import ROTATE_INTERVAL, TOKEN_LENGTH, TokenKeeper


def counting_secrets() -> TokenKeeper:
    """Secrets 0, 1, 2 ... so every rotation is visible and the test is deterministic."""
    counter = itertools.count()
    return TokenKeeper(0.0, random_bytes=lambda n: next(counter).to_bytes(n, "big"))


def test_token_is_valid_for_its_ip_only() -> None:
    keeper = counting_secrets()
    token = keeper.token_for("127.0.0.2", 1.0)
    assert len(token) == TOKEN_LENGTH
    assert keeper.is_valid(token, "127.0.0.2", 2.0)
    assert not keeper.is_valid(token, "127.0.0.3", 2.0)
    assert not keeper.is_valid(b"", "127.0.0.2", 2.0)


def test_token_is_stable_until_the_secret_rotates() -> None:
    keeper = counting_secrets()
    token = keeper.token_for("127.0.0.2", 0.0)
    assert keeper.token_for("127.0.0.2", ROTATE_INTERVAL - 1) == token
    assert keeper.token_for("127.0.0.2", ROTATE_INTERVAL) != token


def test_previous_secret_is_still_accepted() -> None:
    # BEP 5: "tokens up to ten minutes old are accepted"
    keeper = counting_secrets()
    token = keeper.token_for("127.0.0.2", ROTATE_INTERVAL - 1)
    assert keeper.is_valid(token, "127.0.0.2", 2 * ROTATE_INTERVAL - 1)
    assert not keeper.is_valid(token, "127.0.0.2", 2 * ROTATE_INTERVAL)


def test_a_long_pause_retires_both_secrets() -> None:
    keeper = counting_secrets()
    token = keeper.token_for("127.0.0.2", 0.0)
    assert not keeper.is_valid(token, "127.0.0.2", 5 * ROTATE_INTERVAL)
    fresh = keeper.token_for("127.0.0.2", 5 * ROTATE_INTERVAL)
    assert keeper.is_valid(fresh, "127.0.0.2", 6 * ROTATE_INTERVAL - 1)


def test_two_keepers_give_different_tokens() -> None:
    assert TokenKeeper(0.0).token_for("127.0.0.2", 0.0) != TokenKeeper(0.0).token_for("127.0.0.2", 0.0)
