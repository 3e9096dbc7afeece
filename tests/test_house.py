"""House rules that hold across files: cheap imports, short functions, one error type, no import
circle, helpers in tests/support/. How complex a function may be, ruff measures (ruff.toml: C901,
PLR0912, PLR0915).

Each test reads the source (ast) or starts a fresh interpreter; none imports TensorFlow into this
process beyond what conftest already has.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted((ROOT / "core").rglob("*.py"))
PAGES = sorted((ROOT / "pages").glob("*.py"))
UI = sorted((ROOT / "ui").rglob("*.py"))
# Project modules (core.*, ui.*) a page may import: a page reads like its screen, its logic in ui/.
MAX_PAGE_IMPORTS = 6
MAX_FUNCTION_LINES = 60
# Exception classes in core/ that signal a programming error and so stay outside UserError.
PROGRAMMING_ERRORS: frozenset[str] = frozenset()


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter at the repository root, without the TensorFlow log level.

    The variable is dropped so that the child shows whether `core` sets it on its own.
    """
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("module", ["core", "core.config"])
def test_importing_core_or_its_config_loads_no_tensorflow(module):
    loaded = run_python(f"import sys, {module}; print('tensorflow' in sys.modules)")
    assert loaded == "False", f"import {module} loaded TensorFlow"


def test_core_model_registers_its_layers_and_quiets_tensorflow_before_it_loads():
    # A finder at the front of sys.meta_path sees the first `import tensorflow`, whoever asks.
    code = """
import importlib.abc, json, os, sys
seen = []
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" and not seen:
            seen.append(os.environ.get("TF_CPP_MIN_LOG_LEVEL"))
        return None
sys.meta_path.insert(0, Spy())
import core.models.load
import keras
names = ("catdog>CaffePreprocess", "catdog>FoldCatDog")
missing = [n for n in names if keras.saving.get_registered_object(n) is None]
print(json.dumps({"missing": missing, "seen": seen}))
"""
    child = json.loads(run_python(code).splitlines()[-1])
    assert child["missing"] == [], "core.models.load did not register these layers"
    assert child["seen"] and child["seen"][0] is not None, (
        f"TF_CPP_MIN_LOG_LEVEL was unset when TensorFlow loaded: {child['seen']}"
    )


def test_no_function_is_long():
    files = [*CORE, *UI, ROOT / "app.py", *PAGES]
    long = {
        f"{relative(path)}:{node.lineno} {node.name}": node.end_lineno - node.lineno + 1
        for path in files
        for node in ast.walk(parse(path))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    }
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


BUTTONS = ("button", "form_submit_button")


def buttons_in_conditions(tree: ast.AST) -> list[int]:
    """Lines where a button's result decides an `if`, a `while` or a conditional expression."""
    return [
        call.lineno
        for node in ast.walk(tree)
        if isinstance(node, (ast.If, ast.While, ast.IfExp))
        for call in ast.walk(node.test)
        if isinstance(call, ast.Call)
        and getattr(call.func, "attr", getattr(call.func, "id", None)) in BUTTONS
    ]


def test_no_page_nests_work_inside_a_button():
    # Any container's button, a form's submit button, a walrus: each is caught.
    for caught in (
        "if st.button('a'):\n    pass",
        "if column.button('a'): pass",
        "if (x := st.form_submit_button('a')): pass",
        "y = 1 if button('a') else 2",
    ):
        assert buttons_in_conditions(ast.parse(caught)), caught
    assert not buttons_in_conditions(ast.parse("st.button('a', on_click=f)"))
    nested = {
        relative(path): lines
        for path in [*PAGES, *UI]
        if (lines := buttons_in_conditions(parse(path)))
    }
    assert not nested, f"a button's result in a condition in {nested}: use on_click"


def test_every_error_in_core_is_a_user_error():
    found = {}
    for path in CORE:
        names = [
            node.name
            for node in parse(path).body
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Busy"))
        ]
        if names:
            module = importlib.import_module(
                ".".join(path.relative_to(ROOT).with_suffix("").parts)
            )
            found |= {f"{module.__name__}.{name}": getattr(module, name) for name in names}
    assert "core.errors.UserError" in found and len(found) > 1, found
    outside = [
        name
        for name, cls in found.items()
        if not issubclass(cls, UserError) and name.rsplit(".", 1)[1] not in PROGRAMMING_ERRORS
    ]
    assert not outside, f"not a UserError (nor listed in PROGRAMMING_ERRORS): {outside}"


