"""What the interop tests share: an awkward multi-file payload and a byte-for-byte comparison."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from tests.lt_peer import random_tree

# Sizes that straddle piece boundaries, an empty file and a tiny one, in a subfolder too.
AWKWARD = {"a.bin": 1_000_003, "empty.txt": 0, "tiny.txt": 777, "sub/b.bin": 3 * 65536, "sub/c.bin": 300_001}


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    random_tree(tmp_path / "seed", {f"awkward/{name}": size for name, size in AWKWARD.items()})
    return tmp_path / "seed" / "awkward"


def same_tree(a: Path, b: Path) -> bool:
    return all((b / name).is_file() and filecmp.cmp(a / name, b / name, shallow=False) for name in AWKWARD)


def assert_same_tree(a: Path, b: Path) -> None:
    for name in AWKWARD:
        assert filecmp.cmp(a / name, b / name, shallow=False), name
