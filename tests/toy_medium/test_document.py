"""The toy medium's document and codec: snapshots, events, undo, bit-exact compositing."""

from __future__ import annotations

import numpy as np
import pytest

from engine.document import HISTORY, DocumentChanged
from engine.jobs import MediumCodec
from tests.toy_medium.document import TokenGridCodec, TokenGridDocument, TokenGridPayload


def _document() -> TokenGridDocument:
    grid = np.arange(32, dtype=np.int64).reshape(4, 8) % 12
    return TokenGridDocument(grid)


def test_codec_satisfies_the_protocol() -> None:
    codec: MediumCodec = TokenGridCodec((4, 8), 12)
    assert hasattr(codec, "encode") and hasattr(codec, "decode")


def test_encode_flattens_grid_and_mask() -> None:
    doc = _document()
    doc.set_mask((slice(1, 3), slice(2, 5)))
    problem = TokenGridCodec((4, 8), 12).encode(doc.snapshot())
    assert problem.grid_shape == (4, 8)
    assert problem.tokens.shape == (32,) and problem.tokens.dtype == np.int64
    assert problem.editable_mask.sum() == 6
    np.testing.assert_array_equal(problem.tokens, doc.token_grid.reshape(-1))


def test_decode_keeps_cells_outside_the_mask_bit_exact() -> None:
    doc = _document()
    doc.set_mask((slice(0, 2), slice(0, 3)))
    payload = doc.snapshot()
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 12, (3, 32))
    grids = TokenGridCodec((4, 8), 12).decode(payload, tokens)
    assert len(grids) == 3
    for row, grid in zip(tokens, grids, strict=True):
        np.testing.assert_array_equal(
            grid[~payload.editable_mask], payload.token_grid[~payload.editable_mask]
        )
        np.testing.assert_array_equal(
            grid[payload.editable_mask], row.reshape(4, 8)[payload.editable_mask]
        )


def test_encode_rejects_a_grid_of_the_wrong_shape() -> None:
    payload = TokenGridPayload.of(np.zeros((3, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="model expects"):
        TokenGridCodec((4, 8), 12).encode(payload)


def test_snapshot_is_frozen_and_independent() -> None:
    doc = _document()
    payload = doc.snapshot()
    doc.set_tokens((slice(0, 1),), 0)
    assert payload.token_grid[0, 1] == 1
    with pytest.raises(ValueError):
        payload.token_grid[0, 0] = 5


def test_events_report_the_changed_box() -> None:
    doc = _document()
    events: list[DocumentChanged] = []
    doc.subscribe(events.append)
    box = (slice(1, 2), slice(3, 6))
    doc.set_mask(box)
    assert sorted((e.kind, e.region) for e in events) == [(HISTORY, None), ("mask", box)]
    assert {e.revision for e in events} == {doc.revision}
    events.clear()
    doc.undo()
    assert [(e.kind, e.region) for e in events] == [("mask", box), (HISTORY, None)]
    events.clear()
    doc.set_tokens((slice(0, 1), slice(0, 2)), 0)
    assert {e.kind for e in events} == {"tokens", HISTORY}


def test_replace_sends_one_reset() -> None:
    doc = _document()
    events: list[DocumentChanged] = []
    unsubscribe = doc.subscribe(events.append)
    doc.replace(np.zeros((2, 2), np.int64))
    assert "reset" in [e.kind for e in events]
    unsubscribe()
    doc.set_mask((slice(0, 1),))
    assert events[-1].kind != "mask"  # unsubscribed


def test_accept_is_one_undo_step() -> None:
    doc = _document()
    before = doc.token_grid.copy()
    doc.set_mask((slice(0, 4), slice(0, 2)))
    variation = before.copy()
    variation[:, :2] = 11
    doc.accept(variation)
    np.testing.assert_array_equal(doc.token_grid, variation)
    assert doc.undo()
    np.testing.assert_array_equal(doc.token_grid, before)
    assert doc.has_mask()  # only the accept was undone, not the mask stroke
    assert doc.redo()
    np.testing.assert_array_equal(doc.token_grid, variation)


def test_replace_clears_history() -> None:
    doc = _document()
    doc.set_mask((slice(0, 1),))
    doc.replace(np.zeros((2, 2), np.int64))
    assert doc.shape == (2, 2)
    assert not doc.undo()
