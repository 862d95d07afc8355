"""Undo for array documents, stored as small diffs (after napari's Labels layer).

An edit is an :class:`EditAtom`: the tight bounding box of the cells it
changed, a bool mask of the changed cells inside that box, and their old and
new values. Memory is proportional to the edit, not to the document, so a
brush stroke on a 4K mask costs a few kilobytes. All atoms recorded between
:meth:`UndoStack.begin_step` and :meth:`UndoStack.end_step` (or inside
``with stack.step():``) form one undo step, so one stroke or one accepted
generation is undone at once.

The stack edits arrays *in place* and returns the region it touched so the
document can emit one change event and the view repaint only that region.
It is generic over N-d numpy arrays: masks [H, W], pixels [H, W, C], note
grids [voices, steps], motion frames [T, D]. Several named arrays of one
document (for instance ``"pixels"`` and ``"mask"``) share one history.

An edit that changes what a target *is* (a canvas of another size, a new
immutable score) cannot be a diff: :meth:`UndoStack.swap` records it as a
:class:`SwapAtom` holding the old and the new object, so such edits take
their place in the same history, one step per gesture, as diffs do.

Each state of a history has a :attr:`UndoStack.revision`, a number unique in
the process: remember it when the document is opened or saved, and the
document is unchanged since then exactly when the revision is that number
again (undoing back to it included). No edit path needs a "modified" flag.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

AnyArray = npt.NDArray[Any]
Bbox = tuple[slice, ...]
"""One ``slice(start, stop)`` per array axis, with concrete non-negative ints."""

DEFAULT_TARGET = "array"
"""Target name used when the stack is built over a single array."""

_serials = itertools.count(1)


def next_serial() -> int:
    """A number never handed out before in this process: names one state of a history."""
    return next(_serials)


@dataclass(frozen=True)
class EditAtom:
    """The changed cells of one array region.

    ``changed`` has the shape of the bounding box; ``old_values`` and
    ``new_values`` are 1-D, one entry per true cell of ``changed`` (in C order).
    """

    target: str
    bbox: Bbox
    changed: npt.NDArray[np.bool_]
    old_values: AnyArray
    new_values: AnyArray

    @property
    def nbytes(self) -> int:
        """Bytes held by this atom's arrays (to show that storage follows the edit)."""
        return int(self.changed.nbytes + self.old_values.nbytes + self.new_values.nbytes)

    def apply(self, array: AnyArray, *, forward: bool) -> None:
        """Write the new values (``forward``) or the old values back into ``array``."""
        region = array[self.bbox]
        region[self.changed] = self.new_values if forward else self.old_values


