"""``remask-train midi-eval``: repaint held-out pieces part by part and measure them in one run.

Pieces of several meters and part counts from music21's corpus (string
quartets, Monteverdi madrigals, a Joplin rag: evaluation material, never
training data) are written to MIDI by :mod:`engine.train.midi.corpus_midi`.
In each piece, regions of :data:`REGION_BARS` bars, spread evenly over the
bars of its main meter, each repaint one part (cycling through the parts), and
every method fills the same regions:

* ``model+ranges`` - the shipped model as the app runs it (ranges enforced);
* ``model`` - the same model and seeds without range enforcement;
* ``copy-bar`` - the part's previous bar repeated;
* ``hold`` - the part's last note before the region held through it;
* ``grid-ceiling`` - the original part as a grid without onsets can hold it
  (equal neighbours merged): the best notes-per-beat the current model can reach;
* ``original`` - the part as written.

Figures are pooled per (meter, part count) group (:mod:`part_metrics`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.media.midi import (
    Part,
    Score,
    TimeGrid,
    find_parts,
    load_score,
    region_mask,
    repaint,
    resolve_voices,
    time_grid,
)
from engine.media.midi.repaint import MidiModelFacts
from engine.sampling.types import LogitsFn, SamplerSettings
from engine.train.midi.corpus_midi import write_corpus_piece
from engine.train.midi.part_metrics import (
    NoteSpan,
    RegionContext,
    RegionCounts,
    cut,
    merged_on_grid,
    region_counts,
    shares,
)

PIECES = (
    "haydn/opus74no1/movement3",
    "beethoven/opus18no1/movement3",
    "mozart/k155/movement1",
    "haydn/opus74no1/movement1",
    "mozart/k458/movement1",
    "haydn/opus1no1/movement1",
    "beethoven/opus18no1/movement2",
    "monteverdi/madrigal.3.1",
    "monteverdi/madrigal.3.2",
    "monteverdi/madrigal.3.3",
    "joplin/maple_leaf_rag",
)
"""Held-out pieces: 3/4, 2/4, 4/4, 6/8 and 9/8 quartets, five-part madrigals, a two-staff rag."""
METHODS = ("model+ranges", "model", "copy-bar", "hold", "grid-ceiling", "original")
REGION_BARS = 2


@dataclass(frozen=True)
class Region:
    """Bars ``first..first + REGION_BARS - 1`` (score numbers) of part ``part`` (index)."""

    first: int
    part: int


def part_notes(score: Score, part: Part) -> list[NoteSpan]:
    return [
        (score.notes[i].start, score.notes[i].end, score.notes[i].pitch) for i in part.note_indices
    ]


def candidate_bars(grid: TimeGrid) -> list[int]:
    """Bar indices that start a region: it and the bar before have the main length."""
    lengths = np.diff([*grid.bar_steps, grid.n_steps])
    main = Counter(lengths.tolist()).most_common(1)[0][0]
    return [
        i
        for i in range(2, grid.n_bars - REGION_BARS)
        if all(lengths[j] == main for j in range(i - 1, i + REGION_BARS))
    ]


def choose_regions(score: Score, grid: TimeGrid, parts: Sequence[Part], count: int) -> list[Region]:
    """``count`` regions spread evenly; region k repaints part ``k mod n`` where it sounds."""
    bars = candidate_bars(grid)
    regions = []
    for k, index in enumerate(
        np.linspace(0, len(bars) - 1, count).round().astype(int) if bars else []
    ):
        start = bars[int(index)]
        part = k % len(parts)
        lo, hi = grid.bar_steps[start], grid.bar_steps[start + REGION_BARS]
        notes = cut(part_notes(score, parts[part]), grid.tick(lo), grid.tick(hi))
        if sum(e - s for s, e, _ in notes) >= 0.25 * (grid.tick(hi) - grid.tick(lo)):
            regions.append(Region(grid.bar_number(start), part))
    return regions


def region_context(
    score: Score, grid: TimeGrid, parts: Sequence[Part], region: Region
) -> RegionContext:
    lo_step, hi_step = grid.bars_to_steps(region.first, region.first + REGION_BARS - 1)
    lo, hi = grid.tick(lo_step), grid.tick(hi_step)
    notes = [part_notes(score, p) for p in parts]
    k = region.part
    own = [p for _, _, p in notes[k]]
    return RegionContext(
        lo,
        hi,
        grid.ticks_per_beat / grid.steps_per_quarter,
        tuple(tuple(cut(n, lo, hi)) for i, n in enumerate(notes) if i != k),
        tuple(cut(notes[k - 1], lo, hi)) if k > 0 else None,
        tuple(cut(notes[k + 1], lo, hi)) if k + 1 < len(parts) else None,
        min(own),
        max(own),
    )


def copy_previous_bar(score: Score, grid: TimeGrid, part: Part, region: Region) -> list[NoteSpan]:
    """Each bar of the region gets the part's bar before the region, shifted."""
    index = region.first - grid.first_bar
    prev_lo, prev_hi = grid.tick(grid.bar_steps[index - 1]), grid.tick(grid.bar_steps[index])
    source = cut(part_notes(score, part), prev_lo, prev_hi)
    out: list[NoteSpan] = []
    for bar in range(index, index + REGION_BARS):
        lo, hi = grid.tick(grid.bar_steps[bar]), grid.tick(grid.bar_steps[bar + 1])
        out += cut([(s + lo - prev_lo, e + lo - prev_lo, p) for s, e, p in source], lo, hi)
    return out


def hold_last_note(score: Score, part: Part, context: RegionContext) -> list[NoteSpan]:
    before = [n for n in part_notes(score, part) if n[0] < context.lo]
    if not before:
        return []
    pitch = max(before, key=lambda n: n[0])[2]
    return [(context.lo, context.hi, pitch)]


