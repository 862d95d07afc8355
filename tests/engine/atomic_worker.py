"""A subprocess that saves one file over and over through a real engine writer, to be killed.

Run as ``python -m tests.engine.atomic_worker FOLDER``. It imports the engine
once, writes the two known versions of each format into FOLDER/versions/ (with
plain writes, for the test to compare against), prints ``versions``, then serves
one request per stdin line ``FORMAT TARGET``: it forks a child that saves
version A, then B, then A… over TARGET through the format's engine function
(``save_image``, ``save_score``, ``write_bvh``, ``write_wav``), printing
``ready <pid>`` after its first complete save. The test SIGKILLs the child at a
random moment. Forking from one warm process makes each kill cost milliseconds
instead of a fresh interpreter's start-up.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import mido
import numpy as np

from engine.media.image.export import encode_image, save_image
from engine.media.image.files import LoadedImage
from engine.media.midi.files import Score, read_score, save_score
from engine.media.midi.synth import encode_wav, write_wav
from engine.media.motion.bvh import parse_bvh
from engine.media.motion.bvh_writer import format_bvh, write_bvh
from engine.media.motion.clip import Clip
from tests.engine.motion.synthetic_bvh import bandai_like

FORMATS = ("png", "mid", "bvh", "wav")
ROOT = Path(__file__).resolve().parents[2]

Saver = Callable[[Path], None]


def _images() -> tuple[LoadedImage, LoadedImage]:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (192, 256, 3), dtype=np.uint8)
    return LoadedImage(rgb=noise), LoadedImage(rgb=255 - noise)


def _scores() -> tuple[Score, Score]:
    data = (ROOT / "assets" / "samples" / "chorale.mid").read_bytes()
    midi = mido.MidiFile(file=io.BytesIO(data))
    midi.tracks[0].insert(0, mido.MetaMessage("text", text="B" * 4000))
    return read_score(data, "a.mid"), Score.from_midifile(midi, name="b.mid")


def _clips() -> tuple[Clip, Clip]:
    return parse_bvh(bandai_like(400, seed=0)), parse_bvh(bandai_like(400, seed=1))


def _audio() -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(40_000) / 22050
    return 0.5 * np.sin(2 * np.pi * 440 * t), 0.5 * np.sin(2 * np.pi * 330 * t)


def savers() -> dict[str, tuple[tuple[Saver, Saver], tuple[bytes, bytes]]]:
    """Per format: the two engine saves and the bytes each must leave on disk."""
    images, scores, clips, audio = _images(), _scores(), _clips(), _audio()

    def image_saver(image: LoadedImage) -> Saver:
        return lambda path: (save_image(image, path), None)[1]

    def score_saver(score: Score) -> Saver:
        return lambda path: save_score(score, path)

    def clip_saver(clip: Clip) -> Saver:
        return lambda path: write_bvh(clip, path)

    def audio_saver(samples: np.ndarray) -> Saver:
        return lambda path: write_wav(path, samples)

    return {
        "png": (
            (image_saver(images[0]), image_saver(images[1])),
            (encode_image(images[0], "PNG")[0], encode_image(images[1], "PNG")[0]),
        ),
        "mid": (
            (score_saver(scores[0]), score_saver(scores[1])),
            (scores[0].to_bytes(), scores[1].to_bytes()),
        ),
        "bvh": (
            (clip_saver(clips[0]), clip_saver(clips[1])),
            (format_bvh(clips[0]).encode(), format_bvh(clips[1]).encode()),
        ),
        "wav": (
            (audio_saver(audio[0]), audio_saver(audio[1])),
            (encode_wav(audio[0]), encode_wav(audio[1])),
        ),
    }


def _save_forever(save: tuple[Saver, Saver], target: Path) -> None:
    save[0](target)
    print(f"ready {os.getpid()}", flush=True)
    turn = 1
    while True:
        save[turn](target)
        turn = 1 - turn


def main(folder: Path) -> None:
    table = savers()
    versions = folder / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    for name, (_save, data) in table.items():
        for label, version in zip("ab", data, strict=True):
            (versions / f"{label}.{name}").write_bytes(version)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed children are reaped at once
    print("versions", flush=True)
    for line in sys.stdin:
        name, target = line.split(maxsplit=1)
        if os.fork() == 0:
            try:
                _save_forever(table[name][0], Path(target.strip()))
            finally:
                os._exit(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
