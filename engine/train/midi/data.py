"""JSB chorales as Coconet-style SATB token grids, windows and training masks (numpy only).

Token contract (shared with ``engine/media/midi.py``): 4 voices, row 0 = soprano; token =
MIDI pitch - 28 for pitches 28..93, 66 = rest, 67 = mask. A grid is int64 ``[4, T]`` and
is flattened voice-major (index = v * T + t) for the transformer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

VOICES = ("soprano", "alto", "tenor", "bass")
PITCH_MIN = 28
PITCH_MAX = 93
REST_TOKEN = PITCH_MAX - PITCH_MIN + 1  # 66
VOCAB_SIZE = REST_TOKEN + 1  # 67
MASK_ID = VOCAB_SIZE  # 67
STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
NPZ_NAME = "Jsb16thSeparated.npz"

IntGrid = npt.NDArray[np.int64]
BoolGrid = npt.NDArray[np.bool_]


def default_data_dir() -> Path:
    """``<repo>/../shared/data`` (the staged, never-copied training data)."""
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def npz_path(data_dir: Path) -> Path:
    """Accept the data root, the chorale folder or the npz file itself."""
    data_dir = Path(data_dir)
    for cand in (data_dir, data_dir / NPZ_NAME, data_dir / "music" / "jsb_chorales" / NPZ_NAME):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"{NPZ_NAME} not found under {data_dir}")


def pitches_to_tokens(piece: npt.NDArray[np.floating]) -> IntGrid:
    """(L, 4) float MIDI pitches (NaN = rest) -> int64 tokens [4, L]."""
    grid = np.asarray(piece, dtype=np.float64).T
    rest = np.isnan(grid)
    pitches = np.where(rest, PITCH_MIN, grid).round().astype(np.int64)
    if ((pitches < PITCH_MIN) | (pitches > PITCH_MAX)).any():
        raise ValueError("pitch outside 28..93")
    return np.where(rest, REST_TOKEN, pitches - PITCH_MIN)


def load_split(data_dir: Path, split: str) -> list[IntGrid]:
    """Token grids [4, L] of one split ("train", "valid" or "test")."""
    data = np.load(npz_path(data_dir), allow_pickle=True, encoding="latin1")
    return [pitches_to_tokens(p) for p in data[split]]


def transpose(grid: IntGrid, shift: int) -> IntGrid:
    """Shift pitch tokens by ``shift`` semitones; rests stay rests."""
    is_pitch = grid < REST_TOKEN
    return np.where(is_pitch, grid + shift, grid)


def legal_shifts(grid: IntGrid, max_shift: int) -> list[int]:
    """Shifts in [-max_shift, max_shift] that keep every pitch inside 28..93."""
    pitches = grid[grid < REST_TOKEN]
    if pitches.size == 0:
        return [0]
    lo, hi = int(pitches.min()), int(pitches.max())
    return [s for s in range(-max_shift, max_shift + 1) if lo + s >= 0 and hi + s < REST_TOKEN]


@dataclass(frozen=True)
class WindowSampler:
    """Random training windows [4, T] plus a ``padding`` mask (cells after the piece's end).

    Starts are multiples of a quarter note (the data carries no bar lines, so only the
    position inside a quarter is reliable); with ``pad_prob`` a window shows the piece's
    last ``T/2 .. T-1`` steps followed by rests, which are never masked.
    """

    pieces: list[IntGrid]
    steps: int
    max_shift: int = 6
    pad_prob: float = 0.1

    def sample(self, rng: np.random.Generator) -> tuple[IntGrid, BoolGrid]:
        piece = self.pieces[rng.integers(len(self.pieces))]
        length = piece.shape[1]
        steps = self.steps
        if length < steps or rng.random() < self.pad_prob:
            keep = min(length, int(rng.integers(steps // 2, steps)))
            keep -= keep % STEPS_PER_QUARTER if keep > STEPS_PER_QUARTER else 0
            window = np.full((4, steps), REST_TOKEN, dtype=np.int64)
            window[:, :keep] = piece[:, length - keep :]
            padding = np.zeros((4, steps), dtype=bool)
            padding[:, keep:] = True
        else:
            start = int(rng.integers((length - steps) // STEPS_PER_QUARTER + 1)) * STEPS_PER_QUARTER
            window = piece[:, start : start + steps].copy()
            padding = np.zeros((4, steps), dtype=bool)
        shift = int(rng.choice(legal_shifts(window, self.max_shift)))
        return transpose(window, shift), padding


def random_mask(rng: np.random.Generator, steps: int, frame_share: float = 0.0) -> BoolGrid:
    """A training mask [4, T]: Coconet's uniform rate most often, else bar/voice blocks.

    With ``frame_share`` f, a share f of masks are ``frame_mask``s; the rest are drawn as:
    60 %: each cell masked with probability r ~ U(0, 1] (orderless NADE).
    25 %: a random voice subset masked over a span of whole quarters (users repaint
          voices over bars), plus a light uniform sprinkle elsewhere.
    15 %: one to three bar blocks (16 steps) over all voices or a voice subset.
    """
    if frame_share > 0.0 and rng.random() < frame_share:
        return frame_mask(rng, steps)
    kind = rng.random()
    if kind < 0.6:
        rate = 1.0 - rng.random()  # (0, 1]
        mask = rng.random((4, steps)) < rate
    elif kind < 0.85:
        mask = rng.random((4, steps)) < 0.2 * rng.random()
        voices = rng.random(4) < 0.5
        voices[rng.integers(4)] = True
        quarters = steps // STEPS_PER_QUARTER
        a = int(rng.integers(quarters)) * STEPS_PER_QUARTER
        b = int(rng.integers(a // STEPS_PER_QUARTER + 1, quarters + 1)) * STEPS_PER_QUARTER
        mask[np.ix_(voices, np.arange(a, b))] = True
    else:
        mask = np.zeros((4, steps), dtype=bool)
        bars = max(1, steps // STEPS_PER_BAR)
        for _ in range(int(rng.integers(1, 4))):
            voices = rng.random(4) < 0.6 if rng.random() < 0.5 else np.ones(4, dtype=bool)
            voices[rng.integers(4)] = True
            bar = int(rng.integers(bars)) * STEPS_PER_BAR
            mask[voices, bar : bar + STEPS_PER_BAR] = True
    if not mask.any():
        mask[rng.integers(4), rng.integers(steps)] = True
    return mask


def frame_mask(rng: np.random.Generator, steps: int, partial_prob: float = 0.25) -> BoolGrid:
    """Whole frames (all four voices of a step) masked with probability r ~ U(0, 1].

    This is the context Coconet's framewise evaluation gives the model: some frames known
    outright, the others unknown, and the frame being predicted partly filled in. So each
    masked frame, with ``partial_prob``, shows a random proper subset of its voices (0 to 3
    of them, the count uniform). At least one cell is masked.
    """
    rate = 1.0 - rng.random()  # (0, 1]
    masked_frames = rng.random(steps) < rate
    if not masked_frames.any():
        masked_frames[rng.integers(steps)] = True
    mask = np.repeat(masked_frames[None, :], 4, axis=0)
    for t in np.flatnonzero(masked_frames & (rng.random(steps) < partial_prob)):
        shown = rng.permutation(4)[: int(rng.integers(4))]
        mask[shown, t] = False
    return mask


def training_batch(
    sampler: WindowSampler, rng: np.random.Generator, batch: int, frame_share: float = 0.0
) -> tuple[IntGrid, IntGrid, BoolGrid]:
    """``(inputs, targets, loss_mask)``, each [B, 4*T] voice-major; inputs hold MASK_ID.

    ``frame_share``: the share of masks that are ``frame_mask``s (see ``random_mask``)."""
    steps = sampler.steps
    targets = np.empty((batch, 4, steps), dtype=np.int64)
    masks = np.empty((batch, 4, steps), dtype=bool)
    for i in range(batch):
        window, padding = sampler.sample(rng)
        mask = random_mask(rng, steps, frame_share) & ~padding
        if not mask.any():
            free = np.argwhere(~padding)
            v, t = free[rng.integers(len(free))]
            mask[v, t] = True
        targets[i], masks[i] = window, mask
    inputs = np.where(masks, MASK_ID, targets)
    return inputs.reshape(batch, -1), targets.reshape(batch, -1), masks.reshape(batch, -1)


def tile_pieces(pieces: list[IntGrid], steps: int) -> tuple[IntGrid, BoolGrid]:
    """Cut pieces into consecutive non-overlapping windows [W, 4, T] for evaluation.

    The last window of a piece is right-padded with rests; ``scored`` [W, 4, T] is False
    there (padding is given as context and never counted).
    """
    windows, scored = [], []
    for piece in pieces:
        length = piece.shape[1]
        for start in range(0, length, steps):
            chunk = piece[:, start : start + steps]
            window = np.full((4, steps), REST_TOKEN, dtype=np.int64)
            window[:, : chunk.shape[1]] = chunk
            valid = np.zeros((4, steps), dtype=bool)
            valid[:, : chunk.shape[1]] = True
            windows.append(window)
            scored.append(valid)
    return np.stack(windows), np.stack(scored)
