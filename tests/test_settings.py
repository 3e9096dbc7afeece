"""The operator's settings are read once per process (core.config.settings) and handed down: no
module of core/, ui/ or pages/ builds a Config of its own, and every CATDOG_* variable is read in
core/config.py alone."""

from __future__ import annotations

import ast
from pathlib import Path

from core.config import settings

ROOT = Path(__file__).resolve().parents[1]


def test_settings_are_built_once_per_environment(monkeypatch):
    monkeypatch.setenv("CATDOG_KEEP_RUNS", "7")
    first = settings()
    assert settings() is first and first.keep_runs == 7
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    changed = settings()
    assert changed is not first and changed.public and changed.keep_runs == 7
    monkeypatch.delenv("CATDOG_PUBLIC")
    assert settings() is first and not first.public


def reads_catdog_variable(node: ast.AST) -> bool:
    """os.environ.get("CATDOG_..."), os.getenv("CATDOG_...") or os.environ["CATDOG_..."]."""
    if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("get", "getenv"):
        key = node.args[0] if node.args else None
    elif isinstance(node, ast.Subscript) and getattr(node.value, "attr", "") == "environ":
        key = node.slice
    else:
        return False
    return isinstance(key, ast.Constant) and str(key.value).startswith("CATDOG_")


def test_the_hunt_finds_a_config_built_or_a_variable_read():
    for code in ('os.environ.get("CATDOG_X")', 'os.getenv("CATDOG_X")', 'os.environ["CATDOG_X"]'):
        assert any(reads_catdog_variable(n) for n in ast.walk(ast.parse(code))), code
    assert not any(reads_catdog_variable(n) for n in ast.walk(ast.parse('d.get("KERAS_HOME")')))


def test_no_module_builds_a_config_of_its_own_or_reads_a_catdog_variable():
    found = []
    sources = [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]
    sources += [*(ROOT / "ui").rglob("*.py"), *(ROOT / "core").rglob("*.py")]
    for path in sorted(sources):
        if path.name == "config.py" and path.parent.name == "core":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Config":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} Config()")
            if reads_catdog_variable(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads CATDOG_*")
    assert not found, f"build the Config once (core.config.settings): {found}"
