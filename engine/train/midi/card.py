"""The chorale model's sampling defaults, NLL table and MODEL_CARD.md."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from engine.train.common import is_int8
from engine.train.midi import data as cd
from engine.train.midi.chorale import ChoraleConfig, stage_summary
from engine.train.midi.evaluate import FramewiseResult, NllResult
from engine.train.model_card import write_card

DEFAULT_SAMPLING: dict[str, object] = {
    "steps": 16,
    "schedule": "cosine",
    "selector": "confidence",
    "temperature": 1.0,
    "choice_temperature": 2.0,
    "top_k": 0,
    "remask_fraction": 0.0,
}

COCONET_CITATION = (
    'C.-Z. A. Huang, T. Cooijmans, A. Roberts, A. Courville, D. Eck, "Counterpoint by '
    'Convolution", ISMIR 2017 (arXiv:1903.07227)'
)
COCONET_SETTING = (
    "Table 1: JSB chorales (the Jsb16thSeparated data), sixteenth-note grid, framewise NLL, "
    "random orderings, ensemble of M = 5 orderings; model trained on a GPU"
)
# (model, nats per note, nats per frame). The paper reports frames only; per note = /4.
COCONET_ROWS: list[tuple[str, str, str]] = [
    ("Coconet, random orderings", "~0.14 (0.57 / 4, derived)", "0.57 +- 0.01"),
]


def nll_table(
    result: NllResult | None, more: Sequence[tuple[str, NllResult]] = (), split: str = "test"
) -> str:
    """Markdown table: our test NLL (``more``: extra labelled rows) beside Coconet's figures."""
    lines = [
        "| model | setting | nats / note (cell) | nats / frame (16th step, 4 voices) |",
        "|---|---|---|---|",
    ]
    rows = ([("remask chorale-satb (this model)", result)] if result else []) + list(more)
    for label, row in rows:
        orderings = f"{row.orderings} random ordering{'s' if row.orderings > 1 else ''}"
        lines.append(
            f"| {label} | JSB {split} split, 16th grid, orderless NADE, "
            f"{orderings}, {_per_call(row.group)}, "
            f"{row.windows} windows, {row.cells} cells | {row.nats_per_cell:.3f} "
            f"(± {row.std_per_cell_over_orderings:.3f} over orderings) | "
            f"{row.nats_per_frame:.3f} |"
        )
    lines.append(
        f"| uniform guess over {cd.VOCAB_SIZE} tokens | - | {math.log(cd.VOCAB_SIZE):.3f} | "
        f"{4 * math.log(cd.VOCAB_SIZE):.3f} |"
    )
    for name, per_note, per_frame in COCONET_ROWS:
        lines.append(
            f"| {name} ({COCONET_CITATION}) | {COCONET_SETTING} | {per_note} | {per_frame} |"
        )
    return "\n".join(lines)


COCONET_FRAME_NLL = 0.57


def framewise_section(
    result: FramewiseResult | None,
    evaluated_on: str,
    more: Sequence[tuple[str, FramewiseResult]] = (),
) -> str:
    """The like-for-like comparison: Coconet's own estimator on our model, and the verdict.

    ``more``: labelled rows of earlier models measured the same way (same seed, so the same
    orderings)."""
    if result is None:
        return ""
    verdict = framewise_verdict(result)
    return f"""
### Measured the way Coconet measured it
Coconet's table comes from its own evaluation code (magenta's `coconet/lib_evaluation.py`:
`FrameEvaluator` inside `EnsemblingEvaluator`), which differs from the chain above in three
ways: frames (not cells) are revealed in random order; within a frame the four voices are
taken in random order, each predicted after the earlier voices *of the same frame* were filled
with the model's own argmax, not the truth; and the M = 5 orderings are ensembled *per frame*
in probability space (-log of the mean of the five probabilities of each frame), not per
piece. The last point makes it an optimistic measure, not a bound on -log p(piece): each frame
keeps whichever ordering revealed it late. `engine.train.midi.evaluate.framewise_nll` does the
same (tested frame by frame against a written-out reference); the model sees a
{result.context_steps}-step window around each frame instead of the whole piece (this
can only hide music from it; by how much was not measured), and rests are scored like
pitches (Coconet's code counts them as 0; they are 0.4 % of the test cells). Evaluated on
{evaluated_on}, {result.seconds} s. Coconet's code
keeps two averages, over all frames and per piece first; which one its table quotes we could
not read from here, so both are given: {result.nats_per_frame:.3f} over all frames,
{result.nats_per_frame_piece_mean:.3f} per piece first.{_frame_units_words(result)} The last
column, the same orderings averaged in log space, shows how much of the figure the per-frame
ensembling makes.

{framewise_table(result, more=more)}

{verdict}
"""


