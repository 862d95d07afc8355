"""The toy medium's entry in :mod:`engine.media.registry`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.jobs import Codec
from engine.media.registry import MediumSpec, register_medium
from engine.models import ModelManifest
from tests.toy_medium.document import TokenGridCodec, TokenGridDocument


def open_document(path: Path) -> TokenGridDocument:
    """A 2-D integer grid saved with ``numpy.save``."""
    grid = np.load(path, allow_pickle=False)  # raises before anything is replaced
    if grid.ndim != 2 or not np.issubdtype(grid.dtype, np.integer):
        raise ValueError(f"{path.name} is not a 2-D integer grid")
    return TokenGridDocument(grid)


def codec(manifest: ModelManifest) -> Codec:
    return TokenGridCodec(manifest.shape, manifest.vocab_size)


SPEC = MediumSpec(
    key="tokens",
    title="Tokens",
    extensions=(".npy",),
    blurb="Edit a raw token grid (for model debugging).",
    open_document=open_document,
    codec=codec,
)


def register() -> None:
    """Make ``"tokens"`` a medium remask knows (models of it load); safe to call twice."""
    register_medium(SPEC)
