"""The members of a project file and its undo history, written and read back (see engine.project).

A history is stored as its steps, each a list of atoms (:mod:`engine.undo`):
an :class:`~engine.undo.EditAtom` as its target, box and three ``.npy``
members; a :class:`~engine.undo.SwapAtom` as its target and two values. Values
are written once however many steps share them, and a value that *is* one of
the document's live targets is written as a reference to it (``{"live":
"mask"}``), because later diffs edit that very array in place: after reading,
undoing them must edit the document's array again, not a copy.

Reading checks every step against the targets before any is restored: walking
back from the current state through the undo steps (and forward through the
redo steps), each box must lie inside its target's shape at that point and
each swap must start from what the target then is. A history that does not
fit is refused, so Undo after reopening can never write out of bounds.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from engine.undo import Atom, EditAtom, SwapAtom, UndoStack, UndoStep

__all__ = ["ProjectError", "ProjectReader", "ProjectWriter"]

_ARRAY_KINDS = "biuf"
"""dtype kinds a project may hold: bool, signed and unsigned integers, floats (never objects)."""


class ProjectError(ValueError):
    """A project file that cannot be read or written; the message is one line for the user."""


Encoder = Callable[[Any, "ProjectWriter"], dict[str, Any]]
Decoder = Callable[[dict[str, Any], "ProjectReader"], Any]


class ProjectWriter:
    """Collects a project's members and JSON on the GUI thread (no encoding happens yet)."""

    def __init__(self, encode_object: Encoder) -> None:
        self.meta: dict[str, Any] = {}
        """The medium's own facts, stored as the manifest's ``"document"``."""
        self.members: dict[str, Callable[[], bytes]] = {}
        self.history_record: dict[str, Any] = {"undo": [], "redo": [], "objects": []}
        self._encode_object = encode_object
        self._memo: dict[int, tuple[Any, Any]] = {}
        self._live: Mapping[str, Any] = {}

    def add_bytes(self, name: str, data: bytes) -> None:
        self.add_deferred(name, lambda: data)

    def add_deferred(self, name: str, make: Callable[[], bytes]) -> None:
        """A member made when the file is written; ``make`` must use private copies only."""
        if name in self.members:
            raise ValueError(f"project member {name!r} written twice")
        self.members[name] = make

    def add_array(self, name: str, array: np.ndarray, *, copy: bool = True) -> str:
        """An ``.npy`` member (copied now unless the array is never written again)."""
        frozen = np.array(array, copy=True) if copy else array
        self.add_deferred(name, lambda: _npy_bytes(frozen))
        return name

    def value(self, value: Any, *, copy: bool = True) -> Any:
        """The JSON for a history value; each distinct object is written once."""
        if value is None:
            return None
        for target, live in self._live.items():
            if live is value:
                return {"live": target}
        key = id(value)
        if key not in self._memo:
            self._memo[key] = (value, self._encode_new(value, copy))
        return self._memo[key][1]

    def _encode_new(self, value: Any, copy: bool) -> Any:
        if isinstance(value, np.ndarray):
            return {"array": self.add_array(f"values/{len(self._memo)}.npy", value, copy=copy)}
        objects: list[Any] = self.history_record["objects"]
        objects.append(None)  # reserve the index: the record may name other values
        index = len(objects) - 1
        objects[index] = self._encode_object(value, self)
        return {"object": index}

    def write_history(self, history: UndoStack) -> None:
        """Store every undo and redo step of ``history``; its targets are written by reference."""
        self._live = history.targets
        self.history_record["undo"] = [self._step(step) for step in history.undo_steps]
        self.history_record["redo"] = [self._step(step) for step in history.redo_steps]

    def _step(self, step: UndoStep) -> dict[str, Any]:
        return {"label": step.label, "atoms": [self._atom(atom) for atom in step.atoms]}

    def _atom(self, atom: Atom) -> dict[str, Any]:
        if isinstance(atom, SwapAtom):  # a swapped array is live again after an undo: copy it
            return {"swap": atom.target, "old": self.value(atom.old), "new": self.value(atom.new)}
        return {
            "edit": atom.target,
            "bbox": [[box.start, box.stop] for box in atom.bbox],
            "changed": self.value(atom.changed, copy=False),  # atoms are never written again
            "old": self.value(atom.old_values, copy=False),
            "new": self.value(atom.new_values, copy=False),
        }


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class ProjectReader:
    """A project's members and JSON, read and checked on demand; errors are ProjectError."""

    def __init__(
        self,
        archive: zipfile.ZipFile,
        members: Mapping[str, zipfile.ZipInfo],
        meta: dict[str, Any],
        history: dict[str, Any],
        decode_object: Decoder,
        name: str,
    ) -> None:
        self.meta = meta
        self.name = name
        self._archive = archive
        self._members = members
        self._history = history
        self._decode_object = decode_object
        self._arrays: dict[str, np.ndarray] = {}
        self._objects: dict[int, Any] = {}
        self._live: Mapping[str, Any] = {}

    def error(self, message: str) -> ProjectError:
        return ProjectError(f"{self.name}: {message}")

    def bytes(self, member: str) -> bytes:
        if member not in self._members:
            raise self.error(f"the project has no {member}")
        return self._archive.read(member)

    def array(self, member: str) -> np.ndarray:
        """An ``.npy`` member (numbers only: object arrays are refused, never unpickled)."""
        if member not in self._arrays:
            data = self.bytes(member)  # a missing member is its own error, not "not valid"
            try:
                array = np.load(io.BytesIO(data), allow_pickle=False)
            except ValueError as exc:
                raise self.error(f"{member} is not a valid array ({exc})") from None
            if not isinstance(array, np.ndarray) or array.dtype.kind not in _ARRAY_KINDS:
                raise self.error(f"{member} holds no plain numbers")
            self._arrays[member] = array
        return self._arrays[member]

    def meta_field(self, key: str, kind: type) -> Any:
        value = self.meta.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(f"the document's {key!r} is missing or not {kind.__name__}")
        return value

    def value(self, record: Any) -> Any:
        """The value a history record names (live targets by reference, arrays shared)."""
        if record is None:
            return None
        if not isinstance(record, dict) or len(record) != 1:
            raise self.error("a history value is not a reference")
        ((kind, ref),) = record.items()
        if kind == "live" and isinstance(ref, str) and ref in self._live:
            return self._live[ref]
        if kind == "array" and isinstance(ref, str) and ref.startswith("values/"):
            return self.array(ref)
        if kind == "object" and isinstance(ref, int) and not isinstance(ref, bool):
            return self._object(ref)
        raise self.error(f"a history value names an unknown {kind} ({str(ref)[:40]!r})")

    def _object(self, index: int) -> Any:
        objects = self._history.get("objects")
        if not isinstance(objects, list) or not 0 <= index < len(objects):
            raise self.error(f"history object {index} does not exist")
        if index not in self._objects:
            self._objects[index] = None  # a record naming itself reads as None, not forever
            record = objects[index]
            if not isinstance(record, dict):
                raise self.error(f"history object {index} is not a record")
            self._objects[index] = self._decode_object(record, self)
        return self._objects[index]

    def restore_history(self, history: UndoStack) -> None:
        """Read the steps, check that they fit ``history``'s targets, then install them."""
        self._live = history.targets
        undo = self._steps("undo")
        redo = self._steps("redo")
        _HistoryCheck(history.targets, self.error).check(undo, redo)
        history.restore(undo, redo)

    def _steps(self, key: str) -> list[UndoStep]:
        records = self._history.get(key)
        if not isinstance(records, list):
            raise self.error(f"the history's {key!r} steps are missing")
        return [self._step(record) for record in records]

    def _step(self, record: Any) -> UndoStep:
        if not isinstance(record, dict) or not isinstance(record.get("label"), str):
            raise self.error("a history step is not a record with a label")
        atoms = record.get("atoms")
        if not isinstance(atoms, list) or not atoms:
            raise self.error("a history step has no atoms")
        return UndoStep(record["label"], tuple(self._atom(atom) for atom in atoms))

    def _atom(self, record: Any) -> Atom:
        if not isinstance(record, dict):
            raise self.error("a history atom is not a record")
        if isinstance(record.get("swap"), str):
            return SwapAtom(record["swap"], self.value(record["old"]), self.value(record["new"]))
        target, bbox = record.get("edit"), record.get("bbox")
        if not isinstance(target, str) or not isinstance(bbox, list):
            raise self.error("a history atom is neither an edit nor a swap")
        return self._edit_atom(target, bbox, record)

    def _edit_atom(self, target: str, bbox: list[Any], record: dict[str, Any]) -> EditAtom:
        box = tuple(_slice(item, self.error) for item in bbox)
        changed, old, new = (self.value(record.get(key)) for key in ("changed", "old", "new"))
        if not all(isinstance(a, np.ndarray) for a in (changed, old, new)):
            raise self.error("an edit's cells are not arrays")
        shape = tuple(s.stop - s.start for s in box)
        if changed.dtype != np.bool_ or changed.shape != shape:
            raise self.error(f"an edit's changed cells do not match its box {shape}")
        count = int(changed.sum())
        if old.shape != (count,) or new.shape != (count,) or old.dtype != new.dtype:
            raise self.error("an edit's old and new values do not match its changed cells")
        return EditAtom(target, box, changed, old, new)


