"""The motion steps of the training recipe (:mod:`engine.train.recipe`): Bandai takes (and,
with ``--other-rigs``, clips of other rigs aligned to the model's), the two-stream tokenizer,
the masked transformer on token rows, the decoder refined on its samples.

torch is imported inside the steps only.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.train.cli_args import refine_settings, wants_refine
from engine.train.recipe import StageDefaults, TrainedRun, stage_budget

DEFAULTS = StageDefaults(
    tokenizer_minutes=13.0, transformer_minutes=18.0, tokenizer_batch=32, transformer_batch=64
)
TRANSFORMER_FIELDS = ("d_model", "n_layers", "n_heads", "context_input")
TOKENIZER_FIELDS = ("window", "codebook", "code_dim", "enc_channels", "dec_channels")


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
    from engine.media.motion.retarget import mean_pose_from_features
    from engine.media.motion.rig_alignment import ModelRig
    from engine.train.motion import data as motion_data

    mean_pose = mean_pose_from_features([take.features for take in bandai_train])
    return ModelRig.from_rig(rig_clip, mean_pose, motion_data.training_floor_cm(data))


def first_rig(data: Path) -> Any:
    """The first Bandai clip: the rig the model is trained and exported on."""
    from engine.train.motion.data import ARCHIVES, _archive_clips

    return next(_archive_clips(Path(data) / ARCHIVES[0], 1))[1]


def same_tokenizer(tokenizer_cfg: Any, transformer_cfg: Any) -> Any:
    """The transformer checkpoint's config, checked to name the tokenizer it was trained on."""
    for name in TOKENIZER_FIELDS:
        if getattr(tokenizer_cfg, name) != getattr(transformer_cfg, name):
            raise SystemExit(
                f"transformer checkpoint has {name}={getattr(transformer_cfg, name)}, "
                f"the tokenizer {getattr(tokenizer_cfg, name)}"
            )
    return transformer_cfg


