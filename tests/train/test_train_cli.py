"""`remask-train all` (`make models`) reruns exactly what each shipped model card says it ran."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from engine.train.cli import SHIPPED_RUNS, build_parser

MODELS = Path(__file__).resolve().parents[2] / "assets" / "models"
FOLDERS = {"chorale": "chorale-satb", "motion": "motion-mmm", "image": "image-maskgit"}


def card_commands(folder: Path) -> list[list[str]]:
    text = (folder / "MODEL_CARD.md").read_text()
    return [shlex.split(m) for m in re.findall(r"remask-train ([a-z-]+ [^`\n]*)", text)]


def flag_values(argv: list[str]) -> dict[str, float | str | bool]:
    """``--name value`` pairs, ``--switch`` as True; numbers compared as numbers (10 == 10.0)."""
    values: dict[str, float | str | bool] = {}
    for index, token in enumerate(argv[1:], start=1):
        if not token.startswith("--"):
            continue
        following = argv[index + 1] if index + 1 < len(argv) else "--"
        if following.startswith("--"):
            values[token] = True
        else:
            number = re.fullmatch(r"-?\d+(\.\d+)?", following)
            values[token] = float(following) if number else following
    return values


@pytest.mark.parametrize("run", SHIPPED_RUNS, ids=[run[0] for run in SHIPPED_RUNS])
def test_each_shipped_run_parses_to_its_trainer(run: tuple[str, ...]) -> None:
    args = build_parser().parse_args([*run, "--data", "/nowhere"])
    assert args.func.__name__ == f"run_{run[0]}"


@pytest.mark.parametrize("run", SHIPPED_RUNS, ids=[run[0] for run in SHIPPED_RUNS])
def test_the_model_card_quotes_the_same_settings(run: tuple[str, ...]) -> None:
    folder = MODELS / FOLDERS[run[0]]
    if not (folder / "MODEL_CARD.md").exists():
        pytest.skip(f"{folder.name} is not shipped yet")
    ours = flag_values(list(run))
    trained = [flag_values(argv) for argv in card_commands(folder) if argv[0] == run[0]]
    assert trained, f"{folder.name}/MODEL_CARD.md quotes no 'remask-train {run[0]}' command"
    assert any(all(c.get(k) == v for k, v in ours.items()) for c in trained), (ours, trained)


def test_the_cli_starts_without_torch() -> None:
    """Parsers are built before any handler runs: `remask-train --help` must not pay for torch."""
    import subprocess
    import sys

    probe = "import sys, engine.train.cli; print(sorted({'torch', 'onnx'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
