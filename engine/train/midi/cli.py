"""``remask-train chorale`` / ``chorale-eval``: train, export and evaluate the SATB chorale model.

    remask-train chorale --minutes 45 --out assets/models/chorale-satb
    remask-train chorale-eval --model assets/models/chorale-satb

torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.train.cli_args import add_transformer_arguments, loop_changes

if TYPE_CHECKING:
    from engine.train.midi.chorale import ChoraleConfig, ChoraleTransformer
    from engine.train.midi.evaluate import LogitsFn

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CHORALE_OUT = REPO_ROOT / "assets" / "models" / "chorale-satb"


def _default_data() -> Path:
    return REPO_ROOT / ".." / "shared" / "data"


def register_chorale(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("chorale", help="train, evaluate and export the SATB chorale model")
    p.add_argument("--data", type=Path, default=_default_data(), help="data root or npz file")
    p.add_argument("--out", type=Path, default=DEFAULT_CHORALE_OUT)
    p.add_argument("--steps", type=int, default=128, help="window length in sixteenths (T)")
    add_transformer_arguments(
        p, minutes=45.0, batch=32, lr=1.5e-3, d_model=128, layers=4, heads=4, dropout=0.1
    )
    p.add_argument("--int8", action="store_true", help="export int8 MatMul weights")
    p.add_argument("--checkpoint-dir", type=Path, default=REPO_ROOT / "runs" / "chorale-satb")
    p.add_argument("--init", type=Path, help="start from a checkpoint (.pt); --minutes 0 = as is")
    p.add_argument(
        "--frame-masks",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of training masks that hide whole frames (Coconet's framewise context)",
    )
    p.add_argument("--eval-orderings", type=int, default=3)
    p.add_argument("--eval-group", type=int, default=4, help="cells revealed per model call")
    p.add_argument(
        "--eval-framewise",
        type=int,
        default=0,
        metavar="M",
        help="also run Coconet's framewise estimator with M orderings (5 as Coconet; "
        "about 18 CPU-minutes per ordering, seconds on a GPU)",
    )
    p.add_argument("--no-eval", action="store_true")
    p.set_defaults(func=run_chorale)


def register_chorale_eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("chorale-eval", help="orderless-NADE NLL of a shipped chorale model")
    p.add_argument("--model", type=Path, default=DEFAULT_CHORALE_OUT)
    p.add_argument("--data", type=Path, default=_default_data())
    p.add_argument("--orderings", type=int, default=3)
    p.add_argument("--group", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--framewise",
        action="store_true",
        help="Coconet's own estimator (frames in random order, orderings ensembled per frame)",
    )
    p.add_argument(
        "--torch-device",
        help="evaluate the torch module rebuilt from the ONNX weights on this device (cuda: "
        "seconds instead of CPU-hours) instead of the ONNX file on the CPU",
    )
    p.add_argument(
        "--split",
        choices=("test", "valid"),
        default="test",
        help="valid: for choices (a temperature, a checkpoint); test: for the card",
    )
    p.add_argument("--pieces", type=int, default=0, help="only the first N pieces (0 = all)")
    p.add_argument(
        "--temperatures",
        type=_temperatures,
        default=(1.0,),
        help="framewise only: comma-separated logit temperatures, all scored in one pass",
    )
    p.add_argument(
        "--transpositions",
        type=int,
        default=0,
        metavar="N",
        help="average the model over key shifts -N..N semitones (a test-time ensemble; "
        "2N+1 model calls per question)",
    )
    p.add_argument(
        "--batch",
        type=int,
        default=64,
        help="framewise only: frames per model call (larger on a GPU). An int8 file quantizes "
        "activations per call, so its figures move slightly with this; keep 64 to compare",
    )
    p.add_argument(
        "--rests-free",
        action="store_true",
        help="framewise only: count a rest as 0 nats, as Coconet's evaluation code does",
    )
    p.add_argument("--json", type=Path, help="also write the result here")
    p.set_defaults(func=run_chorale_eval)


def _temperatures(text: str) -> tuple[float, ...]:
    values = tuple(float(x) for x in text.split(","))
    if min(values) <= 0:
        raise argparse.ArgumentTypeError("temperatures must be positive numbers, e.g. 0.9,1.0")
    return values


def register_midi_eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "midi-eval",
        help="repaint held-out corpus pieces part by part against baselines (issue 18 figures)",
    )
    p.add_argument("--model", type=Path, default=DEFAULT_CHORALE_OUT)
    p.add_argument("--regions", type=int, default=3, help="regions (one part each) per piece")
    p.add_argument("--pieces", default="", help="comma-separated music21 corpus names")
    p.add_argument("--steps", type=int, default=0, help="sampler steps (0: the model's default)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    p.set_defaults(func=run_midi_eval)


def run_midi_eval(args: argparse.Namespace) -> int:
    """Held-out pieces by meter and part count; see :mod:`engine.train.midi.parts_eval`."""
    import tempfile

    from engine.models import load_manifest
    from engine.runtime import load_transformer
    from engine.train.midi import parts_eval

    manifest = load_manifest(args.model)
    changes = {"seed": args.seed} | ({"steps": args.steps} if args.steps > 0 else {})
    settings = manifest.default_settings(**changes)
    run = parts_eval.repaint_runner(load_transformer(manifest).logits_fn(), manifest, settings)
    pieces = [p for p in args.pieces.split(",") if p] or list(parts_eval.PIECES)
    with tempfile.TemporaryDirectory() as work:
        totals = parts_eval.run_evaluation(pieces, args.regions, run, Path(work), _progress)
    print(parts_eval.write_report(totals, args.json))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The MIDI medium's training subcommands."""
    register_chorale(sub)
    register_chorale_eval(sub)
    register_midi_eval(sub)


