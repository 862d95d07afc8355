"""Kept variations: the results of one edit an editor offers, as a project file keeps them.

A generation gives several variations; the editor shows them in a strip until
the user accepts one (one undo step) or discards them all. They cost minutes
of sampling, so a project (and an autosave) keeps them: reopening shows the
same strip with the same variation selected, and Accept writes the same
result as it would have before saving.

One record serves every medium. :class:`KeptVariations` holds the variations
in the form the medium's editor and document use (an image's
:class:`~engine.media.image.files.LoadedImage`, a MIDI
:class:`~engine.media.midi.Score`, a motion
:class:`~engine.media.motion.bvh.Clip`), which one is shown, and the
``context`` Accept needs beside the variation (the image's edited region, the
MIDI cells that were repainted, the motion's frame range and part). Each
medium's project module (``engine/media/<medium>/project.py``) writes the
items in its own format (PNG, MIDI, exact motion arrays) with
``save_variations`` and reads them back with ``load_variations``. The
manifest records them under ``"variations"``: ``shown``, ``count`` and the
medium's own fields; the member files live under ``variations/``.

A record exists only while an offer is open (pending acceptance): after
Accept or Discard all the editor holds none and the project stores none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeGuard, TypeVar

from engine.project_history import ProjectError

__all__ = ["MAX_KEPT_VARIATIONS", "KeptVariations", "check_record", "is_int", "member_name"]

MAX_KEPT_VARIATIONS = 16
"""Most variations a project keeps: the sampler panel offers at most 16 per generation, and
a cap bounds what a (hostile) project may make remask decode. A longer offer keeps its first 16."""

ItemT = TypeVar("ItemT")
ContextT = TypeVar("ContextT")


@dataclass(frozen=True)
class KeptVariations(Generic[ItemT, ContextT]):
    """The variations of one edit still on offer, which one is shown, and what Accept needs."""

    items: tuple[ItemT, ...]
    """The variations in the medium's own form, 1 to :data:`MAX_KEPT_VARIATIONS`."""
    context: ContextT
    """What Accept needs beside the chosen item (see the module docstring)."""
    shown: int = 0
    """The index selected in the strip (previewed; what Accept takes)."""

    def __post_init__(self) -> None:
        if not 1 <= len(self.items) <= MAX_KEPT_VARIATIONS:
            raise ValueError(f"{len(self.items)} variations: keep 1 to {MAX_KEPT_VARIATIONS}")
        if not 0 <= self.shown < len(self.items):
            raise ValueError(f"variation {self.shown} is not one of {len(self.items)}")

    @classmethod
    def of(
        cls, items: Sequence[ItemT], context: ContextT, shown: int = 0
    ) -> KeptVariations[ItemT, ContextT] | None:
        """The record of an editor's offer (its first 16), or None when nothing is offered."""
        kept = tuple(items[:MAX_KEPT_VARIATIONS])
        if not kept:
            return None
        return cls(kept, context, shown if 0 <= shown < len(kept) else 0)

    def showing(self, index: int) -> KeptVariations[ItemT, ContextT]:
        """This offer with variation ``index`` selected (unchanged when there is no such one)."""
        return replace(self, shown=index) if 0 <= index < len(self.items) else self


def check_record(record: Any, name: str) -> tuple[dict[str, Any], int, int]:
    """A manifest's ``"variations"`` record with its count and shown index, or one clear line.

    Checked before any member is decoded, so a hostile count never allocates.
    """
    if not isinstance(record, dict):
        raise ProjectError(f"{name}: the kept variations are not a record")
    count, shown = record.get("count"), record.get("shown")
    if not is_int(count) or not 1 <= count <= MAX_KEPT_VARIATIONS:
        raise ProjectError(f"{name}: the kept variations' count is not 1 to {MAX_KEPT_VARIATIONS}")
    if not is_int(shown) or not 0 <= shown < count:
        raise ProjectError(f"{name}: the shown variation is not one of the {count} kept")
    return record, count, shown


def member_name(index: int, suffix: str) -> str:
    """``variations/<index><suffix>``: where variation ``index`` is stored."""
    return f"variations/{index}{suffix}"


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer (``true`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)