COCONET_FRAME_STDERR = 0.01


def _frame_units_words(result: FramewiseResult) -> str:
    """Our error computed as Coconet's code computes its own, for reading its +- 0.01."""
    if not math.isfinite(result.stderr_frames_as_units):
        return ""
    return (
        " Coconet's code computes its error as std / sqrt(n) with every frame (or piece) an "
        f"independent unit; so computed, ours over all frames is ± "
        f"{result.stderr_frames_as_units:.3f}."
    )


def framewise_verdict(result: FramewiseResult) -> str:
    """Below, level with or above Coconet, counting both figures' standard errors.

    Level means within two combined standard errors (ours over pieces, Coconet's +- 0.01);
    without our error (an old result) only Coconet's counts.
    """
    gap = result.nats_per_frame - COCONET_FRAME_NLL
    ours = result.stderr_over_pieces if math.isfinite(result.stderr_over_pieces) else 0.0
    margin = 2 * math.hypot(ours, COCONET_FRAME_STDERR)
    if gap < -margin:
        return (
            f"On this measure the model is **{-gap:.3f} nats per frame below Coconet's "
            f"{COCONET_FRAME_NLL:.2f}**, more than two combined standard errors ({margin:.3f})."
        )
    if gap <= margin:
        side = "below" if gap < 0 else "above"
        return (
            f"On this measure the model is {abs(gap):.3f} nats per frame {side} Coconet's "
            f"{COCONET_FRAME_NLL:.2f}, within two combined standard errors ({margin:.3f}): "
            "level with Coconet; it does **not** beat Coconet."
        )
    closeness = "close to it, but it" if gap < 0.1 else "it"
    return (
        f"On this measure the model is {gap:.2f} nats per frame above Coconet's "
        f"{COCONET_FRAME_NLL:.2f} (+- {COCONET_FRAME_STDERR}): {closeness} does **not** beat "
        "Coconet."
    )


def _with_stderr(value: float, stderr: float) -> str:
    return f"{value:.3f} ± {stderr:.3f}" if math.isfinite(stderr) else f"{value:.3f}"


def framewise_table(
    result: FramewiseResult,
    label: str = "remask chorale-satb",
    more: Sequence[tuple[str, FramewiseResult]] = (),
    split: str = "test",
) -> str:
    """Our number from Coconet's own estimator, beside Coconet's: the like-for-like rows."""
    lines = [
        "| model | setting | nats / frame, ensembled per frame | "
        "mean of the orderings (log space) |",
        "|---|---|---|---|",
    ]
    for row_label, row in [(label, result), *more]:
        each = ", ".join(f"{x:.3f}" for x in row.nats_per_frame_each)
        lines.append(
            f"| {row_label} | JSB {split} split ({row.pieces} pieces, {row.frames} frames), "
            f"Coconet's framewise estimator, {row.orderings} random orderings ensembled per "
            f"frame, a {row.context_steps}-step window around each frame{_setting_words(row)} | "
            f"{_with_stderr(row.nats_per_frame, row.stderr_over_pieces)} (per piece first: "
            f"{_with_stderr(row.nats_per_frame_piece_mean, row.stderr_piece_mean)}) "
            f"| {row.nats_per_frame_log_mean:.3f} ({each}) |"
        )
    lines.append(
        f"| Coconet ({COCONET_CITATION}) | {COCONET_SETTING} | {COCONET_FRAME_NLL:.2f} ± "
        f"{COCONET_FRAME_STDERR} "
        "| not reported |"
    )
    return "\n".join(lines)


def _setting_words(row: FramewiseResult) -> str:
    """What the row's model and scoring add to the plain setting (key ensemble, free rests)."""
    n = row.transpositions
    words = f", the model averaged over key shifts -{n}..{n}" if n > 0 else ""
    return words + ("" if row.rests_scored else ", rests counted as 0 nats (as Coconet's code)")


def _per_call(group: int) -> str:
    return "one cell revealed per call" if group == 1 else f"{group} cells revealed per call"