def _slice(item: Any, error: Callable[[str], ProjectError]) -> slice:
    if (
        isinstance(item, list)
        and len(item) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        and 0 <= item[0] <= item[1]
    ):
        return slice(item[0], item[1])
    raise error("an edit's box is not a list of [start, stop] pairs")


class _HistoryCheck:
    """Walks a history from the current state to check that every step fits its targets."""

    def __init__(self, live: Mapping[str, Any], error: Callable[[str], ProjectError]) -> None:
        self._live = live
        self._error = error

    def check(self, undo: list[UndoStep], redo: list[UndoStep]) -> None:
        state = dict(self._live)
        for step in reversed(undo):  # undo order: newest step first, its atoms in reverse
            for atom in reversed(step.atoms):
                self._fits(atom, state, forward=False)
        state = dict(self._live)
        for step in reversed(redo):  # redo order: the last stored step is redone first
            for atom in step.atoms:
                self._fits(atom, state, forward=True)

    def _fits(self, atom: Atom, state: dict[str, Any], *, forward: bool) -> None:
        if atom.target not in state:
            raise self._error(f"the history edits {atom.target!r}, which this document lacks")
        current = state[atom.target]
        if isinstance(atom, SwapAtom):
            was, becomes = (atom.old, atom.new) if forward else (atom.new, atom.old)
            if not _same_kind(was, current):
                raise self._error(f"a history step does not fit {atom.target!r}")
            state[atom.target] = becomes
            return
        if not isinstance(current, np.ndarray) or len(atom.bbox) != current.ndim:
            raise self._error(f"an edit of {atom.target!r} does not fit its array")
        inside = all(box.stop <= size for box, size in zip(atom.bbox, current.shape, strict=True))
        if not inside or atom.old_values.dtype != current.dtype:
            raise self._error(f"an edit of {atom.target!r} lies outside it or has another type")


def _same_kind(value: Any, current: Any) -> bool:
    """Whether a swap's starting value can stand where ``current`` is (same type and shape)."""
    if isinstance(value, np.ndarray) and isinstance(current, np.ndarray):
        return bool(value.shape == current.shape and value.dtype == current.dtype)
    return type(value) is type(current)
