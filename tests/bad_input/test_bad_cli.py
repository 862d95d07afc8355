"""A representative subset of the bad inputs, and bad arguments, through the real ``remask`` CLI.

For each case: exit status 2 with exactly one ``remask: error:`` line on stderr
(no traceback, no raw control characters) and nothing written; or, for the few
sound inputs, status 0 and an output that reads back. Input files never change.
The subprocesses run two at a time in a module fixture, so the whole file takes
about as long as its slowest few cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.media.motion.bvh import read_bvh
from tests.bad_input.cases import Case, all_cases
from tests.cli_run import ROOT, cli_env, remask

SAMPLE_MIDI = ROOT / "assets" / "samples" / "chorale.mid"
SAMPLE_PNG = ROOT / "assets" / "samples" / "photo.png"
SHIPPED_CHORALE = ROOT / "assets" / "models" / "chorale-satb"

CORPUS = {case.id: case for case in all_cases()}
VERBS = {
    "image": ["inpaint", "{in}", "--mask", "{mask}", "-o", "{out}/out.png"],
    "midi": ["repaint", "{in}", "--bars", "1", "-o", "{out}/out.mid"],
    "motion": [
        "inbetween",
        "{in}",
        "--frames",
        "2-4",
        "-o",
        "{out}/out.bvh",
        "--method",
        "interpolate",
    ],
}
FROM_CORPUS = [
    "image-empty",
    "image-random",
    "bomb-png-16bit-9000sq",
    "bomb-png-60000sq",
    "bomb-bmp-50000sq",
    "png-rgb-cut73",
    "tiff-float-valid",
    "midi-empty",
    "midi-long-note-2^28",
    "midi-key-sig-9-sharps",
    "midi-format-3",
    "midi-division-smpte",
    "midi-only-drums",
    "midi-chunk-length-huge",
    "midi-riff-wrapped",
    "motion-empty",
    "bvh-deep-3000",
    "bvh-channels-superscript-3",
    "bvh-value-1e308",
    "bvh-utf16",
    "bvh-frames-1e12",
    "bvh-nul-byte",
]


@dataclass(frozen=True)
class CliCase:
    """``argv`` with ``{in}``, ``{mask}``, ``{out}``, ``{dir}`` filled in per run."""

    id: str
    argv: list[str]
    data: bytes = b""
    suffix: str = ".bin"
    status: int = 2
    models: dict[str, str] = field(default_factory=dict)  # folder name -> manifest change
    folders: tuple[str, ...] = ()  # made in the output folder first (an output that is a folder)


def _corpus_case(case: Case) -> CliCase:
    return CliCase(case.id, VERBS[case.medium], case.data, case.suffix)


MIDI, PNG = SAMPLE_MIDI.read_bytes(), SAMPLE_PNG.read_bytes()
REPAINT = ["repaint", "{in}", "--bars", "1", "-o", "{out}/out.mid"]
INPAINT = ["inpaint", "{in}", "--mask", "{mask}", "-o", "{out}/out.png"]
VALID_BVH = CORPUS["bvh-bandai-valid"].data
INTERPOLATE = VERBS["motion"]

ARGUMENT_CASES = [
    CliCase("seed-negative", [*REPAINT, "--seed", "-1"], MIDI, ".mid"),
    CliCase("seed-text", [*REPAINT, "--seed", "abc"], MIDI, ".mid"),
    CliCase("seed-huge", [*REPAINT, "--seed", "9" * 30], MIDI, ".mid"),
    CliCase("steps-zero", [*REPAINT, "--steps", "0"], MIDI, ".mid"),
    CliCase("variations-zero", [*REPAINT, "--variations", "0"], MIDI, ".mid"),
    # bar 0 is the sample's pickup (bars are numbered as in the score), so it is valid there
    CliCase("bars-back", ["repaint", "{in}", "--bars", "3-1", "-o", "{out}/o.mid"], MIDI, ".mid"),
    CliCase("bars-text", ["repaint", "{in}", "--bars", "x", "-o", "{out}/o.mid"], MIDI, ".mid"),
    CliCase("bars-beyond", ["repaint", "{in}", "--bars", "900", "-o", "{out}/o.mid"], MIDI, ".mid"),
    CliCase("voices-unknown", [*REPAINT, "--voices", "kazoo"], MIDI, ".mid"),
    CliCase(
        "frames-reversed",
        ["inbetween", "{in}", "--frames", "9-3", "-o", "{out}/o.bvh"],
        VALID_BVH,
        ".bvh",
    ),
    CliCase("frames-beyond", [*INTERPOLATE[:3], "900-950", *INTERPOLATE[4:]], VALID_BVH, ".bvh"),
    CliCase("parts-unknown", [*INTERPOLATE, "--parts", "middle"], VALID_BVH, ".bvh"),
    CliCase("strategy-unknown", [*INPAINT, "--strategy", "x"], PNG, ".png"),
    CliCase(
        "output-txt", ["inpaint", "{in}", "--mask", "{mask}", "-o", "{out}/o.txt"], PNG, ".png"
    ),
    CliCase(
        "output-folder-missing",
        ["repaint", "{in}", "--bars", "1", "-o", "{out}/no/o.mid"],
        MIDI,
        ".mid",
    ),
    CliCase("output-is-input", ["repaint", "{in}", "--bars", "1", "-o", "{in}"], MIDI, ".mid"),
    CliCase(
        "output-is-a-folder", [*INTERPOLATE[:4], "-o", "{dir}", *INTERPOLATE[6:]], VALID_BVH, ".bvh"
    ),
    CliCase("option-unknown", [*REPAINT, "--loud"], MIDI, ".mid"),
    CliCase("model-unknown", [*REPAINT, "--model", "nope"], MIDI, ".mid"),
    CliCase("model-escape", [*REPAINT, "--model", "evil\x1b[31m"], MIDI, ".mid"),
    CliCase("input-missing", ["repaint", "{out}/none.mid", "--bars", "1", "-o", "{out}/o.mid"]),
    CliCase("input-is-a-folder", ["inbetween", "{dir}", "--frames", "1-2", "-o", "{out}/o.bvh"]),
    CliCase(
        "mask-is-a-folder", ["inpaint", "{in}", "--mask", "{dir}", "-o", "{out}/o.png"], PNG, ".png"
    ),
    CliCase("interpolate-sound", INTERPOLATE, VALID_BVH, ".bvh", status=0),
    CliCase("wav-is-a-folder", [*REPAINT, "--wav"], MIDI, ".mid", folders=("out.wav",)),
    CliCase(
        "models-strict-broken",
        ["models", "--strict"],
        models={"evil": "name=evil\x1b[31m"},
    ),
    CliCase(
        "models-broken-dropin-keeps-shipped",
        ["models"],
        status=0,
        models={"chorale-satb": "rest_token=-1"},
    ),
]
CASES = [_corpus_case(CORPUS[name]) for name in FROM_CORPUS] + ARGUMENT_CASES


def _write_models(root: Path, models: dict[str, str]) -> None:
    """Copies of the shipped chorale model (hard links), each with one manifest change."""
    for name, change in models.items():
        folder = root / name
        folder.mkdir(parents=True)
        for file in SHIPPED_CHORALE.iterdir():
            (folder / file.name).hardlink_to(file)
        manifest = json.loads((SHIPPED_CHORALE / "manifest.json").read_text())
        key, _, value = change.partition("=")
        if key == "name":
            manifest["name"] = value
        else:
            manifest["medium_facts"][key] = int(value)
        (folder / "manifest.json").unlink()
        (folder / "manifest.json").write_text(json.dumps(manifest))


@dataclass
class Run:
    case: CliCase
    work: Path
    inputs: dict[Path, bytes]
    result: subprocess.CompletedProcess[str]


def _run(case: CliCase, root: Path) -> Run:
    work = root / case.id.replace("^", "")
    out, models = work / "out", work / "models"
    for folder in (out, models, work / "dir"):
        folder.mkdir(parents=True)
    _write_models(models, case.models)
    for name in case.folders:
        (out / name).mkdir()
    source = work / f"input{case.suffix}"
    source.write_bytes(case.data)
    mask = work / "mask.png"
    mask.write_bytes(PNG)  # the photo itself is a valid mask of its own size
    inputs = {source: case.data, mask: PNG}
    fill = {"{in}": str(source), "{mask}": str(mask), "{out}": str(out), "{dir}": str(work / "dir")}
    argv = [_fill(arg, fill) for arg in case.argv]
    return Run(case, work, inputs, remask(*argv, env=cli_env(models, work)))


def _fill(arg: str, fill: dict[str, str]) -> str:
    for key, value in fill.items():
        arg = arg.replace(key, value)
    return arg


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("cli")
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda case: _run(case, root), CASES))
    return {run.case.id: run for run in done}


def _check_error(run: Run) -> None:
    stderr = run.result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and "\x1b" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("remask: error: "), stderr  # no warnings
    assert "internal error" not in lines[0], stderr
    left = sorted(p.name for p in (run.work / "out").iterdir())
    assert left == sorted(run.case.folders), f"something was written: {left}"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_cli_gives_one_error_line_or_a_sound_output(
    case: CliCase, runs: dict[str, Run]
) -> None:
    run = runs[case.id]
    assert run.result.returncode == case.status, (run.result.stdout, run.result.stderr)
    for path, data in run.inputs.items():
        assert path.read_bytes() == data, f"{path.name} changed"
    if case.status == 2:
        _check_error(run)
    elif case.id == "interpolate-sound":
        assert (
            read_bvh(run.work / "out" / "out.bvh").n_frames
            == read_bvh(next(iter(run.inputs))).n_frames
        )
    else:  # the broken drop-in is one warning; the shipped chorale model stays listed
        assert str(SHIPPED_CHORALE) in run.result.stdout
        assert (
            run.result.stderr.count("remask: warning:") == 1 and "stays in use" in run.result.stderr
        )


FAULT_PRELUDE = """
import errno, os, sys