def run_chorale(args: argparse.Namespace) -> int:
    from engine.train import distributed
    from engine.train.common import count_params
    from engine.train.midi import card as chorale_card
    from engine.train.midi import chorale
    from engine.train.midi import data as cd
    from engine.train.midi import evaluate as chorale_eval

    command = args.command
    cfg = chorale.ChoraleConfig(
        steps=args.steps,
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        dropout=args.dropout,
    )
    settings = replace(chorale.TRAIN_DEFAULTS, **loop_changes(args))
    train_pieces = cd.load_split(args.data, "train")
    valid_pieces = cd.load_split(args.data, "valid")
    init, init_info = chorale.load_checkpoint(args.init) if args.init else (None, {})
    if init is not None:
        cfg = init.cfg
    if init is not None and args.minutes <= 0 and args.max_steps == 0:
        # Export/evaluate a finished run: keep the statistics and command of its training.
        model, stats = init, {"command": "unknown", **init_info, "params": count_params(init)}
    else:
        model, stats = chorale.train(
            cfg,
            train_pieces,
            valid_pieces,
            settings,
            args.checkpoint_dir,
            init=init,
            command=command,
            earlier_stages=init_info.get("stages", []),  # type: ignore[arg-type]
            frame_share=args.frame_masks,
        )
    if not distributed.is_main():  # under torchrun rank 0 alone exports and evaluates
        distributed.finish()
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    chorale.export(model, args.out, int8=args.int8)
    chorale.write_manifest(args.out, cfg, chorale_card.DEFAULT_SAMPLING)
    result, sampling_note, evaluated_on = None, "", "the shipped ONNX file"
    framewise = None
    if not args.no_eval:
        logits_fn, evaluated_on = _test_logits(args, model)
        result = chorale_eval.evaluate_test_split(
            logits_fn, args.data, cfg.steps, args.eval_orderings, args.eval_group, args.seed
        )
        print(chorale_card.nll_table(result))
        if args.eval_framewise > 0:
            test_pieces = cd.load_split(args.data, "test")
            framewise = chorale_eval.framewise_nll(
                logits_fn, test_pieces, cfg.steps, args.eval_framewise, args.seed, log=_progress
            )
            print(chorale_card.framewise_table(framewise))
        sampling_note = _measure_sampling(args, cfg, logits_fn)
    chorale_card.write_model_card(
        args.out, cfg, stats, result, command, sampling_note, evaluated_on, framewise=framewise
    )
    print(f"wrote {args.out}")
    distributed.finish()
    return 0


