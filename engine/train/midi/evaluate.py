"""Orderless-NADE negative log-likelihood of the JSB test split (Coconet's measure).

For each test window every scored cell is revealed in a random order, ``group`` cells per
model call; the model sees the cells revealed so far (and right-padding rests, never scored)
and we add ``-log p(true value)`` of each newly revealed cell. With ``group == 1`` this is
Coconet's ancestral (orderless NADE) estimate of -log p(piece); a larger group is cheaper and
slightly pessimistic, because cells revealed together do not condition on each other.
The estimate is averaged over ``orderings`` random orderings.

``framewise_nll`` is the estimator of Coconet's own evaluation code (its ``FrameEvaluator``
wrapped in ``EnsemblingEvaluator``), the one behind the paper's framewise figures, so that our
number and theirs are measured the same way: see its docstring for how it differs from the
cell-level chain above.

Works on any logits function (torch module or the shipped ONNX file), numpy in, numpy out.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.train.midi import data as cd

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


@dataclass(frozen=True)
class FramewiseResult:
    nats_per_frame: float  # Coconet's figure: orderings ensembled per frame in probability space
    nats_per_frame_log_mean: float  # the same orderings averaged in log space
    nats_per_frame_piece_mean: float  # ensembled, averaged per piece first (Coconet's "example")
    nats_per_frame_each: tuple[float, ...]  # one per ordering
    frames: int
    pieces: int
    orderings: int
    context_steps: int
    seconds: float
    # Standard errors with pieces as the unit (frames of one piece are not independent):
    # of nats_per_frame (a ratio estimate over pieces) and of nats_per_frame_piece_mean.
    stderr_over_pieces: float = float("nan")
    stderr_piece_mean: float = float("nan")
    temperature: float = 1.0  # the model's logits were divided by this before the softmax
    transpositions: int = 0  # N > 0: the model averaged over key shifts -N..N (see below)
    rests_scored: bool = True  # False: a rest cell counts 0 nats, as in Coconet's code
    # Coconet's own error (lib_evaluation._stats): std / sqrt(n) with every frame a unit.
    stderr_frames_as_units: float = float("nan")


def frame_window_starts(length: int, steps: int) -> npt.NDArray[np.int64]:
    """First step of the window the model sees when predicting each frame of a piece.

    The window is centred on the frame, starts on a quarter note (training windows do, and the
    beat embedding counts from the window start) and stays inside the piece.
    """
    frames = np.arange(length)
    starts = (frames - steps // 2) // cd.STEPS_PER_QUARTER * cd.STEPS_PER_QUARTER
    return np.clip(starts, 0, max(length - steps, 0)).astype(np.int64)


def _frame_rows(
    piece: cd.IntGrid, steps: int, rng: np.random.Generator
) -> tuple[cd.IntGrid, cd.IntGrid, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """One model row per frame of ``piece`` for one random frame ordering.

    Returns (tokens [L, 4, steps] with every frame not yet revealed masked, the true windows,
    each frame's column inside its window, each frame's random voice order [L, 4]).
    """
    length = piece.shape[1]
    if length < steps:  # right-pad with rests, visible from the start and never scored
        pad = np.full((4, steps - length), cd.REST_TOKEN, dtype=np.int64)
        piece = np.concatenate([piece, pad], axis=1)
    rank = np.full(piece.shape[1], -1, dtype=np.int64)
    rank[rng.permutation(length)] = np.arange(length)
    starts = frame_window_starts(piece.shape[1], steps)[:length]
    columns = starts[:, None] + np.arange(steps)[None, :]  # [L, steps]
    truth = piece[:, columns].transpose(1, 0, 2)  # [L, 4, steps]
    hidden = rank[columns] >= rank[:length, None]  # this frame and the ones revealed later
    tokens = np.where(hidden[:, None, :], cd.MASK_ID, truth)
    voice_order = np.argsort(rng.random((length, 4)), axis=1)
    return tokens, truth, np.arange(length) - starts, voice_order


def framewise_lls(
    logits_fn: LogitsFn,
    pieces: list[cd.IntGrid],
    steps: int,
    rng: np.random.Generator,
    batch: int = 64,
    temperatures: Sequence[float] = (1.0,),
    score_rests: bool = True,
) -> npt.NDArray[np.float64]:
    """Log-likelihood of every frame of ``pieces`` (concatenated) for one random ordering.

    As Coconet's ``FrameEvaluator``: frames are revealed in random order; a frame is judged on
    all four voices, taken in random order, each predicted after the earlier voices of the same
    frame were filled with the model's own argmax (not the truth), the earlier frames being the
    truth. One model row per frame, all rows of all pieces batched together.
    Returns [len(temperatures), frames]: the argmax fill does not depend on a temperature, so
    one pass scores the model at every temperature (logits / T). ``score_rests=False`` counts
    a rest as 0 nats, as Coconet's code does (a rest is an empty pitch vector there).
    """
    parts = [_frame_rows(piece, steps, rng) for piece in pieces]
    tokens = np.concatenate([p[0] for p in parts])
    truth = np.concatenate([p[1] for p in parts])
    column = np.concatenate([p[2] for p in parts])
    voice_order = np.concatenate([p[3] for p in parts])
    lls = np.zeros((len(temperatures), len(tokens)), dtype=np.float64)
    for slot in range(4):
        for lo in range(0, len(tokens), batch):
            rows = np.arange(lo, min(lo + batch, len(tokens)))
            voice, col = voice_order[rows, slot], column[rows]
            flat = tokens[rows].reshape(len(rows), -1)
            frame_logits = cell_logits(logits_fn, flat, voice * steps + col)  # [B, V]
            true_token = truth[rows, voice, col]
            scored = score_rests | (true_token != cd.REST_TOKEN)
            for i, temperature in enumerate(temperatures):
                logp = _log_softmax(frame_logits / np.float32(temperature))
                lls[i, rows] += np.where(scored, logp[np.arange(len(rows)), true_token], 0.0)
            tokens[rows, voice, col] = frame_logits.argmax(-1)
    return lls


def framewise_nll(
    logits_fn: LogitsFn,
    pieces: list[cd.IntGrid],
    steps: int,
    orderings: int = 5,
    seed: int = 0,
    batch: int = 64,
    log: Callable[[str], None] | None = None,
) -> FramewiseResult:
    """Coconet's framewise NLL, ensembled over ``orderings`` like its published numbers.

    Each frame's likelihood is averaged over the orderings in probability space (Coconet's
    ``EnsemblingEvaluator``: logsumexp over orderings minus log M, per frame), then -log is
    averaged over all frames. This is not a bound on -log p(piece): per-frame averaging lets
    each frame keep the ordering that happened to reveal it late, and the in-frame argmax
    fill is not the chain rule. It is the measure Coconet's table reports, so it is the one
    to put beside it; ``orderless_nll`` stays the proper chain-rule estimate.
    Unlike Coconet (a convolution over the whole piece), the model sees a window of
    ``steps`` around each frame; rests are scored like pitches (Coconet's code counts 0 for
    them: ``framewise_scan(..., score_rests=False)``). ``log`` hears one line per ordering
    (a CPU run takes minutes per ordering).
    """
    return framewise_scan(logits_fn, pieces, steps, (1.0,), orderings, seed, batch, log)[0]


def framewise_scan(
    logits_fn: LogitsFn,
    pieces: list[cd.IntGrid],
    steps: int,
    temperatures: Sequence[float],
    orderings: int = 5,
    seed: int = 0,
    batch: int = 64,
    log: Callable[[str], None] | None = None,
    score_rests: bool = True,
) -> list[FramewiseResult]:
    """``framewise_nll`` at each of ``temperatures`` from one pass (same orderings for all).

    A temperature is a calibration of the model (logits / T), to be chosen on the valid split.
    """
    start = time.monotonic()
    rng = np.random.default_rng(seed)
    runs = []
    for k in range(orderings):
        runs.append(framewise_lls(logits_fn, pieces, steps, rng, batch, temperatures, score_rests))
        if log is not None:
            alone = ", ".join(f"{-x:.4f}" for x in runs[-1].mean(axis=1))
            log(
                f"ordering {k + 1}/{orderings}: {alone} nats/frame alone "
                f"({time.monotonic() - start:.0f} s)"
            )
    seconds = round(time.monotonic() - start, 1)
    lls = np.stack(runs, axis=1)  # [temperatures, orderings, frames]
    lengths = [piece.shape[1] for piece in pieces]
    return [
        _framewise_result(lls[i], lengths, steps, float(t), seconds, score_rests)
        for i, t in enumerate(temperatures)
    ]


def _framewise_result(
    lls: npt.NDArray[np.float64],
    lengths: list[int],
    steps: int,
    temperature: float,
    seconds: float,
    rests_scored: bool,
) -> FramewiseResult:
    """Ensemble [orderings, frames] log-likelihoods per frame; averages and their errors."""
    orderings = lls.shape[0]
    nll = -(np.logaddexp.reduce(lls, axis=0) - math.log(orderings))
    piece_sums = np.array([x.sum() for x in np.split(nll, np.cumsum(lengths)[:-1])])
    sizes = np.asarray(lengths, dtype=np.float64)
    per_piece = piece_sums / sizes
    mean = float(nll.mean())
    return FramewiseResult(
        nats_per_frame=mean,
        nats_per_frame_log_mean=float(-lls.mean()),
        nats_per_frame_piece_mean=float(per_piece.mean()),
        nats_per_frame_each=tuple(round(float(-x), 4) for x in lls.mean(axis=1)),
        frames=lls.shape[1],
        pieces=len(lengths),
        orderings=orderings,
        context_steps=steps,
        seconds=seconds,
        stderr_over_pieces=ratio_stderr(piece_sums, sizes),
        stderr_piece_mean=float(per_piece.std(ddof=1) / math.sqrt(len(lengths)))
        if len(lengths) > 1
        else float("nan"),
        temperature=temperature,
        rests_scored=rests_scored,
        stderr_frames_as_units=float(nll.std() / math.sqrt(len(nll))),
    )


def ratio_stderr(sums: npt.NDArray[np.float64], sizes: npt.NDArray[np.float64]) -> float:
    """Standard error of sum(sums) / sum(sizes) with the pieces as independent units.

    The linearised (delta-method) error of a ratio estimate: frames of one piece share its
    key, its tempo of harmony and its window of context, so counting them as independent
    would understate the error.
    """
    n = len(sums)
    if n < 2:
        return float("nan")
    mean = sums.sum() / sizes.sum()
    residuals = sums - mean * sizes
    return float(math.sqrt(n / (n - 1) * (residuals**2).sum()) / sizes.sum())


def transposition_mixture(logits_fn: LogitsFn, shifts: Sequence[int]) -> LogitsFn:
    """The model averaged over key shifts in probability space: a test-time ensemble.

    Member ``k`` is shown the row with every visible pitch moved up ``k`` semitones and its
    answer is moved back down, so each member is the same network asked the same question in
    another key; a chorale moved by a semitone is still a chorale, the network's errors partly
    move with the key, and the average cancels some of them (as Coconet averages orderings).
    Each member is renormalised over the tokens it can still name after the move back; a
    member whose shift would push a visible pitch out of 28..93 sits that row out. Only the
    row's own visible cells decide that, so every conditional stays a proper distribution.
    Returns log-probabilities, which are valid logits. Costs one model call per shift.
    """
    members = tuple(sorted(set(int(k) for k in shifts)))
    if 0 not in members:
        raise ValueError(f"shifts must include 0 (the model as it is), got {list(shifts)}")
    if members == (0,):
        return logits_fn
    return KeyEnsemble(logits_fn, members)


@dataclass(frozen=True)
class KeyEnsemble:
    """``transposition_mixture``'s result; ``at`` mixes only the cells asked for, so the
    framewise estimator, which reads one cell per row, does not pay for all of them."""

    logits_fn: LogitsFn
    shifts: tuple[int, ...]

    def __call__(self, tokens: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        return self._mixed(tokens, None)

    def at(
        self, tokens: npt.NDArray[np.int64], cells: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        """Log-probabilities [B, V] of cell ``cells[b]`` of each row ``b``."""
        return self._mixed(tokens, cells)

    def _mixed(
        self, tokens: npt.NDArray[np.int64], cells: npt.NDArray[np.int64] | None
    ) -> npt.NDArray[np.float32]:
        rest = cd.REST_TOKEN
        is_pitch = tokens < rest  # MASK_ID lies above the rest token
        low = np.where(is_pitch, tokens, rest).min(axis=1)
        high = np.where(is_pitch, tokens, -1).max(axis=1)
        logps = []
        for k in self.shifts:
            legal = (low + k >= 0) & (high + k < rest)
            logits = self.logits_fn(np.where(is_pitch & legal[:, None], tokens + k, tokens))
            if cells is not None:
                logits = logits[np.arange(len(tokens)), cells]
            logps.append(_shifted_back(_log_softmax(logits), k, legal))
        stacked = np.stack(logps)  # [members, B, (N,) V]
        count = np.isfinite(stacked[..., rest]).sum(axis=0)  # legal members per row
        mixed = np.logaddexp.reduce(stacked, axis=0) - np.log(count)[..., None]
        return mixed.astype(np.float32)


def cell_logits(
    logits_fn: LogitsFn, tokens: npt.NDArray[np.int64], cells: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """Logits [B, V] of cell ``cells[b]`` of each row ``b`` (a key ensemble mixes only those)."""
    if isinstance(logits_fn, KeyEnsemble):
        return logits_fn.at(tokens, cells)
    return logits_fn(tokens)[np.arange(len(tokens)), cells]


def _shifted_back(
    logp: npt.NDArray[np.float64], shift: int, legal: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Member ``shift``'s log-probabilities in the original key, renormalised; -inf rows where
    the member sat out."""
    rest = cd.REST_TOKEN
    back = np.full_like(logp, -np.inf)
    pitches = np.arange(rest)
    named = (pitches + shift >= 0) & (pitches + shift < rest)
    back[..., pitches[named]] = logp[..., pitches[named] + shift]
    back[..., rest] = logp[..., rest]
    back -= np.logaddexp.reduce(back, axis=-1, keepdims=True)
    back[~legal] = -np.inf
    return back


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
    pieces = cd.load_split(data_dir, "test")
    return evaluate_pieces(logits_fn, pieces, steps, orderings, group, seed)


def evaluate_pieces(
    logits_fn: LogitsFn,
    pieces: list[cd.IntGrid],
    steps: int,
    orderings: int = 3,
    group: int = 4,
    seed: int = 0,
) -> NllResult:
    """Orderless-NADE NLL of ``pieces`` tiled into non-overlapping windows of ``steps``."""
    windows, scored = cd.tile_pieces(pieces, steps)
    return orderless_nll(logits_fn, windows, scored, orderings, group, seed)


def result_dict(result: NllResult) -> dict[str, object]:
    out = asdict(result)
    for key in ("nats_per_cell", "nats_per_frame", "std_per_cell_over_orderings"):
        out[key] = round(float(out[key]), 4)
    return out
