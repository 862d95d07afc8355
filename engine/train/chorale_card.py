"""The chorale model's sampling defaults, NLL table and MODEL_CARD.md."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

from engine.train import chorale_data as cd
from engine.train.chorale import ChoraleConfig
from engine.train.chorale_eval import NllResult

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
# Filled from the paper; see MODEL_CARD.md for the exact setting each number belongs to.
COCONET_ROWS: list[tuple[str, str, str]] = []


def nll_table(result: NllResult | None) -> str:
    """Markdown table: our test NLL beside Coconet's published figures."""
    lines = [
        "| model | setting | nats / note (cell) | nats / frame (16th step, 4 voices) |",
        "|---|---|---|---|",
    ]
    if result is not None:
        lines.append(
            f"| remask chorale-satb (this model) | JSB test split, 16th grid, orderless NADE, "
            f"{result.orderings} random orderings, {result.group} cells revealed per call, "
            f"{result.windows} windows, {result.cells} cells | {result.nats_per_cell:.3f} (± {result.std_per_cell_over_orderings:.3f} "
            f"over orderings) | {result.nats_per_frame:.3f} |"
        )
    lines.append(
        f"| uniform guess over {cd.VOCAB_SIZE} tokens | - | {math.log(cd.VOCAB_SIZE):.3f} | "
        f"{4 * math.log(cd.VOCAB_SIZE):.3f} |"
    )
    for name, per_note, per_frame in COCONET_ROWS:
        lines.append(f"| {name} | {COCONET_CITATION} | {per_note} | {per_frame} |")
    return "\n".join(lines)


def write_model_card(
    out_dir: Path,
    cfg: ChoraleConfig,
    stats: dict[str, object],
    result: NllResult | None,
    command: str,
) -> Path:
    onnx_bytes = (out_dir / "transformer.onnx").stat().st_size
    text = CARD_TEMPLATE.format(
        command=command,
        params=f"{int(stats.get('params', 0)):,}",
        size_mb=onnx_bytes / 1e6,
        minutes=stats.get("train_minutes"),
        steps=stats.get("steps"),
        windows=stats.get("windows_seen"),
        weights=stats.get("weights", "-"),
        valid_loss=stats.get("valid_masked_loss", "-"),
        valid_acc=stats.get("valid_masked_accuracy", "-"),
        arch=asdict(cfg),
        T=cfg.steps,
        table=nll_table(result),
        eval_seconds=result.seconds if result else "-",
    )
    path = out_dir / "MODEL_CARD.md"
    path.write_text(text)
    return path


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
Parameters: {params}; `transformer.onnx` (fp32, opset 17, dynamic batch): {size_mb:.2f} MB.
`engine.train.chorale.load_torch_model(folder)` rebuilds the torch module from the
manifest's `medium_facts.architecture` and the ONNX initializers (same weights).

## Training
Command (from the repository root):

    {command}

- Data: JSB Chorales, `Jsb16thSeparated.npz` (Coconet's 16th-note version of the
  Boulanger-Lewandowski split, from czhuang/JSB-Chorales-dataset; the dataset repository has
  no licence file; the music is Bach's and in the public domain). Train split only (229
  chorales); 256 fixed validation windows pick the exported weights (raw or EMA).
- Random windows of {T} steps starting on a quarter note, transposition by a random legal
  shift in -6..+6 semitones, 10 % of windows show a piece's ending followed by (visible,
  never masked) rests.
- Masks: 60 % Coconet/orderless-NADE (each cell masked with probability r ~ U(0,1]),
  25 % voice-subset spans over whole quarters, 15 % whole-bar blocks; loss = cross-entropy
  on masked cells, averaged per example.
- AdamW (lr 1.5e-3, warm-up, cosine to 5 % over the time budget), batch 32, bf16 autocast,
  2 CPU threads, EMA 0.999. Trained {minutes} min ({steps} steps, {windows} windows) on
  2 CPU cores; exported weights: {weights}; validation masked loss {valid_loss} nats,
  masked-cell accuracy {valid_acc}.

## Evaluation (JSB test split)
Orderless-NADE estimate of -log p as in Coconet: every cell of a window is revealed in a
random order, the model predicts the next cells from the ones revealed so far, and we sum
-log p(true value). Test pieces (77) are cut into consecutive non-overlapping windows of
{T} steps; the last window of a piece is right-padded with rests that are visible context
and never scored, and windows do not see each other (a little pessimistic at window
borders). Evaluated on the shipped ONNX file in fp32 ({eval_seconds} s).

{table}

## Limits
- Trained for minutes on 2 CPU cores; Coconet trained for many GPU hours. See the table.
- The data has no bar lines: training windows start on any quarter note, so the beat
  embedding only knows the position within a quarter reliably.
- 4 voices and pitches 28..93 only; no dynamics, no tempo, no repeated-note onsets.

## License
Model weights and code: MIT (as remask). Data: Bach chorales, public domain.
"""
