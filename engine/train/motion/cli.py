"""``remask-train motion`` / ``motion-eval``: train, export and evaluate the motion model.

    remask-train motion --tokenizer-minutes 13 --transformer-minutes 18
    remask-train motion-eval --model assets/models/motion-mmm

torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.train.cli_args import (
    add_device_arguments,
    add_refine_arguments,
    add_transformer_arguments,
    budget_changes,
    loop_changes,
    refine_settings,
    wants_refine,
)

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


def bandai_takes(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """Train and held-out Bandai takes; ``--mirror`` doubles the train takes by mirroring.

    Held-out takes are never mirrored, so validation and evaluation see only real motion.
    """
    from engine.train.motion import data as motion_data

    train, valid = motion_data.split_takes(motion_data.load_takes(args.data, args.limit or None))
    return (motion_data.with_mirrored(train) if args.mirror else train), valid


def with_other_rigs(args: argparse.Namespace, train: list[Any], rig: Any) -> list[Any]:
    """``train`` plus, with ``--other-rigs``, the other rigs' train takes read through the
    alignment to ``rig`` (their held-out takes stay out of validation: Bandai's only)."""
    from engine.train.motion import data as motion_data

    if not args.other_rigs:
        return train
    others = motion_data.load_other_rig_takes(args.data, rig, args.limit or None)
    others = motion_data.split_takes(others)[0]
    return train + (motion_data.with_mirrored(others) if args.mirror else others)


def model_rig(rig_clip: Any, data: Path, bandai_train: Any) -> Any:
    """The model's rig with its training data's mean pose and floor: what skeleton.json holds,
    and what clips on other rigs are aligned to, in training as in the codec."""
    from engine.media.motion.retarget import ModelRig, mean_pose_from_features
    from engine.train.motion import data as motion_data

    mean_pose = mean_pose_from_features([take.features for take in bandai_train])
    return ModelRig.from_rig(rig_clip, mean_pose, motion_data.training_floor_cm(data))


def register_motion(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "motion", help="train, export and evaluate the motion tokenizer + transformer"
    )
    p.add_argument("--data", type=Path, default=_default_data(), help="data root (mocap/...)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CKPT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer-minutes", type=float, default=13.0)
    p.add_argument("--transformer-minutes", type=float, default=18.0)
    p.add_argument(
        "--tokenizer-max-steps", type=int, default=0, help="stop after N steps (0 = time)"
    )
    p.add_argument("--transformer-max-steps", type=int, default=0)
    p.add_argument("--tokenizer-init", type=Path, help="tokenizer checkpoint, used as is")
    p.add_argument("--transformer-init", type=Path, help="transformer checkpoint to start from")
    p.add_argument("--tokenizer-batch", type=int, default=32)
    p.add_argument("--transformer-batch", type=int, default=64)
    p.add_argument("--window", type=int, default=128, help="frames per model window")
    p.add_argument("--d-model", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--codes", type=int, default=512)
    p.add_argument(
        "--context-input",
        action="store_true",
        help="the transformer also reads the kept frames themselves, not only their tokens",
    )
    p.add_argument("--tiny", action="store_true", help="tiny architecture (smoke runs)")
    p.add_argument("--limit", type=int, default=0, help="clips per archive (0 = all; smoke runs)")
    p.add_argument("--eval-gaps", type=int, default=50, help="gaps per length (0 = no evaluation)")
    add_refine_arguments(p, "motion_refine")
    p.add_argument("--no-bf16", action="store_true")
    add_mirror_argument(p)
    add_other_rigs_argument(p)
    add_device_arguments(p)
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
    p = sub.add_parser("motion-eval", help="in-betweening errors of a shipped motion model")
    p.add_argument("--model", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=_default_data())
    p.add_argument("--gaps", type=int, default=50, help="gaps per length")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, help="override the manifest's temperature")
    p.add_argument("--steps", type=int, help="override the manifest's steps")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.set_defaults(func=run_motion_eval)


def run_motion(args: argparse.Namespace) -> int:
    from engine.train.common import seed_everything, set_cpu_threads
    from engine.train.motion import card as motion_card
    from engine.train.motion import evaluate as motion_eval
    from engine.train.motion import export as motion_export
    from engine.train.motion import train as motion_train
    from engine.train.motion.model import MotionConfig, tiny_config

    set_cpu_threads(2)
    seed_everything(args.seed)
    command = args.command
    cfg = (
        tiny_config()
        if args.tiny
        else MotionConfig(
            window=args.window,
            codebook=args.codes,
            d_model=args.d_model,
            n_layers=args.layers,
            n_heads=args.heads,
        )
    )
    cfg = replace(cfg, context_input=args.context_input)
    t0 = time.monotonic()
    train, valid = bandai_takes(args)
    rig_clip = _first_rig(args.data)
    rig = model_rig(rig_clip, args.data, train)
    train = with_other_rigs(args, train, rig)
    if not valid:  # a --limit smoke run may hold out nothing
        valid = train[-1:]
    print(
        f"{len(train)} train takes ({sum(len(t.features) for t in train)} frames), "
        f"{len(valid)} held-out takes, loaded in {time.monotonic() - t0:.0f}s",
        flush=True,
    )
    if args.tokenizer_init:
        tokenizer, tok_stats = motion_train.load_tokenizer(args.tokenizer_init)
        transformer_fields = ("d_model", "n_layers", "n_heads", "context_input")
        cfg = replace(tokenizer.cfg, **{name: getattr(cfg, name) for name in transformer_fields})
    else:
        budget = replace(
            motion_train.TOKENIZER_DEFAULTS,
            minutes=args.tokenizer_minutes,
            max_steps=args.tokenizer_max_steps,
            batch=args.tokenizer_batch,
            bf16=not args.no_bf16,
        )
        tokenizer, tok_stats = motion_train.train_tokenizer(
            cfg, train, valid, budget, args.checkpoint_dir, seed=args.seed
        )
    train_tokens = motion_train.encode_takes(tokenizer, train)
    valid_tokens = motion_train.encode_takes(tokenizer, valid, shifts=1)
    features = None
    if cfg.context_input or wants_refine(args):
        features = (
            motion_train.take_features(train, cfg.window),
            motion_train.take_features(valid, cfg.window, shifts=1),
        )
    init, init_stats = None, {}
    if args.transformer_init:
        init, init_stats = motion_train.load_transformer_checkpoint(args.transformer_init)
        cfg = same_tokenizer(cfg, init.cfg)
    if init is not None and args.transformer_minutes <= 0 and not args.transformer_max_steps:
        # Export/evaluate a finished run (a GPU run of motion-transformer, say) as it is.
        transformer, tr_stats = init, init_stats
    else:
        settings = replace(
            motion_train.TRANSFORMER_DEFAULTS,
            **budget_changes(
                args,
                minutes=args.transformer_minutes,
                max_steps=args.transformer_max_steps,
                batch=args.transformer_batch,
            ),
        )
        transformer, tr_stats = motion_train.train_transformer(
            cfg,
            train_tokens,
            valid_tokens,
            settings,
            args.checkpoint_dir,
            init=init if init is not None else motion_train.new_transformer(cfg, tokenizer),
            command=command,
            features=features,
        )
    refine_stats = None
    if wants_refine(args):  # the decoder, on the transformer's own samples (motion_refine)
        from engine.train.motion import refine as motion_refine

        assert features is not None
        tokenizer, refine_stats = motion_refine.refine_decoder(
            tokenizer,
            transformer,
            (train_tokens, features[0]),
            (valid_tokens, features[1]),
            refine_settings(args, motion_refine.REFINE_DEFAULTS),
            args.checkpoint_dir / "refine",
        )
    args.out.mkdir(parents=True, exist_ok=True)
    parity = motion_export.export_all(tokenizer, transformer, args.out)
    motion_card.write_skeleton(args.out, rig_clip, rig.mean_pose, rig.foot_floor_cm)
    motion_card.write_manifest(args.out, cfg)
    stats = {
        "tokenizer": tok_stats,
        "transformer": tr_stats,
        "decoder_refine": refine_stats,
        "onnx_parity": parity,
        "train_takes": len(train),
        "mirrored": bool(args.mirror),
        "other_rigs": bool(args.other_rigs),
        "held_out_takes": len(valid),
        "total_minutes": round((time.monotonic() - t0) / 60, 2),
    }
    print(json.dumps(stats, default=str), flush=True)
    args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (args.checkpoint_dir / "stats.json").write_text(
        json.dumps({"stats": stats, "command": command}, default=str, indent=1)
    )
    eval_table = "Not evaluated."
    if args.eval_gaps:
        results = motion_eval.evaluate(args.out, args.data, count=args.eval_gaps, seed=args.seed)
        eval_table = motion_eval.table(results)
        (args.out / "eval.json").write_text(json.dumps(results, indent=1) + "\n")
        print(eval_table, flush=True)
    motion_card.write_model_card(args.out, cfg, stats, command, eval_table)
    print(f"wrote {args.out}")
    return 0


def same_tokenizer(tokenizer_cfg: Any, transformer_cfg: Any) -> Any:
    """The transformer checkpoint's config, checked to name the tokenizer it was trained on."""
    tokenizer_fields = ("window", "codebook", "code_dim", "enc_channels", "dec_channels")
    for name in tokenizer_fields:
        if getattr(tokenizer_cfg, name) != getattr(transformer_cfg, name):
            raise SystemExit(
                f"transformer checkpoint has {name}={getattr(transformer_cfg, name)}, "
                f"the tokenizer {getattr(tokenizer_cfg, name)}"
            )
    return transformer_cfg


def run_motion_tokens(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from engine.train.common import save_token_cache
    from engine.train.motion import train as motion_train

    tokenizer, _ = motion_train.load_tokenizer(args.tokenizer_init)
    train, valid = bandai_takes(args)
    if args.other_rigs:
        train = with_other_rigs(args, train, model_rig(_first_rig(args.data), args.data, train))
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


def _first_rig(data: Path):  # type: ignore[no-untyped-def]
    from engine.train.motion.data import ARCHIVES, _archive_clips

    return next(_archive_clips(Path(data) / ARCHIVES[0], 1))[1]


def run_motion_eval(args: argparse.Namespace) -> int:
    from engine.train.motion import evaluate as motion_eval

    overrides: dict[str, object] = {}
    if args.temperature is not None:
        overrides["temperature"] = args.temperature
    if args.steps is not None:
        overrides["steps"] = args.steps
    results = motion_eval.evaluate(
        args.model, args.data, count=args.gaps, seed=args.seed, settings_overrides=overrides
    )
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"overrides": overrides, "results": results}, indent=1))
    print(motion_eval.table(results))
    return 0
