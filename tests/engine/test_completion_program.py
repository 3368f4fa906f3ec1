"""The program run on completion: placeholders per argument, no shell, failures logged."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from app.engine import events
from app.engine.creator import create_torrent
from app.engine.completion_program import CompletionRunner, Finished, command_line, run_program
from app.engine.errors import EngineError
from app.engine.snapshots import TorrentState
from tests.lt_peer import random_tree
from tests.swarm_helpers import running_session, wait_for_state

DONE = Finished(
    name="My film; rm -rf ~", content_path="/dl/My film; rm -rf ~", save_path="/dl",
    info_hash="ab" * 20, category="Films", tags=("hd", "new"), size=1234,
)


def test_each_placeholder_stays_inside_its_argument() -> None:
    line = command_line('notify "%N done" --path=%F %D %I %L %G %Z 100%%', DONE)
    assert line == [
        "notify", "My film; rm -rf ~ done", "--path=/dl/My film; rm -rf ~", "/dl", "ab" * 20,
        "Films", "hd,new", "1234", "100%",
    ]


def test_an_unknown_placeholder_is_left_as_it_is() -> None:
    assert command_line("echo %X", DONE) == ["echo", "%X"]


def test_an_open_quote_is_a_sentence() -> None:
    with pytest.raises(EngineError, match="cannot be read"):
        command_line('echo "%N', DONE)


async def test_the_program_runs_with_the_arguments(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    script = f"import sys; open({str(out)!r}, 'w').write('|'.join(sys.argv[1:]))"
    await run_program([sys.executable, "-c", script, *command_line("%N %I", DONE)])
    assert out.read_text() == f"My film; rm -rf ~|{'ab' * 20}"


async def test_a_missing_program_is_logged_in_plain_words(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        await run_program(["/nonexistent/program", "x"])
    assert "could not run the program on completion /nonexistent/program: No such file" in caplog.text


async def test_a_failing_program_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        await run_program([sys.executable, "-c", "raise SystemExit(3)"])
    assert "ended with status 3" in caplog.text


async def test_the_runner_starts_it_on_a_finished_download_only(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    template = f'"{sys.executable}" -c "open({str(out)!r}, \'a\').write(\'%N;\')"'
    runner = CompletionRunner(lambda: template, lambda info_hash: DONE if info_hash == "ab" * 20 else None)
    runner.heard(events.StateChanged("ab" * 20, "x", TorrentState.DOWNLOADING, None))
    runner.heard(events.TorrentFinished("cd" * 20, "gone", TorrentState.SEEDING, None))
    runner.heard(events.TorrentFinished("ab" * 20, "x", TorrentState.SEEDING, None))
    async with asyncio.timeout(20):
        while not (out.exists() and out.read_text().endswith(";")):
            await asyncio.sleep(0.02)
    await runner.close()
    assert out.read_text() == "My film; rm -rf ~;"


async def test_no_program_chosen_runs_nothing() -> None:
    asked: list[str] = []
    runner = CompletionRunner(lambda: "  ", lambda info_hash: asked.append(info_hash) or DONE)
    runner.heard(events.TorrentFinished("ab" * 20, "x", TorrentState.SEEDING, None))
    assert asked == []
    await runner.close()


async def test_a_real_download_runs_the_program_with_its_paths(tmp_path: Path) -> None:
    payload = random_tree(tmp_path / "seed" / "album", {"a.bin": 40_000, "b.bin": 70_000})
    torrent = create_torrent(payload, piece_length=16384)
    out = tmp_path / "ran.txt"
    script = f"import sys; open({str(out)!r}, 'w').write('|'.join(sys.argv[1:]))"
    program = f'"{sys.executable}" -c "{script}" %N %F %D'
    quiet = {"enable_dht": False, "enable_lsd": False}
    async with running_session(**quiet) as seed, running_session(**quiet, on_complete_program=program) as leecher:
        info_hash = await seed.add_torrent(torrent, payload.parent)
        await wait_for_state(seed, info_hash, TorrentState.SEEDING)
        await leecher.add_torrent(torrent, tmp_path / "got")
        leecher.add_peer(info_hash, "127.0.0.1", seed.listen_port)
        async with asyncio.timeout(30):
            while not (out.exists() and out.read_text()):
                await asyncio.sleep(0.05)
    assert out.read_text() == f"album|{tmp_path / 'got' / 'album'}|{tmp_path / 'got'}"
