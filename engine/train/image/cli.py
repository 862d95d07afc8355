"""``remask-train image`` / ``image-eval``: train, export and evaluate the image model.

    remask-train image --tokenizer-minutes 13 --transformer-minutes 17
    remask-train image-eval --model assets/models/image-maskgit --json /tmp/eval.json --card
    remask-train image-gan --model assets/models/image-maskgit --gan-minutes 40 --out runs/gan

The stages of ``image`` are :mod:`engine.train.recipe`'s, the image steps
:mod:`engine.train.image.recipe`'s. torch is imported by the handlers only.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from engine.train.cli_args import add_transformer_arguments, loop_changes
from engine.train.image.recipe import DEFAULTS, GanSettings, ImageRecipe, load_splits
from engine.train.recipe import add_recipe_arguments

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUT = REPO_ROOT / "assets" / "models" / "image-maskgit"
DEFAULT_CKPT = Path("/tmp/remask-image-ckpt")


def _default_data() -> Path:
    return REPO_ROOT / ".." / "shared" / "data"


def register_image(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("image", help="train, export and evaluate the image VQ + masked transformer")
    add_recipe_arguments(
        p,
        DEFAULTS,
        out=DEFAULT_OUT,
        checkpoint_dir=DEFAULT_CKPT,
        data_help="data root or BSDS500 zip",
        aliases=True,
    )
    p.add_argument("--crop", type=int, default=64, help="tokenizer training crop (px)")
    p.add_argument("--grid", type=int, default=16, help="transformer window in tokens (side)")
    p.add_argument(
        "--context-input",
        action="store_true",
        help="the transformer also reads the known pixels, not only their tokens",
    )
    p.add_argument("--flips", action="store_true", help="also tokenize mirrored photos")
    p.add_argument("--limit", type=int, default=0, help="photos per split (0 = all; smoke runs)")
    p.add_argument("--eval-crops", type=int, default=40)
    p.add_argument(
        "--eval-temperature",
        type=float,
        action="append",
        help="extra evaluation row at this sampling temperature (default: 0.5)",
    )
    p.set_defaults(func=run_image)


def register_image_tokens(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "image-tokens", help="token maps of the training photos, for image-transformer"
    )
    p.add_argument("--data", type=Path, default=_default_data(), help="data root or BSDS500 zip")
    p.add_argument(
        "--tokenizer-init", "--vq-init", type=Path, required=True, help="tokenizer checkpoint"
    )
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
    p = sub.add_parser(
        "image-eval",
        help="honest inpainting evaluation (painted holes, six mask kinds) vs OpenCV Telea and NS",
    )
    p.add_argument("--model", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data", type=Path, default=_default_data())
    p.add_argument("--photos", type=int, default=24, help="test photos per window-sized kind")
    p.add_argument("--big-photos", type=int, default=6, help="1024×768 photos (150-300 px holes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write this run's numbers here")
    p.add_argument(
        "--before", type=Path, help="an earlier run's --json, shown beside this one in the table"
    )
    p.add_argument(
        "--card",
        action="store_true",
        help="rewrite the evaluation section of the model's MODEL_CARD.md with this run",
    )
    p.set_defaults(func=run_image_eval)


def run_image(args: argparse.Namespace) -> int:
    from engine.train import recipe

    return recipe.run(ImageRecipe(), DEFAULTS, args)


def run_image_tokens(args: argparse.Namespace) -> int:
    from engine.train.common import save_token_cache
    from engine.train.image import vq

    tokenizer, _ = vq.load_tokenizer(args.tokenizer_init)
    train_images, monitor_images, _ = load_splits(args)
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


def run_image_eval(args: argparse.Namespace) -> int:
    from engine.train.image import card as image_card
    from engine.train.image import data as idata
    from engine.train.image import evaluate as image_eval

    test_images = idata.load_split(args.data, "test")
    per_kind = {kind: args.photos for kind in image_eval.KINDS}
    per_kind["photo1024"] = args.big_photos
    report = image_eval.evaluate(args.model, test_images, per_kind, args.seed)
    before = None
    if args.before is not None:
        before = image_eval.Report.from_json(json.loads(args.before.read_text()))
    print(image_eval.table(report, before))
    print(f"{report.seconds / 60:.1f} min")
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=1))
    if args.card:
        print(f"wrote {image_card.update_evaluation(args.model, report, before)}")
    return 0


def register_image_gan(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "image-gan",
        help="train a model folder's decoder against a patch discriminator (texture in fills)",
    )
    p.add_argument("--model", type=Path, default=DEFAULT_OUT, help="model folder to start from")
    p.add_argument("--data", type=Path, default=_default_data(), help="data root or BSDS500 zip")
    p.add_argument("--out", type=Path, required=True, help="the new model folder")
    p.add_argument("--checkpoint-dir", type=Path, help="decoder + discriminator checkpoints")
    p.add_argument("--decoder-init", type=Path, help="an image-gan checkpoint to start from")
    p.add_argument("--gan-minutes", type=float, default=GanSettings.minutes)
    p.add_argument("--gan-max-steps", type=int, default=0, help="stop after N steps (0 = time)")
    p.add_argument("--gan-batch", type=int, default=GanSettings.batch)
    p.add_argument("--gan-lr", type=float, default=GanSettings.lr)
    p.add_argument(
        "--gan-weight",
        type=float,
        default=GanSettings.weight,
        help="hinge generator loss weight (times VQGAN's adaptive factor)",
    )
    p.add_argument(
        "--gan-fm-weight", type=float, default=GanSettings.fm_weight, help="feature matching"
    )
    p.add_argument("--gan-start", type=int, default=GanSettings.start, help="D-only steps")
    p.add_argument("--gan-ramp", type=int, default=GanSettings.ramp, help="steps to full weight")
    p.add_argument("--limit", type=int, default=0, help="photos per split (0 = all; smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (slower on this CPU)")
    p.set_defaults(func=run_image_gan)


def run_image_gan(args: argparse.Namespace) -> int:
    from engine.train.image import adversarial as gan
    from engine.train.image import shipped

    settings = GanSettings(
        minutes=args.gan_minutes,
        max_steps=args.gan_max_steps,
        batch=args.gan_batch,
        lr=args.gan_lr,
        weight=args.gan_weight,
        fm_weight=args.gan_fm_weight,
        start=args.gan_start,
        ramp=args.gan_ramp,
        seed=args.seed,
        bf16=args.bf16,
    )
    if settings.minutes <= 0 and not settings.max_steps:  # export a checkpoint as it is
        if args.decoder_init is None:
            raise SystemExit("image-gan: no budget and no --decoder-init: nothing to export")
        tokenizer = shipped.load_tokenizer(args.model)
        stats = {
            "exported": str(args.decoder_init),
            **gan.load_decoder(tokenizer, args.decoder_init),
        }
    else:
        tokenizer, stats = gan.run_stage(args, settings)
    err = shipped.write_with_decoder(tokenizer, args.model, args.out)
    stats["command"] = args.command
    stats["onnx_max_error"] = err
    (args.out / "gan_stats.json").write_text(json.dumps(stats, indent=1, default=str))
    print(f"wrote {args.out} (decoder ONNX vs torch {err:.2e})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The image medium's training subcommands."""
    register_image(sub)
    register_image_eval(sub)
    register_image_gan(sub)
    register_image_tokens(sub)
    register_image_transformer(sub)
