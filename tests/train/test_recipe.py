"""The one training recipe of the tokenizer + transformer media, end to end on tiny data.

`remask-train image` and `remask-train motion` share their stages' flags; the image trainer's
first names (--vq-*, --maskgit-*) still parse, so the commands its model card quotes run.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine.train.cli import build_parser, main
from engine.train.recipe import StageDefaults, trains

DEFAULTS = StageDefaults(3.0, 4.0, 8, 8)
STAGE_FLAGS = ("minutes", "max-steps", "init", "batch")


@pytest.mark.parametrize("medium", ["image", "motion"])
def test_both_media_name_their_stages_alike(medium: str) -> None:
    argv = [medium, "--tokenizer-minutes", "2", "--transformer-init", "t.pt"]
    args = build_parser().parse_args([*argv, "--refine-minutes", "1", "--no-eval"])
    assert (args.tokenizer_minutes, args.transformer_init) == (2.0, Path("t.pt"))
    assert args.refine_minutes == 1.0 and args.no_eval


def test_the_image_trainers_first_flag_names_are_hidden_aliases() -> None:
    old = ["image", "--vq-minutes", "0", "--vq-init", "a.pt", "--vq-batch", "4"]
    old += ["--maskgit-minutes", "5", "--maskgit-max-steps", "7", "--maskgit-init", "b.pt"]
    new = ["image", "--tokenizer-minutes", "0", "--tokenizer-init", "a.pt"]
    new += ["--tokenizer-batch", "4", "--transformer-minutes", "5"]
    new += ["--transformer-max-steps", "7", "--transformer-init", "b.pt"]
    assert vars(build_parser().parse_args(old)) == vars(build_parser().parse_args(new))
    image_help = build_parser()._subparsers._group_actions[0].choices["image"].format_help()  # type: ignore[union-attr]
    assert "--vq-" not in image_help and "--maskgit-" not in image_help
    assert "--tokenizer-init" in image_help


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], True),  # no checkpoint: train for the default budget
        (["--tokenizer-init", "a.pt"], False),  # a checkpoint alone is used as is
        (["--tokenizer-init", "a.pt", "--tokenizer-minutes", "0"], False),
        (["--tokenizer-init", "a.pt", "--tokenizer-minutes", "2"], True),  # trains on from it
        (["--tokenizer-init", "a.pt", "--tokenizer-max-steps", "3"], True),
    ],
)
def test_a_stage_reuses_its_checkpoint_unless_given_a_budget(
    flags: list[str], expected: bool
) -> None:
    args = build_parser().parse_args(["motion", *flags])
    assert trains(args, "tokenizer", DEFAULTS) is expected
    assert args.tokenizer_minutes == (
        3.0 if "--tokenizer-minutes" not in flags else float(flags[-1])
    )


def _bsds_zip(path: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    with zipfile.ZipFile(path, "w") as archive:
        for split, count in (("train", 3), ("val", 3), ("test", 2)):
            for index in range(count):
                gradient = np.linspace(0, 255, 72)[None, :, None] * rng.random(3)
                pixels = (gradient + rng.integers(0, 40, (64, 72, 3))).clip(0, 255)
                buffer = io.BytesIO()
                Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="JPEG")
                archive.writestr(f"images/{split}/{index}.jpg", buffer.getvalue())
    return path


def test_the_image_recipe_trains_exports_and_reuses_its_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("torch")
    from engine.train.image import card as image_card

    timing = {"grids": [], "engine_edit_ms": 1.0, "threads": 1}  # latency takes a minute
    monkeypatch.setattr(image_card, "latency", lambda *args, **kwargs: timing)
    data = _bsds_zip(tmp_path / "bsds500_images.zip")
    common = ["--data", str(data), "--tiny", "--limit", "3", "--crop", "32", "--grid", "4"]
    common += ["--eval-crops", "2", "--no-eval", "--device", "cpu", "--no-bf16"]
    first = ["image", *common, "--tokenizer-max-steps", "2", "--tokenizer-batch", "2"]
    first += ["--transformer-max-steps", "2", "--transformer-batch", "2"]
    first += ["--out", str(tmp_path / "one"), "--checkpoint-dir", str(tmp_path / "c1")]
    assert main(first) == 0
    info = json.loads((tmp_path / "c1" / "run_info.json").read_text())
    assert info["vq"]["steps"] == 2 and info["maskgit"]["steps"] == 2
    assert (tmp_path / "one" / "transformer.onnx").is_file()
    # the model card's stage-3 form, with the first flag names: both checkpoints as they are
    reuse = ["image", *common, "--vq-init", str(tmp_path / "c1" / "vq_final.pt")]
    reuse += ["--vq-minutes", "0", "--maskgit-init", str(tmp_path / "c1" / "maskgit_final.pt")]
    reuse += ["--maskgit-minutes", "0", "--refine-max-steps", "1"]
    reuse += ["--out", str(tmp_path / "two"), "--checkpoint-dir", str(tmp_path / "c2")]
    assert main(reuse) == 0
    again = json.loads((tmp_path / "c2" / "run_info.json").read_text())
    assert again["vq"]["steps"] == 2 and again["maskgit"]["steps"] == 2  # the first run's
    assert again["decoder_refine"]["steps"] == 1
    assert "remask-train image" in (tmp_path / "two" / "MODEL_CARD.md").read_text()


def _bvh_archives(root: Path) -> Path:
    from engine.train.motion.data import ARCHIVES
    from tests.engine.motion.synthetic_bvh import bandai_like

    for number, relative in enumerate(ARCHIVES):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(path, "w:xz") as archive:
            for index in range(2):
                text = bandai_like(40 + 8 * index, seed=number * 2 + index)
                payload = text.encode() if isinstance(text, str) else text
                member = tarfile.TarInfo(f"clips/take_{number}_{index}.bvh")
                member.size = len(payload)
                archive.addfile(member, io.BytesIO(payload))
    return root


def test_the_motion_recipe_trains_and_exports(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    data = _bvh_archives(tmp_path / "data")
    argv = ["motion", "--data", str(data), "--tiny", "--no-eval", "--device", "cpu"]
    argv += ["--tokenizer-max-steps", "2", "--tokenizer-batch", "2"]
    argv += ["--transformer-max-steps", "2", "--transformer-batch", "2"]
    argv += ["--out", str(tmp_path / "out"), "--checkpoint-dir", str(tmp_path / "ckpt")]
    assert main(argv) == 0
    stats = json.loads((tmp_path / "ckpt" / "stats.json").read_text())["stats"]
    assert stats["tokenizer"]["steps"] == 2 and stats["transformer"]["steps"] == 2
    assert {"decoder.onnx", "manifest.json", "MODEL_CARD.md"} <= {
        p.name for p in (tmp_path / "out").iterdir()
    }
    reuse = [*argv[:-4], "--tokenizer-init", str(tmp_path / "ckpt" / "tokenizer.pt")]
    reuse += ["--out", str(tmp_path / "out2"), "--checkpoint-dir", str(tmp_path / "ckpt2")]
    assert main(reuse) == 0
    again = json.loads((tmp_path / "ckpt2" / "stats.json").read_text())["stats"]
    assert again["tokenizer"]["steps"] == 2  # reused as it is, as the shipped stage 2 does