def model_notes(
    score: Score,
    grid: TimeGrid,
    part: Part,
    region: Region,
    run: Callable[[Score, Any, Any, bool], Score],
    enforce: bool,
) -> list[NoteSpan]:
    """The part's notes in the region after the model repainted it (``run`` repaints)."""
    lo, hi = grid.bars_to_steps(region.first, region.first + REGION_BARS - 1)
    span = (grid.tick(lo), grid.tick(hi))
    mapping, voices = resolve_voices(score, [str(part.number)], span)
    mask = region_mask(grid, (region.first, region.first + REGION_BARS - 1), voices)
    result = run(score, mask, mapping, enforce)
    own = [(n.start, n.end, n.pitch) for n in result.notes if _in_part(n.track, n.channel, part)]
    return cut(own, *span)


def _in_part(track: int, channel: int, part: Part) -> bool:
    return track == part.track and (part.channel is None or channel == part.channel)


def method_notes(
    method: str,
    score: Score,
    grid: TimeGrid,
    parts: Sequence[Part],
    region: Region,
    context: RegionContext,
    run: Callable[[Score, Any, Any, bool], Score],
) -> list[NoteSpan]:
    part = parts[region.part]
    original = cut(part_notes(score, part), context.lo, context.hi)
    if method == "original":
        return original
    if method == "grid-ceiling":
        return merged_on_grid(original, context.lo, context.hi, context.step_ticks)
    if method == "hold":
        return hold_last_note(score, part, context)
    if method == "copy-bar":
        return copy_previous_bar(score, grid, part, region)
    return model_notes(score, grid, part, region, run, method == "model+ranges")


def meter_label(score: Score, tick: int) -> str:
    signature = [s for s in score.time_signatures if s.tick <= tick][-1]
    return f"{signature.numerator}/{signature.denominator}"


def evaluate_piece(
    score: Score, regions_per_piece: int, run: Callable[[Score, Any, Any, bool], Score]
) -> dict[tuple[str, int, str], RegionCounts]:
    """Counts per (meter, part count, method) over the piece's regions."""
    grid, parts = time_grid(score), find_parts(score)
    totals: dict[tuple[str, int, str], RegionCounts] = defaultdict(RegionCounts)
    for region in choose_regions(score, grid, parts, regions_per_piece):
        context = region_context(score, grid, parts, region)
        group = (meter_label(score, context.lo), len(parts))
        for method in METHODS:
            notes = method_notes(method, score, grid, parts, region, context, run)
            counts = region_counts(notes, context, new=method != "original")
            totals[(*group, method)] = totals[(*group, method)] + counts
    return totals


def repaint_runner(
    logits_fn: LogitsFn, manifest: MidiModelFacts, settings: SamplerSettings
) -> Callable[[Score, Any, Any, bool], Score]:
    """One repaint (first variation) with or without range enforcement."""

    def run(score: Score, mask: Any, mapping: Any, enforce: bool) -> Score:
        results = repaint(
            score, mask, logits_fn, manifest, settings, mapping=mapping, enforce_ranges=enforce
        )
        return results[0]

    return run


def table(totals: dict[tuple[str, int, str], RegionCounts]) -> tuple[str, list[dict[str, Any]]]:
    """A markdown table (one row per group and method) and the same rows as dicts."""
    groups = sorted({(m, n) for m, n, _ in totals}, key=lambda g: (g[1], g[0]))
    rows: list[dict[str, Any]] = []
    lines = [
        "| meter | parts | method | regions' notes | notes/beat ratio | sounding | dissonance | "
        "out of range | crossing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for meter, n_parts in [*groups, ("all", 0)]:
        picked = {
            method: sum(
                (
                    c
                    for (m, n, me), c in totals.items()
                    if me == method and (meter == "all" or (m, n) == (meter, n_parts))
                ),
                RegionCounts(),
            )
            for method in METHODS
        }
        for method in METHODS:
            figures = shares(picked[method], picked["original"])
            rows.append(
                {
                    "meter": meter,
                    "parts": n_parts,
                    "method": method,
                    "notes": picked[method].notes,
                    **figures,
                }
            )
            lines.append(
                f"| {meter} | {n_parts or 'all'} | {method} | {picked[method].notes} | "
                + " | ".join(_fmt(figures[k], k) for k in figures)
                + " |"
            )
    return "\n".join(lines), rows


def _fmt(value: float, key: str) -> str:
    if np.isnan(value):
        return "–"
    return f"{value:.2f}" if key == "notes_per_beat_ratio" else f"{100 * value:.1f} %"


def run_evaluation(
    pieces: Sequence[str],
    regions_per_piece: int,
    run: Callable[[Score, Any, Any, bool], Score],
    work: Path,
    log: Callable[[str], None] = print,
) -> dict[tuple[str, int, str], RegionCounts]:
    """Every piece's counts summed by (meter, part count, method)."""
    totals: dict[tuple[str, int, str], RegionCounts] = defaultdict(RegionCounts)
    for name in pieces:
        path = write_corpus_piece(name, work / (name.replace("/", "_") + ".mid"))
        piece = evaluate_piece(load_score(path), regions_per_piece, run)
        for key, counts in piece.items():
            totals[key] = totals[key] + counts
        notes = sum(c.notes for k, c in piece.items() if k[2] == "original")
        log(f"{name}: {notes} original notes in its regions")
    return totals


def write_report(totals: dict[tuple[str, int, str], RegionCounts], path: Path | None) -> str:
    text, rows = table(totals)
    if path is not None:
        path.write_text(json.dumps(rows, indent=2) + "\n")
    return text
