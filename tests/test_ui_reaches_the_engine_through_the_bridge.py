"""DESIGN rule 3: the window reaches the session only through the bridge.

The rule, checked on every module of app/ui:

- Only the wiring points build the engine's Session, so only they import
  app.engine.session or name `Session`/`SessionConfig`: app/ui/app.py (the GUI and its demo)
  and app/ui/smoke.py (the installed app's self-check). Every other module, bridge.py
  included, knows a session only as the EngineSession protocol (app/ui/engine_session.py),
  which a remote session will fill as well as the local one.
- Outside bridge.py and the wiring points no code reads a `session` attribute (e.g.
  `bridge.session`): dialogs and widgets get the bridge, whose methods return plain values
  or run the session's coroutines, and never the session itself.
- Other app.engine modules (snapshots, events, errors, metainfo ...) stay allowed: they are
  the plain values and parsers the window shows and uses.

A fresh interpreter that imports every module of app/ui but the wiring points must not
have loaded app.engine.session, not even through another engine module.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI = ROOT / "app" / "ui"
WIRING = {"app.py", "smoke.py"}
SESSION_NAMES = {"Session", "SessionConfig"}


def _modules() -> list[Path]:
    return sorted(p for p in UI.rglob("*.py") if p.relative_to(UI).as_posix() not in WIRING)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _violations(source: str, where: str, may_read_session: bool = False) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, where)):
        line = f"{where}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app.engine.session"):
            found.append(f"{line} imports {node.module}")
        elif isinstance(node, ast.Import) and any(a.name.startswith("app.engine.session") for a in node.names):
            found.append(f"{line} imports app.engine.session")
        elif isinstance(node, ast.Name) and node.id in SESSION_NAMES:
            found.append(f"{line} names {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr == "session" and not may_read_session:
            found.append(f"{line} reads .session")
    return sorted(found)


def test_only_the_wiring_points_know_the_engine_session() -> None:
    modules = _modules()
    assert len(modules) > 30 and UI / "bridge.py" in modules
    violations = [
        v
        for path in modules
        for v in _violations(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)), path.name == "bridge.py"
        )
    ]
    assert violations == [], "\n".join(violations)


def test_the_rule_catches_a_session_smuggled_in() -> None:
    source = (
        "from app.engine.session import Session\n"
        "import app.engine.session\n"
        "def f(bridge) -> Session:\n"
        "    return bridge.session\n"
    )
    assert _violations(source, "w.py") == [
        "w.py:1 imports app.engine.session",
        "w.py:2 imports app.engine.session",
        "w.py:3 names Session",
        "w.py:4 reads .session",
    ]


def test_the_window_loads_without_the_engine_session() -> None:
    names = [_module_name(p) for p in _modules() if p.name != "__init__.py"]
    code = (
        "import importlib, os, sys\n"
        "os.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "loaded = 'app.engine.session' in sys.modules\n"
        "print('app.engine.session was imported' if loaded else '')\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
