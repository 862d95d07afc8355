"""The honest image evaluation: mask kinds, paints, metrics, and the card section it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # engine.train.image.card imports torch

from engine.train.image import card as image_card  # noqa: E402
from engine.train.image import data as idata  # noqa: E402
from engine.train.image import evaluate as image_eval  # noqa: E402
from engine.train.model_card import HISTORY_HEADING  # noqa: E402

IMAGES = idata.synthetic_images(4, 200)


@pytest.mark.parametrize("kind", image_eval.KINDS)
def test_each_kind_draws_holes_of_its_size(kind: str) -> None:
    (case,) = image_eval.make_kind_cases(IMAGES, kind, 1, seed=2)
    mask = case.mask
    assert mask.any() and not mask.all() and case.donor is not None
    assert case.donor.shape == case.crop.shape
    rows, cols = np.nonzero(mask)
    extent = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    if kind == "photo1024":
        assert mask.shape == (768, 1024) and extent >= 150 * 0.7
    elif kind == "large":
        assert 0.25 <= mask.mean() <= 0.4
    elif kind.startswith("object"):
        assert 0.6 * int(kind[6:]) <= extent <= int(kind[6:]) + 2


def test_paints_cover_only_the_hole_and_never_the_truth() -> None:
    (case,) = image_eval.make_kind_cases(IMAGES, "object48", 1)
    for paint in image_eval.PAINTS:
        painted = image_eval.painted(case, paint)
        assert np.array_equal(painted[~case.mask], case.crop[~case.mask])
        assert not np.array_equal(painted[case.mask], case.crop[case.mask])


def test_metrics() -> None:
    (case,) = image_eval.make_kind_cases(IMAGES, "brush", 1)
    photo, hole = case.crop, case.mask
    assert image_eval.hole_ssim(photo, photo, hole) == pytest.approx(1.0)
    assert image_eval.hole_l1(photo, photo, hole) == 0
    white = image_eval.painted(case, "white")
    assert image_eval.hole_ssim(white, photo, hole) < 0.5
    assert image_eval.diversity([photo, photo], photo, hole) == 0
    assert image_eval.diversity([photo, white], photo, hole) > 0


def test_table_and_card_section(tmp_path: Path) -> None:
    (case,) = image_eval.make_kind_cases(IMAGES, "scratch", 1)
    methods: dict[str, image_eval.Filler] = {
        "ours": lambda image, c, seed: [image_eval.telea(c, image)] * 2,
        "OpenCV Telea": lambda image, c, seed: [image_eval.telea(c, image)],
        "OpenCV Navier-Stokes": lambda image, c, seed: [image_eval.navier_stokes(c, image)],
    }
    rows, same = image_eval.evaluate_kind("scratch", [case], methods, image_eval.PAINTS)
    report = image_eval.Report(
        tuple(rows), {f"scratch/{m}": v for m, v in same.items()}, {"scratch": 1}, 1.0
    )
    again = image_eval.Report.from_json(report.to_json())
    assert image_eval.table(again) == image_eval.table(report)
    card = tmp_path / "MODEL_CARD.md"
    card.write_text(
        "# m\n\n## Inpainting evaluation\n\nold\n\n## What limits quality\n\nx\n\n"
        f"{HISTORY_HEADING}\n\nkept\n"
    )
    image_card.update_evaluation(tmp_path, report, report)
    text = card.read_text()
    assert "old" not in text and "3-px scratch (1)" in text and "before the fix" in text
    assert text.endswith(f"## What limits quality\n\nx\n\n{HISTORY_HEADING}\n\nkept\n")