@dataclass(frozen=True)
class SwapAtom:
    """A target replaced as a whole: its old and its new value (an array or any object).

    For changes a diff cannot hold: an array of another shape, an immutable value.
    """

    target: str
    old: Any
    new: Any

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays it holds (other objects are shared, not counted)."""
        return sum(int(v.nbytes) for v in (self.old, self.new) if isinstance(v, np.ndarray))


Atom = EditAtom | SwapAtom
Touched = dict[str, Bbox | None]
"""Per target, the box an undo or redo changed; None where the target was swapped whole."""


@dataclass(frozen=True)
class UndoStep:
    """Atoms of one user gesture, applied forward in order and undone in reverse."""

    label: str
    atoms: tuple[Atom, ...]
    serial: int = field(default_factory=next_serial, compare=False)
    """The revision of the state this step leads to (see :attr:`UndoStack.revision`)."""

    @property
    def nbytes(self) -> int:
        return sum(atom.nbytes for atom in self.atoms)


def full_bbox(shape: tuple[int, ...]) -> Bbox:
    """The bounding box of a whole array."""
    return tuple(slice(0, size) for size in shape)


def normalize_bbox(bbox: tuple[slice, ...], shape: tuple[int, ...]) -> Bbox:
    """Clip ``bbox`` to ``shape`` and pad missing trailing axes with their full range.

    A 2-D box on an [H, W, C] array therefore covers all channels.
    """
    if len(bbox) > len(shape):
        raise ValueError(f"bbox has {len(bbox)} axes, array has {len(shape)}")
    out = []
    for axis, size in enumerate(shape):
        if axis >= len(bbox):
            out.append(slice(0, size))
            continue
        start, stop, step = bbox[axis].indices(size)
        if step != 1:
            raise ValueError("bbox slices must have step 1")
        out.append(slice(start, max(start, stop)))
    return tuple(out)


def union_bbox(first: Bbox | None, second: Bbox) -> Bbox:
    """The smallest box containing both boxes (``first`` may be None)."""
    if first is None:
        return second
    return tuple(
        slice(min(a.start, b.start), max(a.stop, b.stop))
        for a, b in zip(first, second, strict=True)
    )


def diff_atom(target: str, offset: Bbox, old: AnyArray, new: AnyArray) -> EditAtom | None:
    """Build the atom that turns ``old`` into ``new``, both the region at ``offset``.

    Shrinks the box to the cells that really changed; returns None when none did.
    """
    changed = _changed_cells(old, new)
    if not changed.any():
        return None
    tight = _tight_box(changed)
    changed = changed[tight]
    bbox = tuple(
        slice(box.start + inner.start, box.start + inner.stop)
        for box, inner in zip(offset, tight, strict=True)
    )
    return EditAtom(
        target=target,
        bbox=bbox,
        changed=np.ascontiguousarray(changed),
        old_values=old[tight][changed].copy(),
        new_values=new[tight][changed].copy(),
    )


def _changed_cells(old: AnyArray, new: AnyArray) -> npt.NDArray[np.bool_]:
    """Cells whose value differs; NaN == NaN so untouched float cells do not count."""
    if old.shape != new.shape:
        raise ValueError(f"region shapes differ: {old.shape} vs {new.shape}")
    differs = old != new
    if np.issubdtype(old.dtype, np.floating):
        differs &= ~(np.isnan(old) & np.isnan(new))
    return np.asarray(differs, dtype=bool)


def _tight_box(changed: npt.NDArray[np.bool_]) -> Bbox:
    """The bounding box of the true cells of a non-empty bool array."""
    out = []
    for axis in range(changed.ndim):
        others = tuple(a for a in range(changed.ndim) if a != axis)
        hits = np.flatnonzero(changed.any(axis=others))
        out.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(out)


class UndoStack:
    """Bounded undo/redo history over named numpy arrays, edited in place.

    Parameters
    ----------
    targets
        One array (named :data:`DEFAULT_TARGET`) or a mapping from names to
        arrays (and, for :meth:`swap`, other values). The mapping is looked up
        on every undo/redo; replace a target through :meth:`swap` so that the
        history knows (or :meth:`clear` it, since old diffs no longer fit).
    max_steps
        Oldest steps are dropped beyond this many (undo and redo each).
    """

    def __init__(self, targets: AnyArray | MutableMapping[str, Any], max_steps: int = 100) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be at least 1")
        self._targets: MutableMapping[str, Any] = (
            {DEFAULT_TARGET: targets} if isinstance(targets, np.ndarray) else targets
        )
        self._undo: deque[UndoStep] = deque(maxlen=max_steps)
        self._redo: deque[UndoStep] = deque(maxlen=max_steps)
        self._open_atoms: list[Atom] | None = None
        self._open_label = ""
        self._depth = 0
        self._floor = next_serial()
        """Revision of the state below the oldest stored step (the opened one at first)."""
        self.changed: list[Callable[[], None]] = []
        """Called after the history changes (enable/disable Undo and Redo actions)."""

    # -- grouping ---------------------------------------------------------------

    def begin_step(self, label: str = "edit") -> None:
        """Start a gesture; nested begins join the outermost step."""
        if self._depth == 0:
            self._open_atoms = []
            self._open_label = label
        self._depth += 1

    def end_step(self) -> None:
        """Close the gesture; a step that changed nothing is not stored."""
        if self._depth == 0:
            raise RuntimeError("end_step() without begin_step()")
        self._depth -= 1
        if self._depth > 0:
            return
        atoms, self._open_atoms = self._open_atoms or [], None
        if atoms:
            self._push(UndoStep(self._open_label, tuple(atoms)))

    @contextmanager
    def step(self, label: str = "edit") -> Iterator[None]:
        """``with stack.step("stroke"):`` groups every edit inside into one undo step."""
        self.begin_step(label)
        try:
            yield
        finally:
            self.end_step()

    # -- recording --------------------------------------------------------------

    @contextmanager
    def edit(
        self, bbox: tuple[slice, ...] | None = None, target: str = DEFAULT_TARGET
    ) -> Iterator[AnyArray]:
        """Record whatever the block writes into ``bbox`` of ``target``.

        Yields the array; the block writes into it (inside ``bbox``) and on exit
        the changed cells become one atom. Writes outside ``bbox`` are not
        recorded, so keep the box honest (a brush dab's bounding box).
        """
        array = self._targets[target]
        box = normalize_bbox(bbox or (), array.shape)
        before = array[box].copy()
        try:
            yield array
        finally:  # record partial writes too, so history always matches the array
            self.record(target, box, before)

    def record(self, target: str, bbox: tuple[slice, ...], old_region: AnyArray) -> Bbox | None:
        """Record a change already written into ``target``; ``old_region`` was ``array[bbox]``.

        Returns the tight box of the cells that changed, or None if none did.
        """
        array = self._targets[target]
        box = normalize_bbox(bbox, array.shape)
        atom = diff_atom(target, box, old_region, array[box])
        if atom is not None:
            self._add(atom)
        return atom.bbox if atom is not None else None

    def assign(
        self, values: AnyArray, bbox: tuple[slice, ...] | None = None, target: str = DEFAULT_TARGET
    ) -> Bbox | None:
        """Write ``values`` into ``target[bbox]`` (broadcasting) and record the change.

        With no ``bbox`` this replaces the whole array, e.g. accepting a generated
        variation; only the cells that differ are stored. Returns the tight
        changed box or None.
        """
        array = self._targets[target]
        box = normalize_bbox(bbox or (), array.shape)
        before = array[box].copy()
        array[box] = values
        return self.record(target, box, before)

    def swap(self, target: str, value: Any) -> None:
        """Replace ``target`` as a whole (another shape, an immutable value) and record it."""
        atom = SwapAtom(target, self._targets[target], value)
        self._targets[target] = value
        self._add(atom)

    def _add(self, atom: Atom) -> None:
        if self._open_atoms is not None:
            self._open_atoms.append(atom)
        else:
            self._push(UndoStep("edit", (atom,)))

    def _push(self, step: UndoStep) -> None:
        if len(self._undo) == self._undo.maxlen:  # the oldest step falls off
            self._floor = self._undo[0].serial
        self._undo.append(step)
        self._redo.clear()  # a new edit forks history; the old future is gone
        self._notify()

    # -- undo / redo ----------------------------------------------------------------

    def undo(self) -> Touched | None:
        """Revert the newest step; return the touched box per target, or None if nothing to undo."""
        if not self._undo or self._depth:
            return None
        step = self._undo.pop()
        touched = self._apply(reversed(step.atoms), forward=False)
        self._redo.append(step)
        self._notify()
        return touched

    def redo(self) -> Touched | None:
        """Re-apply the newest undone step; return the touched box per target, or None."""
        if not self._redo or self._depth:
            return None
        step = self._redo.pop()
        touched = self._apply(iter(step.atoms), forward=True)
        self._undo.append(step)
        self._notify()
        return touched

    def _apply(self, atoms: Iterable[Atom], *, forward: bool) -> Touched:
        touched: Touched = {}
        swapped: set[str] = set()
        for atom in atoms:
            if isinstance(atom, SwapAtom):
                self._targets[atom.target] = atom.new if forward else atom.old
                swapped.add(atom.target)
            else:
                atom.apply(self._targets[atom.target], forward=forward)
                touched[atom.target] = union_bbox(touched.get(atom.target), atom.bbox)
        return touched | dict.fromkeys(swapped)

    def clear(self) -> None:
        """Forget all history (after a new document is opened); the revision is a new one."""
        self._undo.clear()
        self._redo.clear()
        self._floor = next_serial()
        self._notify()

    def restore(self, undo: Iterable[UndoStep], redo: Iterable[UndoStep]) -> None:
        """Put back a saved history (a project file) over targets already in its current state.

        ``undo`` is oldest first, ``redo`` as :attr:`redo_steps` lists it. The
        caller has checked that every step fits the targets (:mod:`engine.project`).
        """
        if self._depth:
            raise RuntimeError("restore() inside an open step")
        self._undo.clear()
        self._redo.clear()
        self._floor = next_serial()
        self._undo.extend(undo)
        self._redo.extend(redo)
        self._notify()

    @property
    def targets(self) -> Mapping[str, Any]:
        """The live targets, read-only: a saved history names them instead of copying them."""
        return MappingProxyType(self._targets)

    def _notify(self) -> None:
        for callback in list(self.changed):
            callback()

    # -- inspection ------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """Names the current state: equal revisions mean the same applied steps, so equal arrays.

        Undo and redo return to earlier revisions; a new edit makes one never seen
        before; an open (unfinished) step does not count until it ends. Steps that
        fell off a full stack cannot be undone, so their states are never reached again.
        """
        return self._undo[-1].serial if self._undo else self._floor

    @property
    def can_undo(self) -> bool:
        return bool(self._undo) and not self._depth

    @property
    def can_redo(self) -> bool:
        return bool(self._redo) and not self._depth

    @property
    def undo_steps(self) -> tuple[UndoStep, ...]:
        """Stored steps, oldest first."""
        return tuple(self._undo)

    @property
    def redo_steps(self) -> tuple[UndoStep, ...]:
        return tuple(self._redo)

    @property
    def nbytes(self) -> int:
        """Bytes held by the whole history."""
        return sum(step.nbytes for step in (*self._undo, *self._redo))
