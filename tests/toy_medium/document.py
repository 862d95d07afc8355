"""The toy medium's engine layer: a grid of token ids the user edits directly.

The shell (worker, window, CLI) is tested with it, and it is the smallest
complete medium to copy from. The document is a plain object on the one
document protocol (:mod:`engine.document`): edits go through its undo stack,
and widgets :meth:`~engine.document.HistoryDocument.subscribe` to one
:class:`~engine.document.DocumentChanged` event ("tokens", "mask" or "reset",
then "history"), forward user intent, and never hold state of their own.

Conventions: ``token_grid`` is int64 with the model's token shape, values in
``[0, vocab_size)``; ``editable_mask`` is bool with the same shape, True where
the user wants new tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from engine.document import HistoryDocument
from engine.jobs import TokenProblem
from engine.sampling.types import BoolArray, TokenArray
from engine.undo import Bbox, UndoStack, full_bbox

_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class TokenGridPayload:
    """An immutable snapshot handed to the worker (arrays are private, read-only copies)."""

    token_grid: TokenArray
    editable_mask: BoolArray

    @staticmethod
    def of(token_grid: npt.ArrayLike, editable_mask: npt.ArrayLike) -> TokenGridPayload:
        tokens = _frozen(np.asarray(token_grid, dtype=np.int64))
        mask = _frozen(np.asarray(editable_mask, dtype=bool))
        if tokens.shape != mask.shape:
            raise ValueError(f"token grid {tokens.shape} and mask {mask.shape} differ in shape")
        return TokenGridPayload(tokens, mask)


def _frozen(array: npt.NDArray[_T]) -> npt.NDArray[_T]:
    """A read-only copy, so a snapshot cannot be changed behind the worker's back."""
    copy = np.array(array, copy=True)
    copy.flags.writeable = False
    return copy


class TokenGridDocument(HistoryDocument):
    """A token grid plus its editable mask, with change events and undo.

    Tokens and mask share one history: a mask stroke and an accepted
    generation are each one undo step. Events: ``"tokens"`` and ``"mask"`` with
    the box that changed, ``"reset"`` when new content was loaded.
    """

    def __init__(
        self,
        token_grid: npt.ArrayLike,
        editable_mask: npt.ArrayLike | None = None,
        max_undo: int = 100,
    ) -> None:
        self._arrays: dict[str, npt.NDArray[np.generic]] = {}
        self._start_history(UndoStack(self._arrays, max_steps=max_undo))
        self._load(token_grid, editable_mask)

    def _load(self, token_grid: npt.ArrayLike, editable_mask: npt.ArrayLike | None) -> None:
        tokens = np.array(token_grid, dtype=np.int64, copy=True)
        mask = (
            np.zeros(tokens.shape, bool) if editable_mask is None else np.array(editable_mask, bool)
        )
        if mask.shape != tokens.shape:
            raise ValueError(f"token grid {tokens.shape} and mask {mask.shape} differ in shape")
        self._arrays["tokens"] = tokens
        self._arrays["editable"] = mask

    @property
    def token_grid(self) -> TokenArray:
        """The live int64 grid; treat as read-only (edit through methods so undo sees it)."""
        return self._arrays["tokens"]  # type: ignore[return-value]

    @property
    def editable_mask(self) -> BoolArray:
        """The live bool mask; treat as read-only."""
        return self._arrays["editable"]  # type: ignore[return-value]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.token_grid.shape)

    def has_mask(self) -> bool:
        return bool(self.editable_mask.any())

    def replace(
        self, token_grid: npt.ArrayLike, editable_mask: npt.ArrayLike | None = None
    ) -> None:
        """Load new content (a file was opened); history is cleared: old diffs no longer fit."""
        self._load(token_grid, editable_mask)
        self.history.clear()
        self._notify("reset")

    # -- edits ----------------------------------------------------------------------

    def set_mask(self, bbox: Sequence[slice], value: bool | npt.ArrayLike = True) -> None:
        """Set the editable mask inside ``bbox`` (a value or an array of the box's shape)."""
        changed = self.history.assign(np.asarray(value, bool), tuple(bbox), target="editable")
        if changed is not None:
            self._notify("mask", changed)

    def clear_mask(self) -> None:
        self.set_mask(full_bbox(self.shape), False)

    def set_tokens(self, bbox: Sequence[slice], values: npt.ArrayLike) -> None:
        """Write tokens by hand (a typed cell, a pasted region)."""
        changed = self.history.assign(np.asarray(values, np.int64), tuple(bbox), target="tokens")
        if changed is not None:
            self._notify("tokens", changed)

    def accept(self, token_grid: npt.ArrayLike) -> None:
        """Accept a generated variation as one undo step storing only changed cells."""
        grid = np.asarray(token_grid, dtype=np.int64)
        if grid.shape != self.shape:
            raise ValueError(f"variation has shape {grid.shape}, document {self.shape}")
        with self.history.step("accept variation"):
            self.set_tokens(full_bbox(self.shape), grid)

    def snapshot(self) -> TokenGridPayload:
        """The immutable payload for a :class:`~engine.jobs.GenerateRequest`."""
        return TokenGridPayload.of(self.token_grid, self.editable_mask)

    # -- history --------------------------------------------------------------------

    def _touched(self, target: str, box: Bbox | None) -> None:
        """Undo and redo send the events the edits sent (the ``"editable"`` target is the mask)."""
        if box is not None:
            self._notify("tokens" if target == "tokens" else "mask", box)


class TokenGridCodec:
    """:class:`~engine.jobs.MediumCodec` for :class:`TokenGridPayload`: the grid *is* the tokens.

    ``grid_shape`` and ``vocab_size`` are the model's facts; ``encode`` rejects
    a payload that does not fit them with a one-line message.
    """

    def __init__(
        self, grid_shape: Sequence[int], vocab_size: int, condition: int | None = None
    ) -> None:
        self.grid_shape = tuple(int(size) for size in grid_shape)
        self.vocab_size = int(vocab_size)
        self.condition = condition

    def encode(self, payload: TokenGridPayload) -> TokenProblem:
        self._check(payload)
        return TokenProblem(
            tokens=payload.token_grid.reshape(-1).copy(),
            editable_mask=payload.editable_mask.reshape(-1).copy(),
            grid_shape=self.grid_shape,
            condition=self.condition,
        )

    def decode(self, payload: TokenGridPayload, tokens: TokenArray) -> list[TokenArray]:
        """B final token rows -> B grids; cells outside the mask are copied from the payload."""
        rows = np.asarray(tokens, dtype=np.int64)
        if rows.ndim != 2 or rows.shape[1] != payload.token_grid.size:
            raise ValueError(f"expected tokens [B, {payload.token_grid.size}], got {rows.shape}")
        grids = rows.reshape((len(rows), *payload.token_grid.shape))
        return [np.where(payload.editable_mask, grid, payload.token_grid) for grid in grids]

    def _check(self, payload: TokenGridPayload) -> None:
        if payload.token_grid.shape != self.grid_shape:
            raise ValueError(
                f"grid is {payload.token_grid.shape}, the model expects {self.grid_shape}"
            )
        kept = payload.token_grid[~payload.editable_mask]
        if kept.size and (kept.min() < 0 or kept.max() >= self.vocab_size):
            raise ValueError(
                f"kept tokens must lie in [0, {self.vocab_size}), got [{kept.min()}, {kept.max()}]"
            )
