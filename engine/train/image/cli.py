"""``remask-train image`` / ``image-eval``: train, export and evaluate the image model.

    remask-train image --vq-minutes 13 --maskgit-minutes 17 --out assets/models/image-maskgit
    remask-train image-eval --model assets/models/image-maskgit

Splits: BSDS500 train (200) + val[:80] train; val[80:] (20 photos) monitors training
(checkpoints, raw-vs-EMA choice); test (200) is only used for the reported numbers.
torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

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
DEFAULT_OUT = REPO_ROOT / "assets" / "models" / "image-maskgit"
DEFAULT_CKPT = Path("/tmp/remask-image-ckpt")
MONITOR_FROM_VAL = 80  # val photos before this index train, the rest monitor


def _default_data() -> Path:
    return REPO_ROOT / ".." / "shared" / "data"


def register_image(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("image", help="train, export and evaluate the image VQ + masked transformer")
    p.add_argument("--data", type=Path, default=_default_data(), help="data root or BSDS500 zip")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--checkpoint-dir", type=Path, default=DEFAULT_CKPT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vq-minutes", type=float, default=13.0)
    p.add_argument("--maskgit-minutes", type=float, default=17.0)
    p.add_argument("--vq-max-steps", type=int, default=0, help="stop after N steps (0 = time)")
    p.add_argument("--maskgit-max-steps", type=int, default=0)
    p.add_argument(
        "--vq-init", type=Path, help="tokenizer checkpoint; with --vq-minutes 0 used as is"
    )
    p.add_argument("--maskgit-init", type=Path, help="transformer checkpoint to start from")
    p.add_argument("--vq-batch", type=int, default=32)
    p.add_argument("--crop", type=int, default=64, help="tokenizer training crop (px)")
    p.add_argument("--maskgit-batch", type=int, default=32)
    p.add_argument("--grid", type=int, default=16, help="transformer window in tokens (side)")
    p.add_argument("--d-model", type=int, default=192)
    p.add_argument(
        "--context-input",
        action="store_true",
        help="the transformer also reads the known pixels, not only their tokens",
    )
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--codes", type=int, default=512)
    p.add_argument("--flips", action="store_true", help="also tokenize mirrored photos")
    p.add_argument("--tiny", action="store_true", help="tiny architecture (tests, smoke runs)")
    p.add_argument("--limit", type=int, default=0, help="photos per split (0 = all; smoke runs)")
    p.add_argument("--eval-crops", type=int, default=40)
    p.add_argument(
        "--eval-temperature",
        type=float,
        action="append",
        help="extra evaluation row at this sampling temperature (default: 0.5)",
    )
    p.add_argument("--no-eval", action="store_true")
    add_refine_arguments(p, "image_refine")
    p.add_argument("--no-bf16", action="store_true")
    add_device_arguments(p)
    p.set_defaults(func=run_image)


def register_image_tokens(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "image-tokens", help="token maps of the training photos, for image-transformer"
    )
    p.add_argument("--data", type=Path, default=_default_data(), help="data root or BSDS500 zip")
    p.add_argument("--vq-init", type=Path, required=True, help="tokenizer checkpoint")
    p.add_argument("--out", type=Path, required=True, help="the .npz to write")
    p.add_argument("--flips", action="store_true", help="also tokenize mirrored photos")
    p.add_argument("--half-shift", action="store_true", help="also photos moved by half a token")
    p.add_argument("--limit", type=int, default=0, help="photos per split (0 = all)")
    p.set_defaults(func=run_image_tokens)


def register_image_transformer(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "image-transformer",
        help="train only the masked transformer on cached token maps (a GPU run, say)",
    )
    p.add_argument("--tokens", type=Path, required=True, help="image-tokens output (.npz)")
    p.add_argument("--checkpoint-dir", type=Path, required=True)
    p.add_argument("--grid", type=int, default=16)
    add_transformer_arguments(
        p, minutes=10.0, batch=32, lr=1e-3, d_model=192, layers=4, heads=6, dropout=0.0
    )
    p.set_defaults(func=run_image_transformer)


def register_image_eval(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("image-eval", help="hole PSNR and gradient ratio vs OpenCV Telea")
    p.add_argument("--model", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=_default_data())
    p.add_argument("--crops", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--temperature",
        type=float,
        action="append",
        help="sampling temperature (repeat for several rows; default: the manifest's)",
    )
    p.set_defaults(func=run_image_eval)


def _load_splits(args: argparse.Namespace) -> tuple[list, list, list]:  # type: ignore[type-arg]
    from engine.train.image import data as idata

    limit = args.limit or None
    train = idata.load_split(args.data, "train", limit)
    val = idata.load_split(args.data, "val", limit)
    cut = min(MONITOR_FROM_VAL, len(val) * 4 // 5) if limit else MONITOR_FROM_VAL
    test = idata.load_split(args.data, "test", limit)
    return train + val[:cut], val[cut:], test


def run_image(args: argparse.Namespace) -> int:
    import numpy as np

    from engine.train.common import onnx_size_mb, set_cpu_threads
    from engine.train.image import card as image_card
    from engine.train.image import data as idata
    from engine.train.image import export as image_export
    from engine.train.image import maskgit as mg
    from engine.train.image import vq

    set_cpu_threads(2)
    command = args.command
    started = time.monotonic()
    train_images, monitor_images, test_images = _load_splits(args)
    print(
        f"photos: train {len(train_images)}, monitor {len(monitor_images)}, test {len(test_images)}"
    )
    rng = np.random.default_rng(args.seed + 99)
    monitor_crops = idata.random_crops(monitor_images, rng, 128, args.crop)
    vq_cfg = vq.tiny_config() if args.tiny else vq.VQConfig(codes=args.codes)
    init, init_stats = vq.load_tokenizer(args.vq_init) if args.vq_init else (None, {})
    if init is not None and args.vq_minutes <= 0 and not args.vq_max_steps:
        tokenizer, vq_stats = init, init_stats
        vq_cfg = tokenizer.cfg
    else:
        vq_settings = vq.VQTrainSettings(
            minutes=args.vq_minutes,
            max_steps=args.vq_max_steps,
            batch=args.vq_batch,
            crop=args.crop,
            seed=args.seed,
            bf16=not args.no_bf16,
        )
        tokenizer, vq_stats = vq.train_tokenizer(
            vq_cfg,
            train_images,
            monitor_crops,
            vq_settings,
            args.checkpoint_dir,
            init=init,
        )
    t0 = time.monotonic()
    train_maps = vq.tokenize_images(tokenizer, train_images, flips=args.flips)
    monitor_maps = vq.tokenize_images(tokenizer, monitor_images)
    print(f"tokenized {len(train_maps)} maps in {time.monotonic() - t0:.0f}s")
    views = (  # the photos the maps encode, in their order
        vq.tokenized_views(train_images, vq_cfg.patch, args.flips),
        vq.tokenized_views(monitor_images, vq_cfg.patch),
    )
    grid = min(args.grid, *(min(m.shape) for m in train_maps + monitor_maps))
    mg_cfg = (
        mg.tiny_config(vq_cfg.codes, grid)
        if args.tiny
        else mg.MaskGITConfig(
            vocab_size=vq_cfg.codes,
            grid=grid,
            d_model=args.d_model,
            n_layers=args.layers,
            n_heads=args.heads,
            max_rel=grid - 1,
        )
    )
    mg_cfg = replace(mg_cfg, context_input=args.context_input, patch=vq_cfg.patch)
    mg_init, mg_info = mg.load_checkpoint(args.maskgit_init) if args.maskgit_init else (None, {})
    if mg_init is not None and args.maskgit_minutes <= 0 and not args.maskgit_max_steps:
        # Export/evaluate a finished run (a GPU run of image-transformer, say) as it is.
        transformer, mg_stats, mg_cfg = mg_init, mg_info, mg_init.cfg
        if "unigram_loss" not in mg_stats:  # checkpoints from before the trainer recorded it
            mg_stats["unigram_loss"] = round(mg.unigram_loss(train_maps, vq_cfg.codes), 4)
    else:
        mg_settings = replace(
            mg.TRAIN_DEFAULTS,
            **budget_changes(
                args,
                minutes=args.maskgit_minutes,
                max_steps=args.maskgit_max_steps,
                batch=args.maskgit_batch,
            ),
        )
        transformer, mg_stats = mg.train(
            mg_cfg,
            train_maps,
            monitor_maps,
            mg_settings,
            vq_cfg.patch,
            args.checkpoint_dir,
            init=mg_init,
            command=command,
            views=views,
        )
    refine_stats = None
    if wants_refine(args):  # the decoder, on the transformer's own samples (image_refine)
        from engine.train.image import refine as image_refine

        tokenizer, refine_stats = image_refine.refine_decoder(
            tokenizer,
            transformer,
            (train_maps, views[0]),
            (monitor_maps, views[1]),
            refine_settings(args, image_refine.REFINE_DEFAULTS),
            args.checkpoint_dir,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    image_export.export_all(tokenizer, transformer, args.out)
    image_export.write_manifest(args.out, vq_cfg, mg_cfg)
    window = grid * vq_cfg.patch
    test_crops = idata.random_crops(test_images, np.random.default_rng(args.seed + 7), 200, window)
    vq_test = vq.evaluate_tokenizer(tokenizer, test_crops)
    print(f"tokenizer on {len(test_crops)} test crops of {window} px: {vq_test}")
    rows = None
    if not args.no_eval:
        extra = args.eval_temperature if args.eval_temperature is not None else [0.5]
        rows = _evaluate(args.out, test_images, args.eval_crops, window, args.seed, extra)
    timing = image_card.latency(args.out, transformer)
    print(timing)
    info = {
        "command": command,
        "total_minutes": round((time.monotonic() - started) / 60, 1),
        "vq": vq_stats,
        "vq_test": vq_test,
        "maskgit": mg_stats,
        "decoder_refine": refine_stats,
        "maps": len(train_maps),
    }
    args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    (args.checkpoint_dir / "run_info.json").write_text(json.dumps(info, indent=2, default=str))
    info["grid"] = grid
    notes = image_card.comparison_notes(rows, info)
    image_card.write_model_card(args.out, vq_cfg, mg_cfg, info, rows, timing, notes)
    print(f"wrote {args.out} ({onnx_size_mb(args.out):.1f} MB of ONNX)")
    return 0


def run_image_tokens(args: argparse.Namespace) -> int:
    from engine.train.common import save_token_cache
    from engine.train.image import vq

    tokenizer, _ = vq.load_tokenizer(args.vq_init)
    train_images, monitor_images, _ = _load_splits(args)
    if args.half_shift:
        half = tokenizer.cfg.patch // 2
        train_images = train_images + [image[half:, half:] for image in train_images]
    maps = {
        "train": vq.tokenize_images(tokenizer, train_images, flips=args.flips),
        "monitor": vq.tokenize_images(tokenizer, monitor_images),
    }
    meta = {"codes": tokenizer.cfg.codes, "patch": tokenizer.cfg.patch}
    print(f"wrote {args.out}: {save_token_cache(args.out, maps, meta)} token maps")
    return 0


def run_image_transformer(args: argparse.Namespace) -> int:
    from engine.train.common import load_token_cache
    from engine.train.image import maskgit as mg

    maps, meta = load_token_cache(args.tokens)
    train_maps, monitor_maps = maps["train"], maps["monitor"]
    codes, patch = int(meta["codes"]), int(meta["patch"])  # type: ignore[call-overload]
    print(f"{len(train_maps)} train maps, {len(monitor_maps)} monitor maps, {codes} codes")
    cfg = mg.MaskGITConfig(
        vocab_size=codes,
        grid=args.grid,
        d_model=args.d_model,
        n_layers=args.layers,
        n_heads=args.heads,
        max_rel=args.grid - 1,
        dropout=args.dropout,
    )
    settings = replace(mg.TRAIN_DEFAULTS, **loop_changes(args))
    command = args.command
    _, stats = mg.train(
        cfg, train_maps, monitor_maps, settings, patch, args.checkpoint_dir, command=command
    )
    print(json.dumps({k: v for k, v in stats.items() if k != "history"}, default=str))
    return 0


def _evaluate(
    model: Path,
    test_images: list,
    crops: int,
    window: int,
    seed: int,  # type: ignore[type-arg]
    temperatures: list[float] | None,
) -> list:  # type: ignore[type-arg]
    from engine.train.image import evaluate as image_eval

    cases = image_eval.make_cases(test_images, crops, window, seed)
    sampled: list[tuple[str, dict[str, object]]] = [("ours (manifest sampling)", {})]
    for t in temperatures or []:
        sampled.append((f"ours, temperature {t:g}", {"temperature": t}))
    rows = image_eval.evaluate(model, cases, sampled, seed)
    print(image_eval.table(rows))
    return rows


def run_image_eval(args: argparse.Namespace) -> int:
    from engine.train.image import data as idata

    manifest = json.loads((args.model / "manifest.json").read_text())
    window = int(manifest["medium_facts"]["window"])
    test_images = idata.load_split(args.data, "test")
    _evaluate(args.model, test_images, args.crops, window, args.seed, args.temperature)
    return 0
