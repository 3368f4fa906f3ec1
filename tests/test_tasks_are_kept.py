"""asyncio keeps only weak references to tasks: a task whose handle is dropped may be garbage
collected before it finishes. Every ensure_future/create_task result in the app must be kept."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
SPAWNERS = {"ensure_future", "create_task"}


def dropped_tasks(source: str) -> list[int]:
    """Line numbers of spawn calls used as a bare statement (their result thrown away)."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute | ast.Name)
        and getattr(node.value.func, "attr", getattr(node.value.func, "id", "")) in SPAWNERS
    ]


def test_the_check_finds_a_dropped_task() -> None:
    assert dropped_tasks("import asyncio\nasyncio.ensure_future(f())\nt = asyncio.create_task(g())\n") == [2]


def test_no_task_is_started_without_keeping_a_reference() -> None:
    found = {
        f"{path.relative_to(APP.parent)}:{line}"
        for path in APP.rglob("*.py")
        for line in dropped_tasks(path.read_text(encoding="utf-8"))
    }
    assert not found, f"tasks started without keeping a reference: {sorted(found)}"
