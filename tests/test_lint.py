"""House style is enforced: ruff (lint + format) on the tree, mypy --strict on engine/ and app/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    pytest.importorskip("ruff")
    lint = run_tool("ruff", "check", ".")
    assert lint.returncode == 0, lint.stdout[-3000:]
    fmt = run_tool("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout[-3000:]


def test_mypy_strict_on_engine_and_app() -> None:
    pytest.importorskip("mypy")
    typed = run_tool("mypy")  # files and strictness come from pyproject.toml [tool.mypy]
    assert typed.returncode == 0, typed.stdout[-3000:]