def comparison_text(result: NllResult | None, framewise: FramewiseResult | None = None) -> str:
    """Say plainly how far we are from Coconet and why the numbers are only roughly comparable."""
    if result is None:
        return "No evaluation was run for this export."
    if framewise is not None:
        return (
            f"The chain above ({result.nats_per_frame:.2f} nats per frame) is a proper estimate "
            "of -log p(test chorales). Coconet's published figure is not measured that way, so "
            f"the two are not comparable; the like-for-like comparison follows (there: "
            f"{framewise.nats_per_frame:.2f} against {COCONET_FRAME_NLL:.2f})."
        )
    gap = result.nats_per_frame - COCONET_FRAME_NLL
    verdict = (
        f"We do **not** beat Coconet: {result.nats_per_frame:.2f} against "
        f"{COCONET_FRAME_NLL:.2f} nats per frame, {gap:.2f} nats per frame worse "
        f"({result.nats_per_frame / COCONET_FRAME_NLL:.1f}x)."
        if gap > 0
        else f"This estimate is {-gap:.2f} nats per frame below Coconet's {COCONET_FRAME_NLL:.2f}."
    )
    return (
        f"{verdict}\n\n"
        "How comparable the two numbers are: both estimate -log p(test chorales) per sixteenth "
        "frame with random orderings on the same test split. Coconet was trained for many hours "
        "on a GPU; this model for the minutes listed under Training. Our estimate is "
        f"pessimistic in {'three ways' if result.group > 1 else 'two ways'}: "
        + (
            f"{result.group} cells are revealed per model call (cells revealed together do not "
            "condition on each other; earlier measurements here put the cost of 8 at a time at "
            "~0.02-0.03 nats per cell), "
            if result.group > 1
            else ""
        )
        + "orderings are averaged in log space rather than "
        "ensembled in probability space, and windows of the window length do not see the music "
        "on the other side of a window border. Coconet's figure was taken from Table 1 of the "
        "paper as quoted in an independent reimplementation's evaluation code (the paper's "
        "table itself could not be opened from this machine); its framewise ordering (frames "
        "in random order, voices within a frame in random order) differs from our cell-level "
        "ordering, so treat the comparison as indicative, not exact."
    )


def write_model_card(
    out_dir: Path,
    cfg: ChoraleConfig,
    stats: dict[str, object],
    result: NllResult | None,
    command: str,
    sampling_note: str = "",
    evaluated_on: str = "the shipped ONNX file",
    more_results: Sequence[tuple[str, NllResult]] = (),
    framewise: FramewiseResult | None = None,
    more_framewise: Sequence[tuple[str, FramewiseResult]] = (),
) -> Path:
    onnx_path = out_dir / "transformer.onnx"
    onnx_bytes, int8 = onnx_path.stat().st_size, is_int8(onnx_path)
    train_command = str(stats.get("command") or command)
    export_line = (
        ""
        if train_command == command
        else f"\nExported and evaluated from the run's final checkpoint with:\n\n    {command}\n"
    )
    stages = list(stats.get("stages") or [stage_summary({**stats, "command": train_command})])
    text = CARD_TEMPLATE.format(
        training=training_text(stages),
        total_minutes=round(sum(float(s.get("minutes") or 0) for s in stages), 1),
        export_line=export_line + (f"\n{stats['run_note']}\n" if stats.get("run_note") else ""),
        evaluated_on=evaluated_on,
        sampling_note=sampling_note or "Not measured for this export.",
        params=f"{int(stats.get('params', 0)):,}",
        size_mb=onnx_bytes / 1e6,
        weights=stats.get("weights", "-"),
        valid_loss=stats.get("valid_masked_loss", "-"),
        valid_acc=stats.get("valid_masked_accuracy", "-"),
        arch=asdict(cfg),
        T=cfg.steps,
        table=nll_table(result, more_results),
        onnx_format=(
            "int8 MatMul weights with dynamically quantized activations, float32 elsewhere"
            if int8
            else "fp32"
        ),
        rebuild_weights="int8 weights dequantized" if int8 else "same weights",
        eval_seconds=result.seconds if result else "-",
        comparison=comparison_text(result, framewise),
        framewise=framewise_section(framewise, evaluated_on, more_framewise),
        frame_masks=frame_mask_note(stages),
    )
    return write_card(out_dir, text)


def _hardware(device: object) -> str:
    return "2 CPU cores" if str(device) == "cpu" else f"one {device} GPU"


def training_text(stages: list[dict[str, object]]) -> str:
    """The commands that made the weights, in order, each with what it did and on what."""
    if len(stages) == 1:
        lines = ["Command (from the repository root):"]
    else:
        lines = [
            "Commands (from the repository root), in order; each later one starts from the",
            "weights of the one before it (`--init`):",
        ]
    for stage in stages:
        lines += [
            "",
            f"    {stage.get('command')}",
            "",
            f"  {stage.get('minutes')} min on {_hardware(stage.get('device'))}: "
            f"{stage.get('steps')} steps of batch {stage.get('batch')} "
            f"({stage.get('windows')} windows), peak lr {stage.get('lr')}, "
            f"validation masked loss {stage.get('valid_loss')} nats"
            + _frame_share_words(stage)
            + ".",
        ]
    return "\n".join(lines)


