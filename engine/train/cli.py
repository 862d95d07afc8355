"""``remask-train``: one subcommand per trainer (train + evaluate + export in one go).

    remask-train chorale --minutes 45 --out assets/models/chorale-satb
    remask-train chorale-eval --model assets/models/chorale-satb

New trainers (image, motion) add a ``register_<name>(subparsers)`` function to
``SUBCOMMANDS``; each sets ``func`` on its parser. torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.train.cli_args import add_transformer_arguments, loop_changes
from engine.train.image.cli import (
    register_image,
    register_image_eval,
    register_image_tokens,
    register_image_transformer,
)
from engine.train.motion.cli import (
    register_motion,
    register_motion_eval,
    register_motion_tokens,
    register_motion_transformer,
)

if TYPE_CHECKING:
    from engine.train.midi.chorale import ChoraleConfig, ChoraleTransformer
    from engine.train.midi.evaluate import LogitsFn

REPO_ROOT = Path(__file__).resolve().parents[2]
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


MOTION_STAGE_1 = "runs/motion-mmm/stage1"
MOTION_STAGE_2 = "runs/motion-mmm/stage2"
IMAGE_STAGE_1 = "runs/image-maskgit/stage1"
IMAGE_STAGE_2 = "runs/image-maskgit/stage2"
CHORALE_STAGE_1 = "runs/chorale-satb/stage1"
CHORALE_STAGE_2 = "runs/chorale-satb/stage2"
SHIPPED_RUNS: tuple[tuple[str, ...], ...] = (
    (
        "motion",
        *("--other-rigs", "--tokenizer-minutes", "10", "--transformer-minutes", "30"),
        *("--seed", "0", "--eval-gaps", "50"),
        *("--out", MOTION_STAGE_1, "--checkpoint-dir", f"{MOTION_STAGE_1}-ckpt"),
    ),
    (
        "motion",
        *("--other-rigs", "--context-input"),
        *("--tokenizer-init", f"{MOTION_STAGE_1}-ckpt/tokenizer.pt", "--transformer-minutes", "30"),
        *("--seed", "0", "--eval-gaps", "50"),
        *("--out", MOTION_STAGE_2, "--checkpoint-dir", f"{MOTION_STAGE_2}-ckpt"),
    ),
    (
        "motion",
        *("--other-rigs", "--context-input"),
        *("--tokenizer-init", f"{MOTION_STAGE_1}-ckpt/tokenizer.pt"),
        *("--transformer-init", f"{MOTION_STAGE_2}-ckpt/transformer.pt"),
        *("--transformer-minutes", "0", "--refine-minutes", "25"),
        *("--seed", "0", "--eval-gaps", "50"),
        *("--out", "assets/models/motion-mmm", "--checkpoint-dir", "runs/motion-mmm/stage3-ckpt"),
    ),
    (
        "image",
        *("--vq-minutes", "14.7", "--maskgit-minutes", "19.3"),
        *("--d-model", "160", "--layers", "4", "--heads", "5", "--seed", "0", "--eval-crops", "40"),
        *("--out", IMAGE_STAGE_1, "--checkpoint-dir", f"{IMAGE_STAGE_1}-ckpt"),
    ),
    (
        "image",
        *("--vq-init", f"{IMAGE_STAGE_1}-ckpt/vq_final.pt", "--vq-minutes", "0"),
        *("--context-input", "--maskgit-minutes", "19.3"),
        *("--d-model", "160", "--layers", "4", "--heads", "5", "--seed", "0", "--eval-crops", "40"),
        *("--out", IMAGE_STAGE_2, "--checkpoint-dir", f"{IMAGE_STAGE_2}-ckpt"),
    ),
    (
        "image",
        *("--vq-init", f"{IMAGE_STAGE_1}-ckpt/vq_final.pt", "--vq-minutes", "0"),
        *("--maskgit-init", f"{IMAGE_STAGE_2}-ckpt/maskgit_final.pt", "--maskgit-minutes", "0"),
        *("--context-input", "--refine-minutes", "25"),
        *("--d-model", "160", "--layers", "4", "--heads", "5", "--seed", "0", "--eval-crops", "40"),
        *(
            "--out",
            "assets/models/image-maskgit",
            "--checkpoint-dir",
            "runs/image-maskgit/stage3-ckpt",
        ),
    ),
    (
        "chorale",
        *("--d-model", "256", "--layers", "5", "--heads", "8", "--dropout", "0.2"),
        *("--batch", "128", "--lr", "1e-3", "--minutes", "5.5", "--workers", "1"),
        *("--device", "cuda", "--eval-every", "30", "--seed", "0"),
        *("--eval-orderings", "2", "--eval-group", "1"),
        *("--out", CHORALE_STAGE_1, "--checkpoint-dir", f"{CHORALE_STAGE_1}-ckpt"),
    ),
    (
        "chorale",
        *("--init", f"{CHORALE_STAGE_1}-ckpt/final.pt"),
        *("--batch", "128", "--lr", "5e-4", "--minutes", "3.3", "--workers", "2"),
        *("--device", "cuda", "--eval-every", "30", "--seed", "1"),
        *("--eval-orderings", "2", "--eval-group", "1"),
        *("--out", CHORALE_STAGE_2, "--checkpoint-dir", f"{CHORALE_STAGE_2}-ckpt"),
    ),
    (
        "chorale",
        *("--init", f"{CHORALE_STAGE_2}-ckpt/final.pt"),
        *("--batch", "128", "--lr", "4e-4", "--minutes", "5.5", "--workers", "3"),
        *("--device", "cuda", "--eval-every", "30", "--seed", "2"),
        *("--eval-orderings", "2", "--eval-group", "1", "--int8"),
        *("--out", "assets/models/chorale-satb", "--checkpoint-dir", "runs/chorale-satb/stage3"),
    ),
)
"""The commands that made each shipped model, in order (its MODEL_CARD.md quotes the same).

A model can take several: the image and motion models' second stages train a transformer on
the first stage's tokenizer, and the chorale model trained on a lent GPU in three stages, each
starting from the weights of the one before (``--device cuda`` runs need a CUDA GPU, so they
come last: on a CPU machine the others are made and ``all`` stops there with one line). Run
them one after another, never side by side: two runs on 2 cores halve each other's steps.
"""


def run_all(args: argparse.Namespace) -> int:
    """Train, evaluate and export every shipped model in turn; stop at the first failure."""
    for run in SHIPPED_RUNS:
        command = [*run, "--data", str(args.data)]
        print("remask-train " + shlex.join(command), flush=True)
        status = main(command)
        if status != 0:
            return status
    return 0


def register_all(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("all", help="train every shipped model with the settings it shipped with")
    p.add_argument("--data", type=Path, default=_default_data())
    p.set_defaults(func=run_all)


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [  # type: ignore[type-arg]
    register_chorale,
    register_chorale_eval,
    register_image,
    register_image_eval,
    register_image_tokens,
    register_image_transformer,
    register_motion,
    register_motion_eval,
    register_motion_tokens,
    register_motion_transformer,
    register_all,
]


def run_chorale(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="remask-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for register in SUBCOMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command = "remask-train " + shlex.join(argv)  # what model cards quote
    if getattr(args, "device", "cpu") != "cpu":  # fail before loading data, not after
        from engine.train.loop import DeviceUnavailableError, resolve_device

        try:
            resolve_device(args.device)
        except DeviceUnavailableError as exc:
            print(f"remask-train: {exc}", file=sys.stderr)
            return 2
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
