"""``remask-train motion`` / ``motion-eval``: train, export and evaluate the motion model.

    remask-train motion --tokenizer-minutes 13 --transformer-minutes 18
    remask-train motion-eval --model assets/models/motion-mmm --gaps 200

torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from engine.train.cli_args import add_transformer_arguments, loop_changes
from engine.train.motion.recipe import (
    DEFAULTS,
    MotionRecipe,
    bandai_takes,
    first_rig,
    model_rig,
    with_other_rigs,
)
from engine.train.recipe import add_recipe_arguments

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUT = REPO_ROOT / "assets" / "models" / "motion-mmm"
DEFAULT_CKPT = Path("/tmp/remask-motion-ckpt")


def _default_data() -> Path:
    return REPO_ROOT / ".." / "shared" / "data"


def add_mirror_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mirror",
        action="store_true",
        help="also train on a left-right mirrored copy of every training take",
    )


def add_other_rigs_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--other-rigs",
        action="store_true",
        help="also train on the ReActIdle and CMU (CC rig) clips, aligned to the model's rig",
    )


def register_motion(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "motion", help="train, export and evaluate the motion tokenizer + transformer"
    )
    add_recipe_arguments(
        p, DEFAULTS, out=DEFAULT_OUT, checkpoint_dir=DEFAULT_CKPT, data_help="data root (mocap/...)"
    )
    p.add_argument("--window", type=int, default=128, help="frames per model window")
    p.add_argument(
        "--context-input",
        action="store_true",
        help="the transformer also reads the kept frames themselves, not only their tokens",
    )
    p.add_argument("--limit", type=int, default=0, help="clips per archive (0 = all; smoke runs)")
    p.add_argument("--eval-gaps", type=int, default=50, help="gaps per length (0 = no evaluation)")
    add_mirror_argument(p)
    add_other_rigs_argument(p)
    p.set_defaults(func=run_motion)


def register_motion_tokens(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "motion-tokens", help="token sequences of the training takes, for motion-transformer"
    )
    p.add_argument("--data", type=Path, default=_default_data(), help="data root (mocap/...)")
    p.add_argument("--tokenizer-init", type=Path, required=True, help="tokenizer checkpoint")
    p.add_argument("--out", type=Path, required=True, help="the .npz to write")
    p.add_argument("--limit", type=int, default=0, help="clips per archive (0 = all)")
    add_mirror_argument(p)
    add_other_rigs_argument(p)
    p.set_defaults(func=run_motion_tokens)


def register_motion_transformer(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "motion-transformer",
        help="train only the masked transformer on cached tokens (a GPU run, say)",
    )
    p.add_argument("--tokens", type=Path, required=True, help="motion-tokens output (.npz)")
    p.add_argument("--checkpoint-dir", type=Path, required=True)
    add_transformer_arguments(
        p, minutes=10.0, batch=64, lr=1e-3, d_model=192, layers=4, heads=6, dropout=0.1
    )
    p.set_defaults(func=run_motion_transformer)


def register_motion_eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "motion-eval",
        help="in-betweening of held-out takes split by activity, rig and gap length",
    )
    p.add_argument("--model", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=_default_data())
    p.add_argument("--gaps", type=int, default=200, help="gaps per activity x rig x length cell")
    p.add_argument(
        "--lengths", default="15,30,60,120", help="gap lengths in 30-fps frames, comma-separated"
    )
    p.add_argument("--rigs", default="Bandai,CMU,ReActIdle", help="comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--raw", action="store_true", help="also measure the decoder's fill without the repair"
    )
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.set_defaults(func=run_motion_eval)


def run_motion(args: argparse.Namespace) -> int:
    from engine.train import recipe

    return recipe.run(MotionRecipe(), DEFAULTS, args)


def run_motion_tokens(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from engine.train.common import save_token_cache
    from engine.train.motion import train as motion_train

    tokenizer, _ = motion_train.load_tokenizer(args.tokenizer_init)
    train, valid = bandai_takes(args)
    if args.other_rigs:
        train = with_other_rigs(args, train, model_rig(first_rig(args.data), args.data, train))
    sequences = {
        "train": motion_train.encode_takes(tokenizer, train),
        "valid": motion_train.encode_takes(tokenizer, valid, shifts=1),
    }
    count = save_token_cache(args.out, sequences, asdict(tokenizer.cfg))
    print(f"wrote {args.out}: {count} token sequences")
    return 0


def run_motion_transformer(args: argparse.Namespace) -> int:
    from engine.train.common import load_token_cache
    from engine.train.motion import train as motion_train
    from engine.train.motion.model import MotionConfig

    sequences, config = load_token_cache(args.tokens)
    train_tokens, valid_tokens = sequences["train"], sequences["valid"]
    cfg = replace(
        MotionConfig.from_dict(config),
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        dropout=args.dropout,
    )
    print(f"{len(train_tokens)} train sequences, {len(valid_tokens)} held-out", flush=True)
    _, stats = motion_train.train_transformer(
        cfg,
        train_tokens,
        valid_tokens,
        replace(motion_train.TRANSFORMER_DEFAULTS, **loop_changes(args)),
        args.checkpoint_dir,
        command=args.command,
    )
    print(json.dumps({k: v for k, v in stats.items() if k != "history"}, default=str))
    return 0


def run_motion_eval(args: argparse.Namespace) -> int:
    from engine.train.motion import split_eval, split_report

    variants: split_eval.Variants = dict(split_eval.SHIPPED)
    if args.raw:
        variants["raw decoder"] = None
    cells = split_eval.evaluate_split(
        args.model,
        args.data,
        count=args.gaps,
        seed=args.seed,
        gaps=[int(g) for g in args.lengths.split(",")],
        rigs=args.rigs.split(","),
        variants=variants,
        progress=True,
    )
    for name in variants:
        print(f"\n{name}:\n{split_report.table(cells, name)}\n{split_report.targets(cells, name)}")
    if args.json:
        found = {name: split_report.figures(cells, name) for name in variants}
        args.json.write_text(json.dumps(found, indent=1))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The motion medium's training subcommands."""
    register_motion(sub)
    register_motion_eval(sub)
    register_motion_tokens(sub)
    register_motion_transformer(sub)