def _frame_share_words(stage: dict[str, object]) -> str:
    share = float(stage.get("frame_share") or 0.0)  # type: ignore[arg-type]
    return f"; {share:.0%} of its training and validation masks hide whole frames" if share else ""


def frame_mask_note(stages: list[dict[str, object]]) -> str:
    """The masks bullet's extra sentence when a stage trained on whole-frame masks."""
    named = [
        f"stage {i}" if len(stages) > 1 else "this run"
        for i, stage in enumerate(stages, start=1)
        if float(stage.get("frame_share") or 0.0) > 0  # type: ignore[arg-type]
    ]
    if not named:
        return ""
    return (
        f"\n  In {' and '.join(named)} (`--frame-masks`) a share of the masks instead hide"
        "\n  whole frames, each with probability r ~ U(0,1], a quarter of them showing 0-3 of"
        "\n  their voices: the context Coconet's framewise evaluation gives the model."
    )


CARD_TEMPLATE = """# chorale-satb

A masked (MaskGIT / Coconet-style, orderless) transformer over a 4-voice SATB grid of
{T} sixteenth notes (8 bars of 4/4). Give it any subset of cells as context and it predicts
the rest; remask uses it to repaint bars x voices of a MIDI file.

## Token contract
- Grid `[4, {T}]`, row 0 = soprano, then alto, tenor, bass; flattened voice-major for the
  ONNX input (index = v * {T} + t).
- token = MIDI pitch - 28 for pitches 28..93 (66 pitch tokens), 66 = rest, vocab 67,
  mask id 67. Held notes are repeated tokens (no onset flag), as in Coconet's data.
- Beat position = t mod 16, so windows should start on a bar line.

## Architecture
Token + voice + time + beat-position embeddings, then axial blocks: attention along time
within each voice with a learned relative-position bias per head (offsets clipped to
+-max_rel; the locality prior for copying held notes), attention across the 4 voices at
each step with a learned voice-pair bias, GELU MLP; pre-LayerNorm; linear head to 67
logits. Hyper-parameters: `{arch}`.
Parameters: {params}; `transformer.onnx` ({onnx_format}, opset 17, dynamic batch): {size_mb:.2f} MB.
`engine.train.midi.chorale.load_torch_model(folder)` rebuilds the torch module from the
manifest's `medium_facts.architecture` and the ONNX initializers ({rebuild_weights}).

## Training
{training}
{export_line}
- Data: JSB Chorales, `Jsb16thSeparated.npz` (Coconet's 16th-note version of the
  Boulanger-Lewandowski split, from czhuang/JSB-Chorales-dataset; the dataset repository has
  no licence file; the music is Bach's and in the public domain). Train split only (229
  chorales); 256 fixed validation windows pick the exported weights (raw or EMA).
- Random windows of {T} steps starting on a quarter note, transposition by a random legal
  shift in -6..+6 semitones, 10 % of windows show a piece's ending followed by (visible,
  never masked) rests.
- Masks: 60 % Coconet/orderless-NADE (each cell masked with probability r ~ U(0,1]),
  25 % voice-subset spans over whole quarters, 15 % whole-bar blocks; loss = cross-entropy
  on masked cells, averaged per example.{frame_masks}
- AdamW (warm-up, cosine to 5 % over each stage's time budget), bf16 autocast, EMA 0.999;
  the raw or EMA weights with the lowest validation loss of any scoring are kept. Exported
  weights: {weights}; validation masked loss {valid_loss} nats, masked-cell accuracy
  {valid_acc}.

## Evaluation (JSB test split)
Orderless-NADE estimate of -log p as in Coconet: every cell of a window is revealed in a
random order, the model predicts the next cells from the ones revealed so far, and we sum
-log p(true value). Test pieces (77) are cut into consecutive non-overlapping windows of
{T} steps; the last window of a piece is right-padded with rests that are visible context
and never scored, and windows do not see each other (a little pessimistic at window
borders). Evaluated on {evaluated_on} ({eval_seconds} s).

{table}

{comparison}
{framewise}
## Sampling defaults

{sampling_note}

## Limits
- Trained for {total_minutes} minutes in all; Coconet trained for many GPU hours. See the table.
- The data has no bar lines: training windows start on any quarter note, so the beat
  embedding only knows the position within a quarter reliably.
- 4 voices and pitches 28..93 only; no dynamics, no tempo, no repeated-note onsets.

## License
Model weights and code: MIT (as remask). Data: Bach chorales, public domain.
"""
