"""Layer contracts: ``engine`` imports neither Qt nor torch (but ``engine/train``), nor ``app``.

Checked twice: dynamically (what a fresh interpreter actually loads) and
statically (every import statement, including lazy ones inside functions,
which a dynamic check only sees when that code runs).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"
TRAIN = ENGINE / "train"
GUI_PACKAGES = {"PySide6", "pyqtgraph", "shiboken6", "OpenGL"}
FORBIDDEN_AT_RUNTIME = ("PySide6", "pyqtgraph", "torch")


def engine_files() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def loaded_after_importing(modules: list[str]) -> list[str]:
    """Import ``modules`` in a fresh interpreter; return the forbidden top-level modules loaded."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {FORBIDDEN_AT_RUNTIME!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_core_engine_modules_load_no_qt_or_torch() -> None:
    core = ["engine", "engine.runtime", "engine.models", "engine.sampling", "engine.jobs"]
    assert loaded_after_importing(core) == []


def test_every_engine_module_outside_train_loads_no_qt_or_torch() -> None:
    modules = [module_name(p) for p in engine_files() if TRAIN not in p.parents]
    assert "engine.runtime" in modules
    assert loaded_after_importing(modules) == []


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every import in a file, lazy and ``importlib`` ones too."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value.split(".")[0]


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def violations(files: list[Path], forbidden: set[str]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {root}"
        for path in files
        for line, root in imported_roots(path)
        if root in forbidden
    ]


def test_engine_never_imports_app() -> None:
    assert violations(engine_files(), {"app"}) == []


def test_only_engine_train_imports_torch() -> None:
    outside_train = [p for p in engine_files() if TRAIN not in p.parents]
    assert violations(outside_train, {"torch", "torchvision", "torchaudio"}) == []


def test_only_app_imports_qt() -> None:
    assert violations(engine_files(), GUI_PACKAGES) == []


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import torch.nn as nn", ["torch"]),
        ("from PySide6.QtCore import Qt", ["PySide6"]),
        ("def f():\n    import app.cli", ["app"]),
        (
            "import importlib\nimportlib.import_module('pyqtgraph.opengl')",
            ["importlib", "pyqtgraph"],
        ),
        ("from . import runtime", []),
    ],
)
def test_the_static_check_sees_lazy_and_dynamic_imports(
    tmp_path: Path, source: str, found: list[str]
) -> None:
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert [root for _, root in imported_roots(path)] == found
