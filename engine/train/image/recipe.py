"""The image steps of the training recipe (:mod:`engine.train.recipe`): BSDS500 photos, the
VQ tokenizer, the masked transformer on token maps, the decoder refined on its samples.

Splits: BSDS500 train (200) + val[:80] train; val[80:] (20 photos) monitors training
(checkpoints, raw-vs-EMA choice); test (200) is only used for the reported numbers.
torch is imported inside the steps only.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.train.budget import TimeBudget
from engine.train.cli_args import refine_settings
from engine.train.recipe import StageDefaults, TrainedRun, stage_budget

MONITOR_FROM_VAL = 80  # val photos before this index train, the rest monitor
GAN_MINUTES = 40.0


@dataclass(frozen=True)
class GanSettings(TimeBudget):
    """Budget and weights of the adversarial decoder stage (``remask-train image-gan``'s
    ``--gan-*`` flags; :mod:`engine.train.image.adversarial`)."""

    minutes: float = GAN_MINUTES
    max_steps: int = 0  # 0 = until the time budget is spent
    batch: int = 8
    crop_tokens: int = 8  # training crops of the sampled windows (64 px; 4x cheaper a step)
    pool: int = 64  # windows the transformer filled, kept and cropped from
    fresh: int = 16  # of which this many are sampled anew (in one call) every ``fresh`` steps
    lr: float = 1e-4
    disc_lr: float = 4e-4
    weight: float = 0.8  # x VQGAN's adaptive factor x hinge generator loss
    fm_weight: float = 1.0  # feature matching (discriminator features, inside the hole)
    start: int = 20  # steps of the discriminator alone before the adversarial terms
    ramp: int = 30  # steps over which they then ramp in
    balance_every: int = 8  # steps between recomputations of VQGAN's adaptive factor
    disc_channels: int = 32
    seed: int = 0
    bf16: bool = False  # bf16 autocast ran this stage 4x slower on the 2-core AMD CPU
    threads: int = 2
    eval_every_s: float = 300.0
    log_every: int = 25

    def adversarial_share(self, step: int) -> float:
        """0 while the discriminator learns alone, then a linear ramp to 1."""
        return min(max((step - self.start) / max(self.ramp, 1), 0.0), 1.0)


DEFAULTS = StageDefaults(
    tokenizer_minutes=13.0, transformer_minutes=17.0, tokenizer_batch=32, transformer_batch=32
)


def load_splits(args: argparse.Namespace) -> tuple[list[Any], list[Any], list[Any]]:
    """(train, monitor, test) photos; ``--limit`` keeps a few of each for smoke runs."""
    from engine.train.image import data as idata

    limit = args.limit or None
    train = idata.load_split(args.data, "train", limit)
    val = idata.load_split(args.data, "val", limit)
    cut = min(MONITOR_FROM_VAL, len(val) * 4 // 5) if limit else MONITOR_FROM_VAL
    test = idata.load_split(args.data, "test", limit)
    return train + val[:cut], val[cut:], test


class ImageRecipe:
    """Photos and token maps are kept between the steps of one run."""

    def prepare(self, args: argparse.Namespace) -> None:
        import numpy as np

        from engine.train.common import set_cpu_threads
        from engine.train.image import data as idata

        set_cpu_threads(2)
        self.train_images, self.monitor_images, self.test_images = load_splits(args)
        _say(
            f"photos: train {len(self.train_images)}, monitor {len(self.monitor_images)}, "
            f"test {len(self.test_images)}"
        )
        rng = np.random.default_rng(args.seed + 99)
        self.monitor_crops = idata.random_crops(self.monitor_images, rng, 128, args.crop)

    def load_tokenizer(self, path: Path) -> tuple[Any, dict[str, object]]:
        from engine.train.image import vq

        return vq.load_tokenizer(path)

    def train_tokenizer(
        self, args: argparse.Namespace, init: Any | None
    ) -> tuple[Any, dict[str, object]]:
        from engine.train.image import vq

        cfg = vq.tiny_config() if args.tiny else vq.VQConfig(codes=args.codes)
        settings = vq.VQTrainSettings(
            minutes=args.tokenizer_minutes,
            max_steps=args.tokenizer_max_steps,
            batch=args.tokenizer_batch,
            crop=args.crop,
            seed=args.seed,
            bf16=not args.no_bf16,
        )
        return vq.train_tokenizer(
            cfg, self.train_images, self.monitor_crops, settings, args.checkpoint_dir, init=init
        )

    def tokenize(self, args: argparse.Namespace, tokenizer: Any) -> None:
        from engine.train.image import maskgit as mg
        from engine.train.image import vq

        t0 = time.monotonic()
        self.train_maps = vq.tokenize_images(tokenizer, self.train_images, flips=args.flips)
        self.monitor_maps = vq.tokenize_images(tokenizer, self.monitor_images)
        _say(f"tokenized {len(self.train_maps)} maps in {time.monotonic() - t0:.0f}s")
        patch, codes = tokenizer.cfg.patch, tokenizer.cfg.codes
        self.views = (  # the photos the maps encode, in their order
            vq.tokenized_views(self.train_images, patch, args.flips),
            vq.tokenized_views(self.monitor_images, patch),
        )
        self.grid = min(args.grid, *(min(m.shape) for m in self.train_maps + self.monitor_maps))
        cfg = (
            mg.tiny_config(codes, self.grid)
            if args.tiny
            else mg.MaskGITConfig(
                vocab_size=codes,
                grid=self.grid,
                d_model=args.d_model,
                n_layers=args.layers,
                n_heads=args.heads,
                max_rel=self.grid - 1,
            )
        )
        self.cfg = replace(cfg, context_input=args.context_input, patch=patch)
        self.codes = codes

    def load_transformer(self, path: Path) -> tuple[Any, dict[str, object]]:
        from engine.train.image import maskgit as mg

        transformer, stats = mg.load_checkpoint(path)
        if "unigram_loss" not in stats:  # checkpoints from before the trainer recorded it
            stats["unigram_loss"] = round(mg.unigram_loss(self.train_maps, self.codes), 4)
        return transformer, stats

    def train_transformer(
        self, args: argparse.Namespace, tokenizer: Any, init: Any | None
    ) -> tuple[Any, dict[str, object]]:
        from engine.train.image import maskgit as mg

        budget = stage_budget(args, "transformer")
        return mg.train(
            self.cfg,
            self.train_maps,
            self.monitor_maps,
            replace(mg.TRAIN_DEFAULTS, **budget),
            tokenizer.cfg.patch,
            args.checkpoint_dir,
            init=init,
            command=args.command,
            views=self.views,
        )

    def refine(
        self, args: argparse.Namespace, tokenizer: Any, transformer: Any
    ) -> tuple[Any, dict[str, object]]:
        """The decoder, on the transformer's own samples (engine.train.image.refine)."""
        from engine.train.image import refine as image_refine

        return image_refine.refine_decoder(
            tokenizer,
            transformer,
            (self.train_maps, self.views[0]),
            (self.monitor_maps, self.views[1]),
            refine_settings(args, image_refine.REFINE_DEFAULTS),
            args.checkpoint_dir,
        )

    def publish(self, args: argparse.Namespace, run: TrainedRun) -> None:
        """Export, evaluate against Telea on test crops, record the run and write the card."""
        import numpy as np

        from engine.train.common import onnx_size_mb
        from engine.train.image import card as image_card
        from engine.train.image import data as idata
        from engine.train.image import export as image_export
        from engine.train.image import vq

        tokenizer, transformer = run.tokenizer, run.transformer
        vq_cfg, mg_cfg = tokenizer.cfg, transformer.cfg
        args.out.mkdir(parents=True, exist_ok=True)
        image_export.export_all(tokenizer, transformer, args.out)
        image_export.write_manifest(args.out, vq_cfg, mg_cfg)
        window = self.grid * vq_cfg.patch
        rng = np.random.default_rng(args.seed + 7)
        test_crops = idata.random_crops(self.test_images, rng, 200, window)
        vq_test = vq.evaluate_tokenizer(tokenizer, test_crops)
        print(f"tokenizer on {len(test_crops)} test crops of {window} px: {vq_test}")
        rows = None
        if not args.no_eval:
            extra = args.eval_temperature if args.eval_temperature is not None else [0.5]
            rows = evaluate(args.out, self.test_images, args.eval_crops, window, args.seed, extra)
        timing = image_card.latency(args.out, transformer)
        print(timing)
        info = {
            "command": args.command,
            "total_minutes": round((time.monotonic() - run.started) / 60, 1),
            "vq": run.tokenizer_stats,
            "vq_test": vq_test,
            "maskgit": run.transformer_stats,
            "decoder_refine": run.refine_stats,
            "maps": len(self.train_maps),
        }
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        (args.checkpoint_dir / "run_info.json").write_text(json.dumps(info, indent=2, default=str))
        info["grid"] = self.grid
        notes = image_card.comparison_notes(rows, info)
        image_card.write_model_card(args.out, vq_cfg, mg_cfg, info, rows, timing, notes)
        print(f"wrote {args.out} ({onnx_size_mb(args.out):.1f} MB of ONNX)")


def evaluate(
    model: Path,
    test_images: list[Any],
    crops: int,
    window: int,
    seed: int,
    temperatures: list[float] | None,
) -> Any:
    """The honest evaluation (painted holes, every mask kind, OpenCV beside it), printed.

    ``crops`` photos per window-sized kind and a quarter as many 1024×768 photos; the
    window and temperatures are fixed by the model's manifest (kept for the callers).
    """
    from engine.train.image import evaluate as image_eval

    per_kind = {kind: crops for kind in image_eval.KINDS}
    per_kind["photo1024"] = max(1, crops // 4)
    report = image_eval.evaluate(model, test_images, per_kind, seed)
    print(image_eval.table(report))
    return report


def _say(*parts: object, flush: bool = False) -> None:
    """Print on rank 0 only: under torchrun every rank runs the steps before the export."""
    from engine.train import distributed

    if distributed.is_main():
        print(*parts, flush=flush)