def fail(code, text, path=None):
    raise OSError(code, text, path)

real_open = os.open
"""
FAULTS = {
    # a disk that fills up: the error surfaces when the data is flushed
    "disk-full": "os.fsync = lambda fd: fail(errno.ENOSPC, 'No space left on device')",
    # a read-only folder (chmod does not stop root, so the refusal is simulated)
    "read-only": (
        "os.open = lambda p, f, *a: fail(errno.EROFS, 'Read-only file system', p)"
        " if f & os.O_CREAT else real_open(p, f, *a)"
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failed_write_is_one_line_and_leaves_nothing(fault: str, tmp_path: Path) -> None:
    source, out = tmp_path / "in.bvh", tmp_path / "out"
    source.write_bytes(VALID_BVH)
    out.mkdir()
    argv = [
        "inbetween",
        str(source),
        "--frames",
        "2-4",
        "-o",
        str(out / "o.bvh"),
        "--method",
        "interpolate",
        "--variations",
        "1",
    ]
    script = f"{FAULT_PRELUDE}{FAULTS[fault]}\nfrom app.cli import main\nsys.exit(main({argv!r}))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **cli_env(tmp_path / "models", tmp_path)},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("remask: error: ") and "internal" not in lines[0]
    assert not list(out.iterdir()) and source.read_bytes() == VALID_BVH
