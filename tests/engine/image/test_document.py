"""The image document without Qt: tools, one undo step per gesture, accept, outpainting."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from engine.document import DocumentChanged
from engine.media.image.document import ImageDocument, combine_windows, edited_region
from engine.media.image.export import save_image
from engine.media.image.files import ImageError, LoadedImage, load_image, with_edit
from engine.media.image.mask import save_mask

if TYPE_CHECKING:
    from engine.media.image.codec import ImageCodec
    from engine.media.image.edit import ImageEdit


def picture(height: int = 40, width: int = 60, seed: int = 0) -> LoadedImage:
    rng = np.random.default_rng(seed)
    return LoadedImage.from_rgb(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def events(document: ImageDocument) -> list[str]:
    """What subscribers are told, history events left out: ``"mask <box>"``, ``"reset"``…"""
    seen: list[str] = []

    def note(event: DocumentChanged) -> None:
        if event.kind != "history":
            seen.append(event.kind if event.region is None else f"{event.kind} {event.region}")

    document.subscribe(note)
    return seen


def test_a_stroke_of_many_segments_is_one_undo_step() -> None:
    document = ImageDocument(picture())
    seen = events(document)
    document.begin_stroke()
    document.stroke((5, 5), (5, 5), 2)
    document.stroke((5, 5), (50, 30), 2)  # a fast move: no gap between the events
    document.stroke((50, 30), (55, 35), 2)
    document.end_stroke()
    assert document.mask[5, 5] and document.mask[30, 50] and document.mask[17, 27]
    assert len(seen) == 3 and all(line.startswith("mask") for line in seen)
    assert document.can_undo
    assert document.undo()
    assert not document.mask.any() and not document.can_undo
    assert document.redo() and document.mask[30, 50]


def test_only_the_touched_box_is_reported() -> None:
    document = ImageDocument(picture())
    boxes: list[tuple[slice, ...]] = []
    document.subscribe(lambda event: boxes.append(event.region or ()))
    document.begin_stroke()
    document.stroke((10, 10), (12, 10), 1)
    document.end_stroke()
    rows, cols = boxes[0]
    assert rows.stop - rows.start <= 4 and cols.stop - cols.start <= 6


def test_eraser_removes_and_is_undoable() -> None:
    document = ImageDocument(picture())
    document.fill_rectangle((0, 0), (59, 39))
    document.begin_stroke(erase=True)
    document.stroke((30, 20), (30, 20), 3)
    document.end_stroke()
    assert not document.mask[20, 30] and document.mask[0, 0]
    document.undo()
    assert document.mask.all()


@pytest.mark.parametrize(
    ("tool", "check"),
    [
        ("invert", lambda m: m.all()),
        ("grow", lambda m: m.sum() > 9),
        ("shrink", lambda m: m.sum() < 9),
        ("clear", lambda m: not m.any()),
    ],
)
def test_whole_mask_tools_are_each_one_undo_step(tool: str, check: object) -> None:
    document = ImageDocument(picture())
    if tool != "invert":
        document.fill_rectangle((10, 10), (12, 12))
    before = document.mask.copy()
    {
        "invert": document.invert_mask,
        "grow": lambda: document.grow_mask(2),
        "shrink": lambda: document.shrink_mask(1),
        "clear": document.clear_mask,
    }[tool]()
    assert callable(check) and check(document.mask)
    assert document.undo()
    assert np.array_equal(document.mask, before)


def test_lasso_and_fill_mask() -> None:
    rgb = np.zeros((30, 30, 3), dtype=np.uint8)
    rgb[:, 15:] = 200
    document = ImageDocument(LoadedImage.from_rgb(rgb))
    document.fill_similar((20, 5), tolerance=10)
    assert document.mask[:, 15:].all() and not document.mask[:, :15].any()
    document.clear_mask()
    document.fill_lasso([(2, 2), (12, 2), (2, 12)])
    assert document.mask[3, 3] and not document.mask[12, 12]


def test_accept_is_one_step_and_undo_restores_the_original_exactly() -> None:
    image = picture()
    document = ImageDocument(image)
    original = image.rgb.copy()
    region = np.zeros(document.shape, dtype=np.bool_)
    region[10:20, 10:30] = True
    result = with_edit(image, np.full_like(original, 7), region)
    document.accept(result)
    assert np.array_equal(document.rgb[region], np.full((region.sum(), 3), 7, np.uint8))
    assert np.array_equal(document.rgb[~region], original[~region])
    assert len(document.history.undo_steps) == 1
    document.undo()
    assert np.array_equal(document.rgb, original)


def test_snapshot_is_a_copy() -> None:
    document = ImageDocument(picture())
    image, mask = document.snapshot()
    document.fill_rectangle((0, 0), (5, 5))
    assert not mask.any() and image.rgb is not document.rgb


def test_extend_canvas_masks_the_margin_and_undo_returns_to_the_old_size() -> None:
    document = ImageDocument(picture(20, 30))
    document.fill_rectangle((1, 1), (2, 2))
    seen = events(document)
    document.extend_canvas(4, 0, 6, 2)
    assert document.shape == (22, 40) and seen == ["reset"]
    assert document.mask[:, :4].all() and document.mask[:, 34:].all() and document.mask[20:].all()
    assert document.mask[1, 5] and not document.mask[10, 10]
    assert document.undo() and document.shape == (20, 30)
    assert document.can_redo
    assert document.undo() and not document.mask.any()  # the rectangle, in the old era
    assert document.redo() and document.mask[1, 1] and document.shape == (20, 30)
    assert document.redo() and document.shape == (22, 40)
    assert not document.can_redo


def test_a_new_edit_drops_the_undone_extension() -> None:
    document = ImageDocument(picture(20, 30))
    document.extend_canvas(2, 2, 2, 2)
    document.undo()
    document.fill_rectangle((0, 0), (3, 3))
    assert not document.can_redo
    assert not document.redo() and document.shape == (20, 30)


def test_mask_files_round_trip_and_a_wrong_size_changes_nothing(tmp_path: Path) -> None:
    document = ImageDocument(picture())
    document.fill_rectangle((3, 4), (20, 30))
    document.export_mask(tmp_path / "m.png")
    other = ImageDocument(picture(seed=1))
    other.import_mask(tmp_path / "m.png")
    assert np.array_equal(other.mask, document.mask)
    save_mask(np.ones((5, 5), dtype=np.bool_), tmp_path / "small.png")
    with pytest.raises(ImageError, match="5×5"):
        other.import_mask(tmp_path / "small.png")
    assert np.array_equal(other.mask, document.mask)


def test_export_round_trips_with_alpha(tmp_path: Path) -> None:
    image = picture()
    alpha = np.full(image.rgb.shape[:2], 128, dtype=np.uint8)
    document = ImageDocument(LoadedImage.from_rgb(image.rgb, alpha))
    for name in ("out.png", "out.webp"):
        document.export(tmp_path / name)
        back = load_image(tmp_path / name)
        assert np.array_equal(back.rgb, image.rgb) and back.alpha is not None
        assert np.array_equal(back.alpha, alpha)


def test_open_reads_files_and_refuses_broken_ones(tmp_path: Path) -> None:
    save_image(picture(), tmp_path / "a.png")
    assert ImageDocument.open(tmp_path / "a.png").name == "a.png"
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        ImageDocument.open(tmp_path / "empty.png")


def test_combine_windows_takes_each_windows_own_region() -> None:
    base = picture(10, 10)
    left = np.zeros((10, 10), dtype=np.bool_)
    left[:, :3] = True
    right = np.zeros((10, 10), dtype=np.bool_)
    right[:, 7:] = True
    first = [with_edit(base, np.full_like(base.rgb, v), left) for v in (1, 2)]
    second = [with_edit(base, np.full_like(base.rgb, v), right) for v in (3, 4, 5)]
    merged = combine_windows([first, second], [left, right])
    assert len(merged) == 2
    assert (merged[1].rgb[:, :3] == 2).all() and (merged[1].rgb[:, 7:] == 4).all()
    assert np.array_equal(edited_region(base, merged[0]), left | right)


# --------------------------------------------------------------------------- windows and preview


def two_window_edit(tmp_path: Path) -> tuple[ImageCodec, LoadedImage, np.ndarray, ImageEdit]:
    """The tiny image model's codec (no feather), an 80 x 300 picture, a mask of two far-apart
    holes in it, and the edit planned for them."""
    from engine.media.image.codec import ImageCodec
    from engine.media.image.edit import ImageEdit
    from engine.models import load_manifest
    from tests.engine.image.test_codec import write_image_model

    codec = ImageCodec(load_manifest(write_image_model(tmp_path)), feather_px=0)
    image = picture(80, 300)
    mask = np.zeros((80, 300), dtype=np.bool_)
    mask[10:20, 10:20] = True
    mask[50:60, 250:270] = True
    return codec, image, mask, ImageEdit.plan(codec, image, mask)


def test_image_edit_preview_and_heat_map_sit_on_the_hole(tmp_path: Path) -> None:
    from engine.media.image.edit import heat_patch, preview_patch

    codec, _image, _mask, edit = two_window_edit(tmp_path)
    assert edit.count == 2
    first = edit.windows[0]
    n = codec.grid_shape[0] * codec.grid_shape[1]
    tokens = np.zeros((1, n), dtype=np.int64)
    still = np.ones((1, n), dtype=np.bool_)
    known = codec.encode(first).tokens
    patch = preview_patch(codec, first, known, tokens, still)
    assert (patch.top, patch.left) == (first.crop.box[0].start, first.crop.box[1].start)
    assert np.array_equal(patch.rgba[:, :, 3] > 0, first.crop.fill_mask)
    batched = preview_patch(codec, first, known[None], tokens, still)  # known tokens [B, N]
    assert np.array_equal(batched.rgba, patch.rgba)
    confidence = np.full((1, n), np.inf, dtype=np.float32)
    confidence[0, :3] = 0.5
    heat = heat_patch(codec, first, confidence)
    assert heat.rgba.shape[:2] == codec.grid_shape and heat.cell == (8.0, 8.0)
    assert (heat.rgba[..., 3] > 0).sum() <= 3


def test_image_edit_codec_pastes_each_window_into_each_variation_exactly(tmp_path: Path) -> None:
    from engine.media.image.edit import ImageEditCodec
    from tests.engine.image.test_codec import PALETTE

    codec, image, mask, edit = two_window_edit(tmp_path)
    windowed = ImageEditCodec(codec)
    assert windowed.window_count(edit) == 2
    regions = edit.regions()
    assert not (regions[0] & regions[1]).any() and np.array_equal(regions[0] | regions[1], mask)
    n = codec.grid_shape[0] * codec.grid_shape[1]
    rng = np.random.default_rng(3)
    states = (windowed.initial_state(edit),) * 2
    decoded = []
    for window in range(2):
        problem = windowed.encode_window(edit, states, window)
        assert np.array_equal(problem.tokens, codec.encode(edit.windows[window]).tokens)
        tokens = rng.integers(0, len(PALETTE), (2, n))
        decoded.append(codec.decode(edit.windows[window], tokens))
        states = tuple(windowed.apply_window(edit, states, window, tokens))
    merged = windowed.finish(edit, states)
    assert len(merged) == 2 and edit.image is image  # the snapshot itself is never written
    for b, variation in enumerate(merged):
        for window, region in enumerate(regions):
            assert np.array_equal(variation.rgb[region], decoded[window][b].rgb[region])
        assert np.array_equal(variation.rgb[~mask], image.rgb[~mask])
    assert not np.array_equal(merged[0].rgb[mask], merged[1].rgb[mask])


def test_preview_feeds_known_pixels_to_a_context_reading_decoder(tmp_path: Path) -> None:
    context = pytest.importorskip("tests.engine.image.test_decoder_context")

    from engine.media.image.codec import ImageCodec
    from engine.media.image.edit import ImageEdit, preview_patch
    from engine.models import load_manifest
    from tests.engine.image.test_codec import write_image_model

    folder = write_image_model(tmp_path, decoder=context.build_context_decoder())
    codec = ImageCodec(load_manifest(folder))
    mask = np.zeros((64, 64), dtype=np.bool_)
    mask[20:30, 20:30] = True
    (window,) = ImageEdit.plan(codec, picture(64, 64), mask).windows
    n = codec.grid_shape[0] * codec.grid_shape[1]
    known = codec.encode(window).tokens
    patch = preview_patch(codec, window, known, np.zeros((1, n), np.int64), np.zeros((1, n), bool))
    assert patch.rgba.shape[2] == 4


def test_revision_follows_undo_across_canvas_extensions() -> None:
    document = ImageDocument(picture(20, 30))
    opened = document.revision
    document.fill_rectangle((1, 1), (2, 2))
    painted = document.revision
    document.extend_canvas(2, 2, 2, 2)
    extended = document.revision
    assert len({opened, painted, extended}) == 3
    assert document.undo() and document.revision == painted
    assert document.undo() and document.revision == opened
    assert document.redo() and document.redo() and document.revision == extended


def test_one_history_holds_extensions_and_a_new_edit_drops_them() -> None:
    """An extension is one step of the same bounded history; an edit after its undo drops it."""
    document = ImageDocument(picture(20, 30))
    opened = document.revision
    document.extend_canvas(2, 2, 2, 2)
    assert document.revision != opened and len(document.history.undo_steps) == 1
    assert document.undo() and document.revision == opened
    document.fill_rectangle((1, 1), (3, 3))
    assert not document.can_redo and document.shape == (20, 30)