def test_core_never_imports_streamlit():
    imports = {}
    for path in CORE:
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "streamlit":
                    imports[f"{relative(path)}:{node.lineno}"] = name
    assert len(CORE) > 10
    assert not imports, f"core/ imports streamlit: {imports}"


def project_imports(path: Path) -> set[str]:
    """The project modules `path` imports anywhere (inside functions too), as dotted names.

    `from a.b import c` names a.b.c when that is a module of ours, else a.b; a relative import
    is resolved against the file's package.
    """
    known = {dotted(source) for source in SOURCES}
    package = ".".join(path.relative_to(ROOT).parent.parts)
    named = set()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            named |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            for alias in node.names:
                named.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    found = set()
    for name in named:
        module = name if name in known else f"{name}.__init__"
        if module in known:
            found.add(module)
    return found - {dotted(path)}


def dotted(path: Path) -> str:
    """core/models/load.py -> core.models.load (an __init__.py keeps its name)."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


SOURCES = [ROOT / "app.py", *PAGES, *UI, *CORE]


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_import_circles_are_found_and_the_house_has_none():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []
    graph = {dotted(path): project_imports(path) for path in SOURCES}
    assert "core.models.info" in graph["core.models.build"]  # imports are read
    assert "core.models.imported" in graph["core.models.load"]  # `from package import module`
    assert not import_circles(graph), f"import circles: {import_circles(graph)}"


def test_core_keeps_at_most_ten_modules_beside_its_packages():
    modules = [p.name for p in (ROOT / "core").glob("*.py")]
    assert len(modules) <= 10, f"{len(modules)} modules in core/: {sorted(modules)}"


# An import of tests/conftest.py, in code or in code a test runs in a child process (a string).
CONFTEST_IMPORT = re.compile(
    r"\b(from\s+tests\.conftest\s+import|import\s+tests\.conftest|from\s+tests\s+import\s+conftest)\b"
)


def python_files() -> list[Path]:
    """Every .py file of the repository, none under a hidden folder (.venv, .git) or a cache."""
    return [
        path
        for path in ROOT.rglob("*.py")
        if not any(
            part.startswith(".") or part == "__pycache__" for part in path.relative_to(ROOT).parts
        )
    ]


def test_nothing_imports_conftest_the_helpers_live_in_tests_support():
    # conftest.py only declares fixtures and hooks; the helpers are imported from tests/support/.
    name = "conftest"  # spelt apart here, so that this file's own examples are not caught below
    for caught in (
        f"from tests.{name} import tiny_model",
        f"    import tests.{name}",
        f"from tests import {name}",
    ):
        assert CONFTEST_IMPORT.search(caught), caught
    assert not CONFTEST_IMPORT.search("from tests.support.models import tiny_model")
    files = python_files()
    assert {ROOT / "benchmarks" / "bench_faults.py", ROOT / "docs" / "screenshots.py"} <= {*files}
    importing = [relative(path) for path in files if CONFTEST_IMPORT.search(path.read_text())]
    assert not importing, f"these import tests.{name} (use tests/support/): {importing}"


def test_a_page_imports_at_most_six_project_modules():
    # `import ui` is one module, `from ui.explain import maps, screen` two, wherever they are.
    sample = ROOT / "pages" / "explain.py"
    assert len(project_imports(sample)) >= 2, "a page's imports are read"
    counted = {relative(page): sorted(project_imports(page)) for page in PAGES}
    many = {page: names for page, names in counted.items() if len(names) > MAX_PAGE_IMPORTS}
    assert PAGES and not many, f"over {MAX_PAGE_IMPORTS} project modules: {many}"


PRESENTERS = sorted((ROOT / "ui").rglob("present.py"))


def test_presenters_and_the_explanation_store_load_no_streamlit():
    # In a fresh interpreter: nothing they import, however indirectly, imports Streamlit.
    pure = [*PRESENTERS, ROOT / "ui" / "explain" / "store.py"]
    assert len(PRESENTERS) >= 2
    imports = "; ".join(f"import {dotted(path)}" for path in pure)
    loaded = run_python(f"import sys; {imports}; print('streamlit' in sys.modules)")
    assert loaded.splitlines()[-1] == "False", f"{imports} loaded Streamlit"


BENCHMARKS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda path: path.stem)
def test_every_benchmark_imports(path):
    # A module moved by a renovation left bench_browser.py and bench_folder.py unable to start
    # (`make bench` is not in CI): each benchmark's imports must still resolve.
    importlib.import_module(f"benchmarks.{path.stem}")
