"""Orderless-NADE negative log-likelihood of the JSB test split (Coconet's measure).

For each test window every scored cell is revealed in a random order, ``group`` cells per
model call; the model sees the cells revealed so far (and right-padding rests, never scored)
and we add ``-log p(true value)`` of each newly revealed cell. With ``group == 1`` this is
Coconet's ancestral (orderless NADE) estimate of -log p(piece); a larger group is cheaper and
slightly pessimistic, because cells revealed together do not condition on each other.
The estimate is averaged over ``orderings`` random orderings.

Works on any logits function (torch module or the shipped ONNX file), numpy in, numpy out.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.train import chorale_data as cd

LogitsFn = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]

COCONET_REFERENCE = {
    "source": "Huang, Cooijmans, Roberts, Courville, Eck, 'Counterpoint by Convolution', "
    "ISMIR 2017",
}


@dataclass(frozen=True)
class NllResult:
    nats_per_cell: float  # per note: one voice at one sixteenth step
    nats_per_frame: float  # one sixteenth step, summed over the 4 voices
    std_per_cell_over_orderings: float
    cells: int
    windows: int
    orderings: int
    group: int
    seconds: float


def _log_softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    x = logits.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def one_ordering(
    logits_fn: LogitsFn,
    windows: npt.NDArray[np.int64],
    scored: npt.NDArray[np.bool_],
    group: int,
    rng: np.random.Generator,
    batch: int = 64,
) -> float:
    """Total NLL (nats) of all scored cells of ``windows`` [W, N] for one random ordering."""
    n_win, n_cells = windows.shape
    keys = np.where(scored, rng.random((n_win, n_cells)), np.inf)
    rank = np.empty_like(keys, dtype=np.int64)
    rank[np.arange(n_win)[:, None], np.argsort(keys, axis=1)] = np.arange(n_cells)
    rank[~scored] = -1  # padding is visible from the start
    total = 0.0
    n_steps = math.ceil(int(scored.sum(1).max()) / group)
    for step in range(n_steps):
        lo, hi = step * group, (step + 1) * group
        visible = ~scored | (rank < lo)
        current = np.where(visible, windows, cd.MASK_ID)
        active = np.flatnonzero(((rank >= lo) & (rank < hi)).any(1))
        for i in range(0, len(active), batch):
            rows = active[i : i + batch]
            reveal = (rank[rows] >= lo) & (rank[rows] < hi)
            logp = _log_softmax(logits_fn(current[rows])[reveal])  # [revealed, V]
            true_logp = np.take_along_axis(logp, windows[rows][reveal][:, None], axis=-1)
            total -= float(true_logp.sum())
    return total


def orderless_nll(
    logits_fn: LogitsFn,
    windows: npt.NDArray[np.int64],
    scored: npt.NDArray[np.bool_],
    orderings: int = 3,
    group: int = 4,
    seed: int = 0,
    batch: int = 64,
) -> NllResult:
    """Average the NLL over ``orderings`` random orderings; windows [W, 4, T] or [W, 4*T]."""
    start = time.monotonic()
    flat = windows.reshape(len(windows), -1)
    flat_scored = scored.reshape(len(scored), -1)
    cells = int(flat_scored.sum())
    rng = np.random.default_rng(seed)
    per_cell = [
        one_ordering(logits_fn, flat, flat_scored, group, rng, batch) / cells
        for _ in range(orderings)
    ]
    mean = float(np.mean(per_cell))
    return NllResult(
        nats_per_cell=mean,
        nats_per_frame=4.0 * mean,  # every scored step has all 4 voices scored
        std_per_cell_over_orderings=float(np.std(per_cell)),
        cells=cells,
        windows=len(flat),
        orderings=orderings,
        group=group,
        seconds=round(time.monotonic() - start, 1),
    )


def onnx_logits_fn(model_dir: Path, threads: int = 2) -> LogitsFn:
    import onnxruntime as ort

    manifest = json.loads((Path(model_dir) / "manifest.json").read_text())
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(Path(model_dir) / manifest["files"]["transformer"]),
        options,
        providers=["CPUExecutionProvider"],
    )

    def logits(tokens: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return session.run(["logits"], {"tokens": tokens.astype(np.int64)})[0]

    return logits


def evaluate_test_split(
    logits_fn: LogitsFn,
    data_dir: Path,
    steps: int,
    orderings: int = 3,
    group: int = 4,
    seed: int = 0,
) -> NllResult:
    """NLL on the JSB test split, pieces tiled into non-overlapping windows of ``steps``."""
    windows, scored = cd.tile_pieces(cd.load_split(data_dir, "test"), steps)
    return orderless_nll(logits_fn, windows, scored, orderings, group, seed)


def result_dict(result: NllResult) -> dict[str, object]:
    out = asdict(result)
    for key in ("nats_per_cell", "nats_per_frame", "std_per_cell_over_orderings"):
        out[key] = round(float(out[key]), 4)
    return out