def _test_logits(args: argparse.Namespace, model: ChoraleTransformer) -> tuple[LogitsFn, str]:
    """What the test NLL is taken on, and the card's words for it.

    On the CPU the exported file itself; on a GPU the float32 torch module (seconds instead of
    a quarter of an hour), which the export matched before it was written.
    """
    from engine.train.common import torch_logits_fn
    from engine.train.loop import resolve_device
    from engine.train.midi import evaluate as chorale_eval

    device = resolve_device(args.device)
    if device.type == "cpu":
        return chorale_eval.onnx_logits_fn(args.out), "the shipped ONNX file"
    return torch_logits_fn(model, device), "the float32 torch module on the GPU"


def _measure_sampling(args: argparse.Namespace, cfg: ChoraleConfig, logits_fn: LogitsFn) -> str:
    """Measure the sampling candidates, write the chosen defaults into the manifest."""
    from engine.train.midi import chorale
    from engine.train.midi import sampling as chorale_sampling

    try:
        windows = chorale_sampling.test_windows(args.data, cfg.steps)
        scores = chorale_sampling.measure(logits_fn, windows, seed=args.seed)
    except Exception as exc:  # noqa: BLE001 - the export is done; keep the defaults
        print(f"sampling measurement failed ({exc!r}); keeping the default sampling block")
        return ""
    best = chorale_sampling.choose(scores)
    chorale.write_manifest(args.out, cfg, chorale_sampling.manifest_sampling(best))
    table = chorale_sampling.score_table(scores)
    print(table, f"\nchosen: {best}")
    return (
        f"Measured on the first full {cfg.steps}-step window of {len(windows)} test pieces "
        f"(16 steps, seed {args.seed}, one sample each):\n\n{table}\n\n"
        f"Chosen for the manifest: **{best}** (best match with an onset rate within 25 % "
        "of Bach's on both tasks). Match rates are low by nature: many continuations are "
        "good and only one is Bach's."
    )


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def chorale_eval_logits(model_dir: Path, torch_device: str | None) -> LogitsFn:
    """The shipped ONNX file on the CPU, or the torch module rebuilt from it on a device."""
    from engine.train.midi import chorale
    from engine.train.midi import evaluate as chorale_eval

    if torch_device is None:
        return chorale_eval.onnx_logits_fn(model_dir)
    from engine.train.common import torch_logits_fn
    from engine.train.loop import resolve_device

    device = resolve_device(torch_device)
    return torch_logits_fn(chorale.load_torch_model(model_dir), device)


def run_chorale_eval(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict, replace

    from engine.train.loop import DeviceUnavailableError
    from engine.train.midi import card as chorale_card
    from engine.train.midi import data as cd
    from engine.train.midi import evaluate as chorale_eval

    if args.transpositions < 0:
        print("remask-train: --transpositions takes N >= 0", file=sys.stderr)
        return 2
    manifest = json.loads((args.model / "manifest.json").read_text())
    steps = int(manifest["tokens"]["shape"][1])
    try:
        logits_fn = chorale_eval_logits(args.model, args.torch_device)
    except DeviceUnavailableError:
        print(f"remask-train: --torch-device {args.torch_device}: no GPU here", file=sys.stderr)
        return 2
    shifts = range(-args.transpositions, args.transpositions + 1)
    logits_fn = chorale_eval.transposition_mixture(logits_fn, shifts)
    pieces = cd.load_split(args.data, args.split)
    pieces = pieces[: args.pieces] if args.pieces > 0 else pieces
    if args.framewise:
        results = chorale_eval.framewise_scan(
            logits_fn,
            pieces,
            steps,
            args.temperatures,
            args.orderings,
            args.seed,
            args.batch,
            log=_progress,
            score_rests=not args.rests_free,
        )
        results = [replace(r, transpositions=args.transpositions) for r in results]
        tables = [chorale_card.framewise_table(r, split=args.split) for r in results]
        if len(results) == 1:
            summary, table = asdict(results[0]), tables[0]
        else:
            summary = [asdict(r) for r in results]
            table = "\n\n".join(
                f"logits / {r.temperature:g}:\n{t}" for r, t in zip(results, tables, strict=True)
            )
    else:
        result = chorale_eval.evaluate_pieces(
            logits_fn, pieces, steps, args.orderings, args.group, args.seed
        )
        summary = chorale_eval.result_dict(result) | {"transpositions": args.transpositions}
        table = chorale_card.nll_table(result, split=args.split)
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print(table)
    return 0
