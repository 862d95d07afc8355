"""Pick the chorale model's sampling defaults by measuring a few settings on test windows.

Two edits users make: repaint two bars of all four voices (steps T/4..T/2 of a window) and
harmonise a given soprano (alto, tenor and bass over the whole window). For each setting
we report how often the repainted cells equal Bach's (``match``), and the note-change rate
of the repainted cells relative to Bach's (``onsets``; 1.0 = as busy as Bach, lower = the
sampler holds notes too long, higher = it jitters).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from engine.sampling import sample
from engine.sampling.types import SamplerSettings
from engine.train.midi import data as cd
from engine.train.midi.evaluate import LogitsFn

CANDIDATES: dict[str, SamplerSettings] = {
    "confidence, no noise": SamplerSettings(steps=16, choice_temperature=0.0),
    "confidence, choice noise 2": SamplerSettings(steps=16, choice_temperature=2.0),
    "confidence, choice noise 4.5": SamplerSettings(steps=16, choice_temperature=4.5),
    "confidence, noise 2, T 0.8": SamplerSettings(
        steps=16, choice_temperature=2.0, temperature=0.8
    ),
    "random order (ancestral)": SamplerSettings(steps=16, selector="random"),
}


@dataclass(frozen=True)
class SamplingScore:
    name: str
    task: str
    match: float
    onsets: float


def _tasks(steps: int) -> dict[str, npt.NDArray[np.bool_]]:
    bars = np.zeros((4, steps), dtype=bool)
    bars[:, steps // 4 : steps // 2] = True  # bars 3-4 of a 128-step window
    harmonise = np.zeros((4, steps), dtype=bool)
    harmonise[1:, :] = True
    return {"repaint 2 bars x 4 voices": bars, "harmonise soprano": harmonise}


def _onset_rate(grid: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> float:
    """Share of masked cells (after the first step) whose token differs from the step before."""
    change = grid[..., 1:] != grid[..., :-1]
    return float(change[..., mask[:, 1:]].mean())


def measure(
    logits_fn: LogitsFn, windows: npt.NDArray[np.int64], seed: int = 0
) -> list[SamplingScore]:
    """Score every candidate on every task; windows [W, 4, T] (full windows, no padding)."""
    count, _, steps = windows.shape
    scores = []
    for task, mask in _tasks(steps).items():
        editable = np.broadcast_to(mask.reshape(-1), (count, mask.size)).copy()
        flat = windows.reshape(count, -1)
        truth_rate = _onset_rate(windows, mask)
        for name, settings in CANDIDATES.items():
            run = replace(settings, seed=seed, variations=count)
            final = list(sample(logits_fn, flat, editable, cd.MASK_ID, run, (4, steps)))[-1]
            out = final.tokens.reshape(count, 4, steps)
            match = float((out[:, mask] == windows[:, mask]).mean())
            scores.append(SamplingScore(name, task, match, _onset_rate(out, mask) / truth_rate))
    return scores


def score_table(scores: list[SamplingScore]) -> str:
    lines = ["| setting | task | match Bach | onsets vs Bach |", "|---|---|---|---|"]
    lines += [f"| {s.name} | {s.task} | {s.match:.3f} | {s.onsets:.2f} |" for s in scores]
    return "\n".join(lines)


def test_windows(data_dir: object, steps: int, count: int = 48) -> npt.NDArray[np.int64]:
    """The first full window of the first ``count`` test pieces."""
    pieces = cd.load_split(data_dir, "test")  # type: ignore[arg-type]
    return np.stack([p[:, :steps] for p in pieces if p.shape[1] >= steps][:count])


def choose(scores: list[SamplingScore]) -> str:
    """The candidate with the best mean match whose onset rate stays within 25 % of Bach's
    on every task (a sampler that only holds notes scores well on match and sounds dead);
    if none qualifies, the one whose onset rate is closest to Bach's."""
    names = list(dict.fromkeys(s.name for s in scores))

    def mean_match(name: str) -> float:
        return float(np.mean([s.match for s in scores if s.name == name]))

    def worst_onsets(name: str) -> float:
        return max(abs(np.log(max(s.onsets, 1e-6))) for s in scores if s.name == name)

    lively = [n for n in names if worst_onsets(n) <= np.log(1.25)]
    if lively:
        return max(lively, key=mean_match)
    return min(names, key=worst_onsets)


def manifest_sampling(name: str) -> dict[str, object]:
    """The manifest ``sampling`` block for a candidate."""
    s = CANDIDATES[name]
    return {
        "steps": s.steps,
        "schedule": s.schedule,
        "selector": s.selector,
        "temperature": s.temperature,
        "choice_temperature": s.choice_temperature,
        "top_k": s.top_k,
        "remask_fraction": s.remask_fraction,
    }
