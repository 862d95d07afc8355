"""Every generated bad input, read in-process as the app and the CLI read it.

Each case must either open as a sound object or be refused with the medium's
own error and a one-line message; any other exception (IndexError,
RecursionError, MemoryError, a mido KeySignatureError) is a bug. Reading must be
quick (limits are decided from headers, before allocation) and must leave the
file as it was.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.media.image.files import ImageError, LoadedImage, load_image
from engine.media.image.mask import decode_mask
from engine.media.midi.files import MidiError, Score, load_score
from engine.media.midi.grid import time_grid
from engine.media.motion.bvh import BvhError, parse_bvh, read_bvh
from engine.media.motion.bvh_writer import format_bvh
from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.limits import MAX_ABS_VALUE
from engine.media.motion.skeleton import SkeletonError, map_skeleton
from engine.media.registry import medium
from tests.bad_input.cases import Case, all_cases, midi_abuse, png_bytes

CASES = all_cases()
CLEAN_ERRORS: dict[str, tuple[type[Exception], ...]] = {
    "image": (ImageError,),
    "midi": (MidiError,),
    "motion": (BvhError, SkeletonError, MotionError),
}
SECONDS = 3.0
"""Longest any one case may take (the slowest valid seeds read in a few milliseconds)."""


def test_the_corpus_is_large_and_covers_every_medium() -> None:
    by_medium = {key: sum(c.medium == key for c in CASES) for key in CLEAN_ERRORS}
    assert len(CASES) >= 400 and min(by_medium.values()) >= 100, by_medium


def _sound_image(image: LoadedImage) -> None:
    height, width = image.height, image.width
    assert image.rgb.dtype == np.uint8 and image.rgb.shape == (height, width, 3)
    assert height >= 1 and width >= 1
    assert image.alpha is None or image.alpha.shape == (height, width)
    assert image.high is None or image.high.shape[:2] == (height, width)


def _read_image(path: Path) -> None:
    image = load_image(path)
    _sound_image(image)
    decode_mask(path.read_bytes(), (image.height, image.width), require_fill=False)


def _read_midi(path: Path) -> None:
    score: Score = load_score(path)
    assert score.notes and score.pitched_notes
    assert score.to_bytes() == path.read_bytes()  # unedited: written back byte for byte
    grid = time_grid(score)
    assert grid.n_steps >= 1 and grid.n_bars >= 1


def _read_motion(path: Path) -> None:
    clip: Clip = read_bvh(path)
    assert clip.n_frames >= 1 and np.isfinite(clip.frame_time) and clip.frame_time > 0
    assert np.all(np.abs(clip.motion) <= MAX_ABS_VALUE)
    again = parse_bvh(format_bvh(clip))
    assert np.array_equal(again.motion, clip.motion) and again.names == clip.names
    map_skeleton(clip)  # may refuse the rig: a SkeletonError, a clean error too


READERS = {"image": _read_image, "midi": _read_midi, "motion": _read_motion}


def _outcome(case: Case, path: Path) -> str:
    """Run the CLI's reader and the app's ``open_document``; "ok" or the one-line error."""
    errors = CLEAN_ERRORS[case.medium]
    try:
        READERS[case.medium](path)
        medium(case.medium).open_document(path)
    except errors as exc:
        message = str(exc)
        assert message and "\n" not in message, f"{case.id}: {type(exc).__name__}: {message!r}"
        return message
    return "ok"


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_a_clean_error_or_a_sound_document(case: Case, tmp_path: Path) -> None:
    path = tmp_path / f"input{case.suffix}"
    path.write_bytes(case.data)
    start = time.perf_counter()
    outcome = _outcome(case, path)
    assert time.perf_counter() - start < SECONDS, f"{case.id} took too long"
    assert path.read_bytes() == case.data, "the input file changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name], "something was written"
    if case.must_fail:
        assert outcome != "ok", f"{case.id} must be refused"


def test_a_27_byte_midi_with_a_2_28_tick_note_fails_fast_and_small(tmp_path: Path) -> None:
    data, _ = midi_abuse()["long-note-2^28"]
    path = tmp_path / "long.mid"
    path.write_bytes(data)
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(MidiError, match=r"MAX_QUARTERS"):
        load_score(path)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(data) < 40 and elapsed < 0.5 and peak < 20 * 2**20


def test_a_9000_square_16_bit_png_is_refused_from_its_header(tmp_path: Path) -> None:
    import zlib

    path = tmp_path / "big.png"
    row = b"\x00" + b"\x00" * 18000
    path.write_bytes(png_bytes(9000, 9000, 16, 0, zlib.compress(row * 9000, 9)))
    tracemalloc.start()
    with pytest.raises(ImageError, match=r"MAX_PIXELS_16BIT"):
        load_image(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 2**20  # the file's bytes, never the 4 GB of decoded samples


@pytest.mark.parametrize(
    ("module", "read", "error", "suffix"),
    [
        ("engine.media.midi.files", load_score, MidiError, ".mid"),
        ("engine.media.motion.bvh", read_bvh, BvhError, ".bvh"),
    ],
)
def test_a_file_over_the_size_limit_is_refused_before_reading(
    module: str,
    read: Any,
    error: type[Exception],
    suffix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / f"big{suffix}"
    path.write_bytes(b"x" * 2048)
    monkeypatch.setattr(f"{module}.MAX_FILE_BYTES", 1024)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("the file was read"))
    with pytest.raises(error, match="MAX_FILE_BYTES"):
        read(path)
