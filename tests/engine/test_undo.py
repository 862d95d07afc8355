"""Undo stores diffs, not copies, and undo/redo restore arrays exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.undo import DEFAULT_TARGET, UndoStack, normalize_bbox


def _dab(stack: UndoStack, y: int, x: int, value: int, radius: int = 2) -> None:
    """Paint a square brush dab through the recording context, like a brush would."""
    box = (slice(y - radius, y + radius + 1), slice(x - radius, x + radius + 1))
    with stack.edit(box) as array:
        array[normalize_bbox(box, array.shape)] = value


def test_undo_redo_restore_exactly() -> None:
    mask = np.zeros((32, 32), np.uint8)
    stack = UndoStack(mask)
    states = [mask.copy()]
    for i, (y, x) in enumerate([(5, 5), (10, 20), (6, 7)]):
        _dab(stack, y, x, i + 1)
        states.append(mask.copy())
    for expected in reversed(states[:-1]):
        assert stack.undo() is not None
        np.testing.assert_array_equal(mask, expected)
    assert stack.undo() is None
    for expected in states[1:]:
        assert stack.redo() is not None
        np.testing.assert_array_equal(mask, expected)
    assert stack.redo() is None


def test_stroke_is_one_step_and_returns_touched_bbox() -> None:
    mask = np.zeros((40, 40), bool)
    stack = UndoStack(mask)
    with stack.step("stroke"):
        for x in range(5, 30, 3):
            _dab(stack, 10, x, 1)
    assert len(stack.undo_steps) == 1
    touched = stack.undo()
    assert touched == {DEFAULT_TARGET: (slice(8, 13), slice(3, 32))}
    assert not mask.any()


def test_new_edit_clears_redo() -> None:
    grid = np.zeros((8, 8), np.int64)
    stack = UndoStack(grid)
    stack.assign(3, (slice(0, 2), slice(0, 2)))
    stack.assign(4, (slice(4, 6), slice(4, 6)))
    stack.undo()
    assert stack.can_redo
    stack.assign(5, (slice(6, 8), slice(6, 8)))
    assert not stack.can_redo
    assert stack.redo() is None
    assert grid[4, 4] == 0 and grid[6, 6] == 5


def test_history_is_bounded() -> None:
    grid = np.zeros(10, np.int64)
    stack = UndoStack(grid, max_steps=3)
    for i in range(10):
        stack.assign(i + 1, (slice(i, i + 1),))
    assert len(stack.undo_steps) == 3
    while stack.undo():
        pass
    expected = np.array([1, 2, 3, 4, 5, 6, 7, 0, 0, 0])
    np.testing.assert_array_equal(grid, expected)


def test_storage_follows_the_edit_not_the_array() -> None:
    image = np.zeros((2048, 2048, 3), np.uint8)
    stack = UndoStack(image)
    with stack.edit((slice(100, 110), slice(200, 210))) as array:
        array[100:110, 200:210, 0] = 255
    atom = stack.undo_steps[0].atoms[0]
    assert atom.bbox == (slice(100, 110), slice(200, 210), slice(0, 1))
    assert stack.nbytes < 1000  # the array itself is 12 MB
    assert atom.old_values.shape == (100,)


def test_whole_array_replacement_stores_only_changed_cells() -> None:
    grid = np.arange(64 * 64, dtype=np.int64).reshape(64, 64)
    before = grid.copy()
    result = grid.copy()
    result[30:33, 40:42] = -1
    stack = UndoStack(grid)
    changed = stack.assign(result)
    assert changed == (slice(30, 33), slice(40, 42))
    assert stack.nbytes == 6 + 6 * 8 * 2
    stack.undo()
    np.testing.assert_array_equal(grid, before)


def test_unchanged_assignment_is_not_a_step() -> None:
    grid = np.ones((4, 4))
    stack = UndoStack(grid)
    assert stack.assign(1.0, (slice(0, 2),)) is None
    with stack.step():
        pass
    assert not stack.can_undo


def test_nan_cells_count_as_unchanged() -> None:
    frames = np.full((5, 3), np.nan)
    stack = UndoStack(frames)
    stack.assign(np.where(np.arange(3) == 1, 2.0, np.nan), (slice(2, 3),))
    assert stack.undo_steps[0].atoms[0].old_values.size == 1
    stack.undo()
    assert np.isnan(frames).all()


def test_named_targets_share_one_history() -> None:
    arrays = {"pixels": np.zeros((6, 6, 3), np.uint8), "mask": np.zeros((6, 6), bool)}
    stack = UndoStack(arrays)
    with stack.step("accept"):
        stack.assign(7, (slice(1, 3), slice(1, 3)), target="pixels")
        stack.assign(True, (slice(2, 4),), target="mask")
    touched = stack.undo()
    assert touched is not None and set(touched) == {"pixels", "mask"}
    assert not arrays["pixels"].any() and not arrays["mask"].any()


def test_edit_records_even_when_the_block_raises() -> None:
    grid = np.zeros(6, np.int64)
    stack = UndoStack(grid)
    with pytest.raises(RuntimeError), stack.edit((slice(0, 3),)) as array:
        array[1] = 9
        raise RuntimeError("brush failed half way")
    stack.undo()
    assert not grid.any()


def test_end_without_begin_is_an_error() -> None:
    with pytest.raises(RuntimeError):
        UndoStack(np.zeros(2)).end_step()


def test_changed_callbacks_fire() -> None:
    stack = UndoStack(np.zeros(3))
    calls: list[int] = []
    stack.changed.append(lambda: calls.append(1))
    stack.assign(1.0, (slice(0, 1),))
    stack.undo()
    stack.redo()
    assert len(calls) == 3


@settings(max_examples=40, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, 9),
            st.integers(1, 10),
            st.integers(0, 9),
            st.integers(1, 10),
            st.integers(0, 5),
        ),
        min_size=1,
        max_size=8,
    ),
    undo_count=st.integers(0, 8),
)
def test_any_edit_sequence_roundtrips(
    edits: list[tuple[int, int, int, int, int]], undo_count: int
) -> None:
    grid = np.zeros((10, 10), np.int64)
    stack = UndoStack(grid)
    history = [grid.copy()]
    for y, h, x, w, value in edits:
        if stack.assign(value, (slice(y, y + h), slice(x, x + w))) is not None:
            history.append(grid.copy())
    undone = 0
    while undone < undo_count and stack.undo() is not None:
        undone += 1
    np.testing.assert_array_equal(grid, history[-1 - undone])
    while stack.redo() is not None:
        pass
    np.testing.assert_array_equal(grid, history[-1])


def test_revision_returns_when_undo_returns_to_a_state() -> None:
    grid = np.zeros(6, np.int64)
    stack = UndoStack(grid)
    opened = stack.revision
    stack.assign(1, (slice(0, 2),))
    edited = stack.revision
    assert edited != opened
    stack.undo()
    assert stack.revision == opened
    stack.redo()
    assert stack.revision == edited
    stack.undo()
    stack.assign(1, (slice(0, 2),))  # the same cells again, but a new step: a new revision
    assert stack.revision not in (opened, edited)
    with stack.step("stroke"):
        stack.assign(5, (slice(4, 5),))
        assert stack.revision != opened  # an open step counts once it ends
    stack.assign(5, (slice(4, 5),))  # changes nothing: no step, same revision
    revision = stack.revision
    stack.clear()
    assert stack.revision not in (opened, edited, revision)


def test_revisions_are_unique_across_stacks() -> None:
    first, second = UndoStack(np.zeros(3)), UndoStack(np.zeros(3))
    assert first.revision != second.revision
    first.assign(1.0, (slice(0, 1),))
    second.assign(1.0, (slice(0, 1),))
    assert first.revision != second.revision


def test_a_state_whose_step_fell_off_is_never_reached_again() -> None:
    grid = np.zeros(5, np.int64)
    stack = UndoStack(grid, max_steps=2)
    opened = stack.revision
    seen = [opened]
    for i in range(4):
        stack.assign(i + 1, (slice(i, i + 1),))
        seen.append(stack.revision)
    while stack.undo():
        pass
    assert stack.revision == seen[2]  # the state after the last step that fell off
    np.testing.assert_array_equal(grid, [1, 2, 0, 0, 0])


@settings(max_examples=60, deadline=None)
@given(
    actions=st.lists(
        st.one_of(
            st.just("undo"), st.just("redo"), st.tuples(st.integers(0, 7), st.integers(1, 3))
        ),
        max_size=24,
    ),
    max_steps=st.integers(1, 4),
)
def test_equal_revisions_mean_equal_arrays(
    actions: list[str | tuple[int, int]], max_steps: int
) -> None:
    grid = np.zeros(8, np.int64)
    stack = UndoStack(grid, max_steps=max_steps)
    states = {stack.revision: grid.copy()}
    for action in actions:
        if action == "undo":
            stack.undo()
        elif action == "redo":
            stack.redo()
        else:
            cell, value = action
            stack.assign(value, (slice(cell, cell + 1),))
        expected = states.setdefault(stack.revision, grid.copy())
        np.testing.assert_array_equal(grid, expected)


def test_swap_replaces_a_target_whole_in_the_same_history() -> None:
    """A reshaped array (an extended canvas) is one step among diffs; undo brings the old one."""
    targets = {"mask": np.zeros((4, 4), bool)}
    stack = UndoStack(targets)
    small = targets["mask"]
    stack.assign(True, (slice(0, 1), slice(0, 1)), target="mask")
    with stack.step("extend"):
        stack.swap("mask", np.ones((6, 6), bool))
    assert targets["mask"].shape == (6, 6) and len(stack.undo_steps) == 2
    assert stack.undo() == {"mask": None}  # None: the whole target changed
    assert targets["mask"] is small and small[0, 0] and small.sum() == 1
    assert stack.redo() == {"mask": None} and targets["mask"].shape == (6, 6)
