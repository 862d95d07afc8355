"""Running the real ``remask`` CLI in a subprocess, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine import runtime

ROOT = Path(__file__).resolve().parents[1]


def cli_env(models: Path, home: Path) -> dict[str, str]:
    """Only ``models`` is searched (no user data dir of the machine's), on the CPU."""
    return {
        "REMASK_MODELS_PATH": str(models),
        "XDG_DATA_HOME": str(home / "xdg"),
        runtime.DEVICE_ENV: "cpu",
    }


def remask(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``remask ARGS`` through ``python -m app.cli``; never raises on a non-zero status."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
