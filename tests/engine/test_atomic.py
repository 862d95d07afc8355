"""Atomic writes (:mod:`engine.atomic`): all or nothing, no temporary left, links handled."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.atomic import (
    TEMP_MARK,
    is_temp_name,
    same_file,
    sweep_stale_temps,
    write_atomic,
    write_set_atomic,
)
from engine.media.image.export import save_image
from engine.media.image.files import ImageError, LoadedImage
from engine.media.image.mask import save_mask
from engine.media.midi.files import MidiError, read_score, save_score
from engine.media.midi.synth import write_wav
from engine.media.motion.bvh import BvhError, parse_bvh
from engine.media.motion.bvh_writer import write_bvh
from tests.engine.motion.synthetic_bvh import bandai_like

ROOT = Path(__file__).resolve().parents[2]


def _temps(folder: Path) -> list[str]:
    return [name for name in os.listdir(folder) if TEMP_MARK in name]


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    code = "import os; print(os.getpid())"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stdout)


def test_writes_the_bytes_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    assert write_atomic(target, b"new") == target
    assert target.read_bytes() == b"new"
    write_atomic(target, b"newer")
    assert target.read_bytes() == b"newer" and _temps(tmp_path) == []


def test_keeps_an_existing_files_mode_and_gives_a_new_one_the_umasks(tmp_path: Path) -> None:
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    write_atomic(kept, b"new")
    assert kept.stat().st_mode & 0o777 == 0o640
    umask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "fresh.bin", b"x")
    finally:
        os.umask(umask)
    assert (tmp_path / "fresh.bin").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_a_failed_write_leaves_the_target_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def full_disk(handle: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left") as caught:
        write_atomic(target, b"new")
    assert caught.value.filename == str(target)  # named by the target, never the temporary
    assert target.read_bytes() == b"old" and _temps(tmp_path) == []


def test_a_folder_or_a_missing_folder_as_target_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomic(tmp_path / "folder", b"x")
    with pytest.raises(FileNotFoundError):
        write_atomic(tmp_path / "missing" / "out.bin", b"x")
    assert sorted(os.listdir(tmp_path)) == ["folder"] and os.listdir(tmp_path / "folder") == []


def test_a_symlink_is_written_through_and_a_hard_link_is_split(tmp_path: Path) -> None:
    real, link = tmp_path / "real.bin", tmp_path / "link.bin"
    real.write_bytes(b"old")
    link.symlink_to(real)
    write_atomic(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"
    other = tmp_path / "other.bin"
    os.link(real, other)
    write_atomic(other, b"newer")
    assert real.read_bytes() == b"new" and other.read_bytes() == b"newer"


def test_a_set_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "out-1.bin", tmp_path / "out-2.bin"
    (tmp_path / "out-3.bin").mkdir()  # the third output cannot be written
    with pytest.raises(IsADirectoryError):
        write_set_atomic([(first, b"1"), (second, b"2"), (tmp_path / "out-3.bin", b"3")])
    assert sorted(os.listdir(tmp_path)) == ["out-3.bin"]
    assert write_set_atomic([(first, b"1"), (second, b"2")]) == [first, second]
    assert first.read_bytes() == b"1" and second.read_bytes() == b"2"
    with pytest.raises(ValueError, match="named twice"):
        write_set_atomic([(first, b"x"), (tmp_path / "." / "out-1.bin", b"y")])
    assert first.read_bytes() == b"1"


def test_the_sweep_removes_only_dead_processes_temporaries(tmp_path: Path) -> None:
    dead = f".out.png{TEMP_MARK}{_dead_pid()}-0a1b2c3d"
    mine = f".out.png{TEMP_MARK}{os.getpid()}-0a1b2c3d"
    parent = f".out.png{TEMP_MARK}{os.getppid()}-0a1b2c3d"
    for name in (dead, mine, parent, "out.png", ".out.png.remask-tmp-x", "plain-remask-tmp-1-ab"):
        (tmp_path / name).write_bytes(b"")
    assert is_temp_name(dead) and not is_temp_name("out.png")
    assert sweep_stale_temps(tmp_path) == 1
    assert not (tmp_path / dead).exists() and (tmp_path / mine).exists()
    (tmp_path / dead).write_bytes(b"")
    write_atomic(tmp_path / "other.bin", b"x")  # every write sweeps its folder first
    assert not (tmp_path / dead).exists()
    assert sweep_stale_temps(tmp_path / "missing") == 0


def test_same_file_compares_device_and_inode(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x")
    os.link(source, tmp_path / "hard.bin")
    (tmp_path / "soft.bin").symlink_to(source)
    (tmp_path / "copy.bin").write_bytes(b"x")
    assert same_file(tmp_path / "hard.bin", [source])
    assert same_file(tmp_path / "soft.bin", [tmp_path / "missing", source])
    assert not same_file(tmp_path / "copy.bin", [source])
    assert not same_file(tmp_path / "missing", [source])


@pytest.mark.parametrize("fmt", ["png", "mask", "mid", "wav", "bvh"])
def test_every_engine_writer_is_atomic_and_fails_with_its_own_error(
    tmp_path: Path, fmt: str
) -> None:
    """Each writer replaces the file whole, and a folder as target is its medium's error."""
    data = (ROOT / "assets" / "samples" / "chorale.mid").read_bytes()
    rgb = np.zeros((8, 8, 3), np.uint8)
    writers: dict[str, tuple[Callable[[Path], object], type[Exception]]] = {
        "png": (lambda p: save_image(LoadedImage(rgb=rgb), p), ImageError),
        "mask": (lambda p: save_mask(np.eye(8, dtype=bool), p), ImageError),
        "mid": (lambda p: save_score(read_score(data), p), MidiError),
        "wav": (lambda p: write_wav(p, np.zeros(100)), MidiError),
        "bvh": (lambda p: write_bvh(parse_bvh(bandai_like(4)), p), BvhError),
    }
    write, error = writers[fmt]
    suffix = "png" if fmt == "mask" else fmt
    target = tmp_path / f"out.{suffix}"
    target.write_bytes(b"old")
    write(target)
    assert target.read_bytes() != b"old" and _temps(tmp_path) == []
    if fmt == "mid":
        assert target.read_bytes() == data
    (tmp_path / f"folder.{suffix}").mkdir()
    with pytest.raises(error, match="cannot write"):
        write(tmp_path / f"folder.{suffix}")
    assert _temps(tmp_path) == []
