"""Value types shared by the sampler, the engine worker and the app.

Shapes: B = variations in one batched call, N = tokens in the sequence/grid,
V = vocabulary size (the mask id is *not* a logit column).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

TokenArray = npt.NDArray[np.int64]
"""int64 tokens, shape [B, N] (or [N] for one sequence)."""
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]

LogitsFn = Callable[[TokenArray], FloatArray]
"""Maps int64 tokens [B, N] (mask id where unknown) to float32 logits [B, N, V]."""

SideInputs = Mapping[str, FloatArray]
"""Per-window float arrays a model reads beside the tokens (no batch axis), by input name:
the motion model's kept frames, say. The codec makes them; the runtime repeats them per row."""

SCHEDULES = ("cosine", "arccos", "linear")
SELECTORS = ("confidence", "halton", "dilated", "random")


@dataclass(frozen=True)
class SamplerSettings:
    """Everything the user can choose about one generation.

    ``choice_temperature`` scales the Gumbel noise added to confidences when
    choosing which positions to keep (MaskGIT); it anneals linearly to 0.
    ``remask_fraction`` re-masks that fraction of already generated editable
    tokens on each later step (Coconet/ReMDM style); 0 disables it.
    ``guidance_scale`` is classifier-free guidance; 0 disables it and it only
    applies when an unconditional logits function is given.
    """

    steps: int = 12
    schedule: str = "cosine"
    selector: str = "confidence"
    temperature: float = 1.0
    choice_temperature: float = 4.5
    top_k: int = 0
    remask_fraction: float = 0.0
    guidance_scale: float = 0.0
    seed: int = 0
    variations: int = 1


@dataclass(frozen=True)
class Step:
    """What the sampler knows after one iteration; arrays are fresh copies.

    ``confidence`` is +inf for tokens outside the editable mask, the chosen
    token's probability for decided tokens and 0 for still-masked ones.
    """

    index: int  # 1-based
    total: int
    tokens: TokenArray  # [B, N]; mask id where still masked
    still_masked: BoolArray  # [B, N]
    confidence: FloatArray  # [B, N]

    @property
    def done(self) -> bool:
        return self.index == self.total