class MotionRecipe:
    """Takes, the rig and token rows are kept between the steps of one run."""

    def prepare(self, args: argparse.Namespace) -> None:
        from engine.train.common import seed_everything, set_cpu_threads
        from engine.train.motion.model import MotionConfig, tiny_config

        set_cpu_threads(2)
        seed_everything(args.seed)
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
        self.cfg = replace(cfg, context_input=args.context_input)
        t0 = time.monotonic()
        train, valid = bandai_takes(args)
        self.rig_clip = first_rig(args.data)
        self.rig = model_rig(self.rig_clip, args.data, train)
        self.train = with_other_rigs(args, train, self.rig)
        self.valid = valid or self.train[-1:]  # a --limit smoke run may hold out nothing
        frames = sum(len(t.features) for t in self.train)
        _say(
            f"{len(self.train)} train takes ({frames} frames), {len(self.valid)} held-out "
            f"takes, loaded in {time.monotonic() - t0:.0f}s",
            flush=True,
        )

    def load_tokenizer(self, path: Path) -> tuple[Any, dict[str, object]]:
        from engine.train.motion import train as motion_train

        tokenizer, stats = motion_train.load_tokenizer(path)
        fields = {name: getattr(self.cfg, name) for name in TRANSFORMER_FIELDS}
        self.cfg = replace(tokenizer.cfg, **fields)
        return tokenizer, stats

    def train_tokenizer(
        self, args: argparse.Namespace, init: Any | None
    ) -> tuple[Any, dict[str, object]]:
        from engine.train.motion import train as motion_train

        budget = replace(
            motion_train.TOKENIZER_DEFAULTS,
            minutes=args.tokenizer_minutes,
            max_steps=args.tokenizer_max_steps,
            batch=args.tokenizer_batch,
            bf16=not args.no_bf16,
        )
        return motion_train.train_tokenizer(
            self.cfg, self.train, self.valid, budget, args.checkpoint_dir, seed=args.seed, init=init
        )

    def tokenize(self, args: argparse.Namespace, tokenizer: Any) -> None:
        from engine.train.motion import train as motion_train

        self.train_tokens = motion_train.encode_takes(tokenizer, self.train)
        self.valid_tokens = motion_train.encode_takes(tokenizer, self.valid, shifts=1)
        self.features = None
        if self.cfg.context_input or wants_refine(args):
            self.features = (
                motion_train.take_features(self.train, self.cfg.window),
                motion_train.take_features(self.valid, self.cfg.window, shifts=1),
            )

    def load_transformer(self, path: Path) -> tuple[Any, dict[str, object]]:
        from engine.train.motion import train as motion_train

        transformer, stats = motion_train.load_transformer_checkpoint(path)
        self.cfg = same_tokenizer(self.cfg, transformer.cfg)
        return transformer, stats

    def train_transformer(
        self, args: argparse.Namespace, tokenizer: Any, init: Any | None
    ) -> tuple[Any, dict[str, object]]:
        from engine.train.motion import train as motion_train

        budget = stage_budget(args, "transformer")
        return motion_train.train_transformer(
            self.cfg,
            self.train_tokens,
            self.valid_tokens,
            replace(motion_train.TRANSFORMER_DEFAULTS, **budget),
            args.checkpoint_dir,
            init=init if init is not None else motion_train.new_transformer(self.cfg, tokenizer),
            command=args.command,
            features=self.features,
        )

    def refine(
        self, args: argparse.Namespace, tokenizer: Any, transformer: Any
    ) -> tuple[Any, dict[str, object]]:
        """The decoder, on the transformer's own samples (engine.train.motion.refine)."""
        from engine.train.motion import refine as motion_refine

        assert self.features is not None
        return motion_refine.refine_decoder(
            tokenizer,
            transformer,
            (self.train_tokens, self.features[0]),
            (self.valid_tokens, self.features[1]),
            refine_settings(args, motion_refine.REFINE_DEFAULTS),
            args.checkpoint_dir / "refine",
        )

    def publish(self, args: argparse.Namespace, run: TrainedRun) -> None:
        """Export with parity checks, skeleton and manifest; evaluate gaps; write the card."""
        from engine.train.motion import card as motion_card
        from engine.train.motion import evaluate as motion_eval
        from engine.train.motion import export as motion_export

        args.out.mkdir(parents=True, exist_ok=True)
        parity = motion_export.export_all(run.tokenizer, run.transformer, args.out)
        rig = self.rig
        motion_card.write_skeleton(args.out, self.rig_clip, rig.mean_pose, rig.foot_floor_cm)
        motion_card.write_manifest(args.out, self.cfg)
        stats: dict[str, object] = {
            "tokenizer": run.tokenizer_stats,
            "transformer": run.transformer_stats,
            "decoder_refine": run.refine_stats,
            "onnx_parity": parity,
            "train_takes": len(self.train),
            "mirrored": bool(args.mirror),
            "other_rigs": bool(args.other_rigs),
            "held_out_takes": len(self.valid),
            "total_minutes": round((time.monotonic() - run.started) / 60, 2),
        }
        print(json.dumps(stats, default=str), flush=True)
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        (args.checkpoint_dir / "stats.json").write_text(
            json.dumps({"stats": stats, "command": args.command}, default=str, indent=1)
        )
        eval_table = "Not evaluated."
        if args.eval_gaps and not args.no_eval:
            results = motion_eval.evaluate(
                args.out, args.data, count=args.eval_gaps, seed=args.seed
            )
            eval_table = motion_eval.table(results)
            (args.out / "eval.json").write_text(json.dumps(results, indent=1) + "\n")
            print(eval_table, flush=True)
        motion_card.write_model_card(args.out, self.cfg, stats, args.command, eval_table)
        print(f"wrote {args.out}")


def _say(*parts: object, flush: bool = False) -> None:
    """Print on rank 0 only: under torchrun every rank runs the steps before the export."""
    from engine.train import distributed

    if distributed.is_main():
        print(*parts, flush=flush)
