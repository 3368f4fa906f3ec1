"""One engine per profile: the lock, and the note that says who holds it."""

from pathlib import Path

import pytest

from app.engine.profile_lock import DAEMON, WINDOW, ProfileBusy, ProfileLock, read_holder


def test_a_second_holder_is_refused_and_told_who_has_the_profile(tmp_path: Path) -> None:
    first, second = ProfileLock(tmp_path), ProfileLock(tmp_path)
    first.acquire(DAEMON)
    first.note(DAEMON, "http://127.0.0.1:9091/transmission/rpc")
    with pytest.raises(ProfileBusy, match=f"a piecemeal-daemon is using the profile {tmp_path}") as refused:
        second.acquire(WINDOW)
    assert (refused.value.holder, refused.value.url) == (DAEMON, "http://127.0.0.1:9091/transmission/rpc")
    assert read_holder(tmp_path) == (DAEMON, "http://127.0.0.1:9091/transmission/rpc"), "the refusal kept the note"
    first.release()
    second.acquire(WINDOW)
    assert read_holder(tmp_path) == (WINDOW, "")
    with pytest.raises(ProfileBusy, match="another Piecemeal window is using"):
        ProfileLock(tmp_path).acquire(DAEMON)
    second.release()


def test_no_lock_file_means_nobody(tmp_path: Path) -> None:
    assert read_holder(tmp_path / "nowhere") == ("", "")
