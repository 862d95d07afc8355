"""MotionDocument: per-part frame masks as undo steps, one-block payloads, exact accept, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.document import DocumentChanged
from engine.media.motion.bvh import BvhError, parse_bvh, read_bvh
from engine.media.motion.document import MotionDocument, frame_span
from engine.media.motion.editing import interpolate_range
from engine.media.motion.skeleton import SkeletonError
from tests.engine.motion.synthetic_bvh import bandai_like, names_bvh


@pytest.fixture
def document() -> MotionDocument:
    return MotionDocument(parse_bvh(bandai_like(frames=40)), "walk.bvh")


def spans_of(document: MotionDocument, kind: str) -> list[tuple[int, int]]:
    """The frame spans of the ``kind`` events ``document`` sends from now on."""
    spans: list[tuple[int, int]] = []

    def note(event: DocumentChanged) -> None:
        if event.kind == kind:
            spans.append(frame_span(event.region, document.n_frames))

    document.subscribe(note)
    return spans


def test_a_stroke_marks_frames_of_one_part_and_is_one_undo_step(document: MotionDocument) -> None:
    spans = spans_of(document, "mask")
    document.begin_stroke()
    document.set_mask(10, 12, "upper")
    document.set_mask(12, 20, "upper")
    document.end_stroke()
    assert document.part_mask("upper")[10:21].all() and document.part_mask("upper").sum() == 11
    assert not document.part_mask("lower").any()
    assert spans == [(10, 13), (13, 21)]  # only the frames that changed
    assert len(document.history.undo_steps) == 1
    assert document.undo() and not document.has_mask()
    assert document.redo() and document.part_mask("upper").sum() == 11


def test_full_marks_both_parts_and_erasing_clears(document: MotionDocument) -> None:
    document.set_mask(25, 5, "full")  # any order
    assert document.part_mask("full")[5:26].all() and document.mask.sum() == 42
    document.set_mask(5, 9, "lower", value=False)
    assert document.has_mask()
    assert document.part_mask("upper")[5:10].all() and not document.part_mask("lower")[5:10].any()
    document.set_mask(-5, 100, "full", value=False)  # clipped to the clip
    assert not document.has_mask()


def test_mask_block_names_the_range_and_part(document: MotionDocument) -> None:
    document.set_mask(8, 15, "lower")
    assert document.mask_block() == (8, 15, "lower")
    payload = document.snapshot()
    assert (payload.first, payload.last, payload.part, payload.n_frames) == (8, 15, "lower", 8)
    assert not payload.clip.motion.flags.writeable  # a snapshot the engine thread cannot change


@pytest.mark.parametrize(
    ("strokes", "message"),
    [
        ([], "paint a mask first"),
        ([(2, 4, "full"), (8, 9, "full")], "gaps"),
        ([(2, 6, "upper"), (7, 9, "lower")], "mix body parts"),
    ],
)
def test_unusable_masks_are_refused_with_a_reason(
    document: MotionDocument, strokes: list[tuple[int, int, str]], message: str
) -> None:
    for first, last, part in strokes:
        document.set_mask(first, last, part)
    with pytest.raises(ValueError, match=message):
        document.snapshot()


def test_accept_is_one_step_and_exact_outside(document: MotionDocument, tmp_path: Path) -> None:
    original = document.clip.motion.copy()
    document.set_mask(10, 19, "upper")
    payload = document.snapshot()
    result = interpolate_range(payload.clip, 10, 19, "upper", payload.skeleton_map)
    frames = spans_of(document, "motion")
    document.accept(result, payload)
    assert frames == [(10, 20)]
    assert np.array_equal(document.clip.motion, result.motion)
    assert np.array_equal(document.clip.motion[:10], original[:10])
    assert document.generated[10:20, 0].all() and document.generated.sum() == 10
    document.export(tmp_path / "out.bvh")
    assert np.array_equal(read_bvh(tmp_path / "out.bvh").motion, result.motion)
    assert document.undo()
    assert np.array_equal(document.clip.motion, original) and not document.generated.any()
    assert document.part_mask("upper").sum() == 10  # the mask stroke is its own step


def test_accept_rejects_a_clip_of_another_length(document: MotionDocument) -> None:
    document.set_mask(1, 2, "full")
    payload = document.snapshot()
    short = payload.clip.with_motion(payload.clip.motion[:5])
    with pytest.raises(ValueError, match="does not fit"):
        document.accept(short, payload)


def test_blank_document_is_all_masked() -> None:
    document = MotionDocument.blank(parse_bvh(bandai_like(frames=12)))
    assert document.mask_block() == (0, 11, "full") and not document.can_undo


def test_bad_files_raise_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bvh"
    broken.write_text(bandai_like(frames=4).replace("MOTION", "MOTOR"))
    with pytest.raises(BvhError):
        MotionDocument.open(broken)
    odd = tmp_path / "odd.bvh"
    odd.write_text(names_bvh([("Pelvis", None), ("Torso", "Pelvis")]))
    with pytest.raises(SkeletonError, match="missing joints"):
        MotionDocument.open(odd)


def test_revision_names_the_state(document: MotionDocument) -> None:
    """The editor tracks saved/modified by revision alone: undo back to it is unmodified."""
    opened = document.revision
    document.set_mask(3, 6, "full")
    assert document.revision != opened
    assert document.undo() and document.revision == opened
