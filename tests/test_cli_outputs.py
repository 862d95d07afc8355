"""CLI outputs never touch an input, and a run that fails writes none of its outputs.

An output is compared with every input by device and inode, so a hard link or a
symlink to an input is refused like the input's own path, ``--wav`` files too;
the K outputs of ``--variations`` are written as one atomic set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from app import cli
from engine.atomic import TEMP_MARK
from tests.cli_run import cli_env, remask
from tests.engine.midi.midi_files import chorale, save, tiny_chorale_model
from tests.engine.motion.synthetic_bvh import bandai_like

Link = Callable[[Path, Path], None]
LINKS: dict[str, Link] = {
    "hard link": lambda source, out: os.link(source, out),
    "symlink": lambda source, out: out.symlink_to(source),
    "relative symlink": lambda source, out: out.symlink_to(source.name),
}


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    status = cli.main(args)
    err = capsys.readouterr().err
    assert status == 2, err
    (line,) = err.splitlines()
    assert line.startswith("remask: error: ")
    return line


def _inputs(tmp_path: Path) -> dict[str, Path]:
    from PIL import Image

    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    Image.new("RGB", (16, 16), (10, 20, 30)).save(image)
    Image.new("L", (16, 16), 0).save(mask)
    bvh = tmp_path / "in.bvh"
    bvh.write_text(bandai_like(8))
    midi = save(chorale(1, bars=2), tmp_path / "in.mid")
    return {"image": image, "mask": mask, "midi": midi, "bvh": bvh}


def _command(which: str, inputs: dict[str, Path], out: Path) -> list[str]:
    if which in ("image", "mask"):
        return ["inpaint", str(inputs["image"]), "--mask", str(inputs["mask"]), "-o", str(out)]
    if which == "midi":
        return ["repaint", str(inputs["midi"]), "--bars", "1-1", "-o", str(out)]
    return ["inbetween", str(inputs["bvh"]), "--frames", "2-4", "-o", str(out)]


@pytest.mark.parametrize("link", sorted(LINKS))
@pytest.mark.parametrize("which", ["image", "mask", "midi", "bvh"])
def test_an_output_linked_to_an_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, link: str
) -> None:
    inputs = _inputs(tmp_path)
    before = {path: path.read_bytes() for path in inputs.values()}
    suffix = {"image": ".png", "mask": ".png", "midi": ".mid", "bvh": ".bvh"}[which]
    out = tmp_path / f"out{suffix}"
    LINKS[link](inputs[which], out)
    line = _refused(_command(which, inputs, out), capsys)
    assert "would overwrite" in line
    assert {path: path.read_bytes() for path in inputs.values()} == before


def test_a_numbered_variation_linked_to_the_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _inputs(tmp_path)
    before = inputs["midi"].read_bytes()
    os.link(inputs["midi"], tmp_path / "take-2.mid")
    args = [*_command("midi", inputs, tmp_path / "take.mid"), "--variations", "3"]
    assert "take-2.mid: would overwrite the input" in _refused(args, capsys)
    assert inputs["midi"].read_bytes() == before


@pytest.mark.parametrize("link", sorted(LINKS))
def test_a_wav_that_would_overwrite_the_input_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    source = save(chorale(1, bars=2), tmp_path / "song.mid")
    before = source.read_bytes()
    LINKS[link](source, tmp_path / "out.wav")
    args = ["repaint", str(source), "--bars", "1-1", "-o", str(tmp_path / "out.mid"), "--wav"]
    assert "out.wav: would overwrite the input" in _refused(args, capsys)
    named_wav = tmp_path / "named.wav"  # a MIDI file named .wav, repainted to named.mid
    named_wav.write_bytes(before)
    args = ["repaint", str(named_wav), "--bars", "1-1", "-o", str(tmp_path / "named.mid")]
    assert "would overwrite the input" in _refused([*args, "--wav"], capsys)
    assert source.read_bytes() == before == named_wav.read_bytes()


def test_an_output_named_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = save(chorale(1, bars=2), tmp_path / "in.mid")
    args = ["repaint", str(source), "--bars", "1-1", "-o", str(tmp_path / "out.wav"), "--wav"]
    assert "named twice among the outputs" in _refused(args, capsys)
    assert sorted(os.listdir(tmp_path)) == ["in.mid"]


@pytest.fixture
def midi_env(tmp_path: Path) -> dict[str, str]:
    models = tmp_path / "models"
    tiny_chorale_model(models, steps=32)
    return cli_env(models, tmp_path)


def test_a_failed_multi_output_run_writes_nothing(tmp_path: Path, midi_env: dict[str, str]) -> None:
    """The third of three outputs is a folder: the run fails, and no output is written."""
    source = save(chorale(0, bars=4), tmp_path / "in.mid")
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "take-1.mid").write_bytes(b"an older take")
    (runs / "take-3.wav").mkdir()
    args = ["repaint", str(source), "--bars", "2-3", "-o", str(runs / "take.mid")]
    done = remask(*args, "--variations", "3", "--steps", "2", "--wav", env=midi_env)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"remask: error: {runs / 'take-3.wav'}: cannot write: is a folder"
    ]
    assert done.stdout == ""
    assert sorted(os.listdir(runs)) == ["take-1.mid", "take-3.wav"]
    assert (runs / "take-1.mid").read_bytes() == b"an older take"
    assert not any(TEMP_MARK in name for name in os.listdir(runs))
    done = remask(*args, "--variations", "2", "--steps", "2", "--wav", env=midi_env)
    assert done.returncode == 0, done.stderr
    names = ("take-1.mid", "take-1.wav", "take-2.mid", "take-2.wav")
    assert done.stdout.split() == [str(runs / name) for name in names]
    assert (runs / "take-1.mid").read_bytes() != b"an older take"
    assert not any(TEMP_MARK in name for name in os.listdir(runs))


def test_a_folder_as_output_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _inputs(tmp_path)
    out = tmp_path / "out.bvh"
    out.mkdir()
    args = [*_command("bvh", inputs, out), "--method", "interpolate"]
    assert _refused(args, capsys) == f"remask: error: {out}: cannot write: is a folder"
    assert os.listdir(out) == []
