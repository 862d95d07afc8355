"""Fourth image stage: the decoder trained against a patch discriminator, so fills get texture.

Why: the decoder learned with L1 and gradient-L1 only, and a pixel loss rewards the mean of
every plausible fill -- a soft patch (gradient-energy ratio 0.01-0.09 of the photo's in the
evaluation). No pretrained perceptual network can be downloaded here, so, as VQGAN (Esser
et al., CVPR 2021) does, a small PatchGAN discriminator (spectral norm, hinge loss) is trained
from scratch beside the decoder. It sees real windows and windows whose hole the decoder
filled (from the transformer's own samples, as :mod:`engine.train.image.refine` draws them);
only the patches that touch the hole count as fake (after LaMa, Suvorov et al. 2022), since
the rest of a filled window is the photo.

The decoder's loss: the refine stage's reconstruction loss + ``weight`` x an adaptive factor x
the hinge generator loss + ``fm_weight`` x feature matching (L1 between the discriminator's
features of the filled window and of the photo, inside the hole; pix2pixHD). The adaptive
factor is VQGAN's: the ratio of the reconstruction and adversarial gradient norms at the
decoder's last layer, so neither swamps the other whatever the scales. The adversarial terms
ramp in after ``start`` steps of the discriminator learning alone.

Only the decoder learns: encoder, codebook and transformer stay, so ``decoder.onnx`` is the
one file that changes and the model's contract (tokens, manifest) stays the same.
"""

from __future__ import annotations

import json
import time
from argparse import Namespace
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.nn.utils.parametrizations import spectral_norm

from engine.train.common import maybe_bf16, seed_everything, set_cpu_threads, warmup_cosine
from engine.train.image.recipe import GanSettings
from engine.train.image.refine import RefineBatches, refine_loss
from engine.train.image.vq import VQTokenizer
from engine.train.loop import MakeBatch

Log = Callable[[str], None]
Tensors = tuple[torch.Tensor, ...]


class SampledPool:
    """Training crops of windows whose holes the transformer filled, from a refreshed pool.

    Sampling a window's hole (12 transformer passes) costs more on this CPU than a decoder
    and discriminator step on it, and a batch of windows costs little more than one, so
    windows are kept: every ``fresh`` calls, ``fresh`` new ones (one sampler call) replace
    the oldest. Each call returns ``count`` random token-aligned crops of the pool,
    each holding some of its window's hole where the window has one.
    """

    def __init__(
        self, source: MakeBatch, rng: np.random.Generator, settings: GanSettings, patch: int
    ) -> None:
        self.source, self.fresh, self.patch = source, settings.fresh, patch
        self.crop = settings.crop_tokens
        self.arrays = list(source(rng, settings.pool))
        self.next = self.calls = 0

    def refresh(self, rng: np.random.Generator) -> None:
        new = self.source(rng, self.fresh)
        size = len(self.arrays[0])
        rows = [(self.next + i) % size for i in range(self.fresh)]
        for array, fresh in zip(self.arrays, new, strict=True):
            array[rows] = fresh
        self.next = (self.next + self.fresh) % size

    def __call__(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        self.calls += 1
        if self.fresh and self.calls % self.fresh == 0:
            self.refresh(rng)
        tokens, context, hole = self.arrays
        picks = rng.integers(0, len(tokens), count)
        out_t, out_c, out_h = [], [], []
        for pick in picks:
            top, left = self._corner(hole[pick, 0], tokens.shape[-1], rng)
            p, c = self.patch, self.crop
            out_t.append(tokens[pick, top : top + c, left : left + c])
            pixels = np.s_[top * p : (top + c) * p, left * p : (left + c) * p]
            out_c.append(context[pick][(slice(None), *pixels)])
            out_h.append(hole[pick][(slice(None), *pixels)])
        return np.stack(out_t), np.stack(out_c), np.stack(out_h)

    def _corner(self, hole: np.ndarray, grid: int, rng: np.random.Generator) -> tuple[int, int]:
        """A crop corner (token units) whose crop holds hole pixels, if one is found."""
        span = grid - self.crop + 1
        corner = (0, 0)
        for _ in range(8):
            corner = (int(rng.integers(0, span)), int(rng.integers(0, span)))
            size, (top, left) = (
                self.crop * self.patch,
                (corner[0] * self.patch, corner[1] * self.patch),
            )
            if hole[top : top + size, left : left + size].any():
                break
        return corner


class PatchDiscriminator(nn.Module):
    """[B, 3, H, W] in [-1, 1] -> (patch logits [B, 1, H/8, W/8], features at /2, /4, /8).

    Five spectral-norm convolutions (receptive field about 70 px), leaky ReLU, no
    normalisation layer, so it runs the same on a batch of one.
    """

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.blocks = nn.ModuleList(
            [
                spectral_norm(nn.Conv2d(3, c, 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1)),
                spectral_norm(nn.Conv2d(4 * c, 4 * c, 3, padding=1)),
            ]
        )
        self.head = spectral_norm(nn.Conv2d(4 * c, 1, 3, padding=1))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        x = pixels
        for block in self.blocks:
            x = F.leaky_relu(block(x), 0.2)
            features.append(x)
        return self.head(x), features


def hole_at(hole: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The hole at ``like``'s resolution: 1 where a cell holds any hole pixel."""
    return F.adaptive_max_pool2d(hole.float(), like.shape[-2:])


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weight = mask.expand_as(values)
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


def composite(pred: torch.Tensor, context: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The window as the user sees it: the fill inside the hole, the photo around it."""
    return pred * hole + context * (1.0 - hole)


def discriminator_loss(
    disc: PatchDiscriminator, real: torch.Tensor, filled: torch.Tensor, hole: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """Hinge loss: every patch of the photo is real, every patch touching the hole is fake."""
    real_logits, _ = disc(real)
    fake_logits, _ = disc(filled.detach())
    fake_mask = hole_at(hole, fake_logits)
    loss_real = F.relu(1.0 - real_logits.float()).mean()
    loss_fake = masked_mean(F.relu(1.0 + fake_logits.float()), fake_mask)
    stats = {
        "d_real": float(real_logits.detach().float().mean()),
        "d_fake": float(masked_mean(fake_logits.detach().float(), fake_mask)),
    }
    return loss_real + loss_fake, stats


def generator_terms(
    disc: PatchDiscriminator, real: torch.Tensor, filled: torch.Tensor, hole: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(hinge generator loss over the hole's patches, feature matching inside the hole)."""
    fake_logits, fake_features = disc(filled)
    with torch.no_grad():
        _, real_features = disc(real)
    adv = -masked_mean(fake_logits.float(), hole_at(hole, fake_logits))
    matching = [
        masked_mean((f.float() - r.float()).abs(), hole_at(hole, f))
        for f, r in zip(fake_features, real_features, strict=True)
    ]
    return adv, torch.stack(matching).mean()


def adaptive_factor(rec: torch.Tensor, adv: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """VQGAN's balance: |d rec / d last| / |d adv / d last|, clipped to [0, 1e4], no grad."""
    rec_grad = torch.autograd.grad(rec, last, retain_graph=True)[0]
    adv_grad = torch.autograd.grad(adv, last, retain_graph=True)[0]
    factor: torch.Tensor = rec_grad.norm() / (adv_grad.norm() + 1e-4)
    return factor.clamp(0.0, 1e4).detach()


@dataclass
class StepStats:
    """Running sums of one logging interval."""

    sums: dict[str, float]
    count: int = 0

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def line(self) -> str:
        means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        return " ".join(f"{k} {v:.4f}" for k, v in means.items())


class AdversarialTrainer:
    """One decoder, one discriminator, their optimisers; :meth:`step` takes a batch."""

    def __init__(self, tokenizer: VQTokenizer, settings: GanSettings) -> None:
        self.tokenizer, self.settings = tokenizer, settings
        self.disc = PatchDiscriminator(settings.disc_channels)
        for name, param in tokenizer.named_parameters():
            param.requires_grad_(name.startswith("decoder."))
        betas = (0.5, 0.9)  # VQGAN's
        self.opt_g = torch.optim.Adam(tokenizer.decoder.parameters(), settings.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), settings.disc_lr, betas=betas)
        self.balance: torch.Tensor | None = None

    def step(self, batch: Tensors, step: int, progress: float) -> dict[str, float]:
        tokens, context, hole = batch
        factor = warmup_cosine(step, progress, 50, 0.1)
        for opt, base in ((self.opt_g, self.settings.lr), (self.opt_d, self.settings.disc_lr)):
            for group in opt.param_groups:
                group["lr"] = base * factor
        self.tokenizer.decoder.train()
        self.disc.train()
        with maybe_bf16(self.settings.bf16):
            pred = self.tokenizer.decoder(self.tokenizer.code_vectors(tokens), context, hole)
            filled = composite(pred.float(), context, hole)
            d_loss, stats = discriminator_loss(self.disc, context, filled, hole)
        self._update(self.opt_d, self.disc, d_loss)
        share = self.settings.adversarial_share(step)
        self.disc.requires_grad_(False)  # the generator's step moves the decoder only
        with maybe_bf16(self.settings.bf16):
            rec, hole_error = refine_loss_of(pred, context, hole)
            g_loss = rec
            stats.update(
                rec=float(rec.detach()), hole_error=float(hole_error), d_loss=float(d_loss.detach())
            )
            if share > 0:
                adv, matching = generator_terms(self.disc, context, filled, hole)
                if self.balance is None or share < 1 or step % self.settings.balance_every == 0:
                    last = self.tokenizer.decoder.out.weight
                    self.balance = adaptive_factor(rec, adv, last)
                weight = share * self.settings.weight * self.balance
                g_loss = rec + weight * adv + share * self.settings.fm_weight * matching
                stats.update(
                    g_adv=float(adv.detach()), fm=float(matching.detach()), adv_weight=float(weight)
                )
        self._update(self.opt_g, self.tokenizer.decoder, g_loss)
        self.disc.requires_grad_(True)
        stats["texture"] = texture_ratio(pred.detach().float(), context, hole)
        return stats

    @staticmethod
    def _update(opt: torch.optim.Optimizer, module: nn.Module, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        opt.step()


def refine_loss_of(
    pred: torch.Tensor, context: torch.Tensor, hole: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The refine stage's loss on an already decoded batch (see :func:`refine_loss`)."""
    from engine.train.image.vq import reconstruction_loss

    pred = pred.float()
    loss = reconstruction_loss(pred, context, hole, torch.zeros(()))
    hole_error = ((pred - context).abs() * hole).sum() / (hole.sum() * 3).clamp(min=1.0)
    return loss, hole_error.detach()


def texture_ratio(pred: torch.Tensor, target: torch.Tensor, hole: torch.Tensor) -> float:
    """Gradient energy of the fill over the photo's, inside the hole (the evaluation's
    texture figure, on model-range pixels and pooled over the batch)."""

    def energy(x: torch.Tensor) -> torch.Tensor:
        dx = (x[..., :, 1:] - x[..., :, :-1]) ** 2 * (hole[..., :, 1:] * hole[..., :, :-1])
        dy = (x[..., 1:, :] - x[..., :-1, :]) ** 2 * (hole[..., 1:, :] * hole[..., :-1, :])
        return dx.sum() + dy.sum()

    return float(energy(pred) / energy(target).clamp(min=1e-6))


@torch.no_grad()
def validate(tokenizer: VQTokenizer, valid: Tensors, chunk: int = 32) -> dict[str, float]:
    """fp32 (reconstruction loss, hole error, texture ratio) on fixed held-out windows."""
    tokenizer.eval()
    losses, errors, preds = [], [], []
    for i in range(0, len(valid[0]), chunk):
        part = tuple(t[i : i + chunk] for t in valid)
        loss, error = refine_loss(tokenizer, part)
        losses.append(float(loss))
        errors.append(float(error))
        tokens, context, hole = part
        preds.append(tokenizer.decoder(tokenizer.code_vectors(tokens), context, hole))
    texture = texture_ratio(torch.cat(preds), valid[1], valid[2])
    return {
        "loss": round(float(np.mean(losses)), 4),
        "hole_error": round(float(np.mean(errors)), 4),
        "texture": round(texture, 4),
    }


def save_stage(path: Path, trainer: AdversarialTrainer, info: dict[str, object]) -> None:
    """Decoder and discriminator weights (``--decoder-init`` reads the decoder back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    blob = {
        "decoder": trainer.tokenizer.decoder.state_dict(),
        "discriminator": trainer.disc.state_dict(),
        "info": info,
    }
    torch.save(blob, tmp)
    tmp.replace(path)


def load_decoder(tokenizer: VQTokenizer, path: Path) -> dict[str, object]:
    """Put a :func:`save_stage` checkpoint's decoder into ``tokenizer``; its info."""
    blob = torch.load(path, map_location="cpu", weights_only=False)
    tokenizer.decoder.load_state_dict(blob["decoder"])
    return dict(blob["info"])


def train_adversarial(
    tokenizer: VQTokenizer,
    batches: MakeBatch,
    valid: Tensors,
    settings: GanSettings,
    checkpoint_dir: Path | None,
    log: Log = print,
) -> tuple[VQTokenizer, dict[str, object]]:
    """Train the decoder against the discriminator for the budget; the last weights and stats.

    GAN losses do not go down as the decoder improves, so no "best" copy is picked: the
    held-out figures are logged (and a checkpoint written) every ``eval_every_s``, and the
    evaluation decides.
    """
    set_cpu_threads(settings.threads)
    seed_everything(settings.seed)
    rng = np.random.default_rng(settings.seed)
    trainer = AdversarialTrainer(tokenizer, settings)
    pool = SampledPool(batches, rng, settings, tokenizer.cfg.patch)
    log(f"gan: pool of {settings.pool} sampled windows ready")
    before = validate(tokenizer, valid)
    log(f"gan: before {before}")
    history: list[dict[str, object]] = []
    started = last_eval = time.monotonic()
    step, running = 0, StepStats({})
    while not settings.done(step, time.monotonic() - started):
        batch = tuple(torch.from_numpy(a) for a in pool(rng, settings.batch))
        progress = settings.progress(step, time.monotonic() - started)
        running.add(trainer.step(batch, step, progress))
        step += 1
        if step % settings.log_every == 0:
            log(f"gan step {step} ({time.monotonic() - started:.0f}s): {running.line()}")
            running = StepStats({})
        if time.monotonic() - last_eval >= settings.eval_every_s:
            last_eval = time.monotonic()
            history.append(_checkpoint(trainer, valid, step, checkpoint_dir, log))
    after = _checkpoint(trainer, valid, step, checkpoint_dir, log)
    for param in tokenizer.parameters():
        param.requires_grad_(True)
    stats: dict[str, object] = {
        "steps": step,
        "minutes": round((time.monotonic() - started) / 60, 2),
        "valid_before": before,
        "valid_after": after,
        "history": history,
        "settings": asdict(settings),
    }
    return tokenizer.eval(), stats


def _checkpoint(
    trainer: AdversarialTrainer, valid: Tensors, step: int, folder: Path | None, log: Log
) -> dict[str, object]:
    figures: dict[str, object] = {"step": step, **validate(trainer.tokenizer, valid)}
    log(f"gan valid: {figures}")
    if folder is not None:
        save_stage(folder / f"gan_step{step:05d}.pt", trainer, figures)
    return figures


def run_stage(args: Namespace, settings: GanSettings) -> tuple[VQTokenizer, dict[str, object]]:
    """The stage as ``remask-train image-gan`` runs it: the model folder ``args.model``
    rebuilt in torch (its decoder from ``args.decoder_init`` when given), the training
    photos tokenized by its encoder, the decoder trained on windows its transformer fills."""
    from engine.train.image import maskgit as mg
    from engine.train.image import shipped, vq
    from engine.train.image.recipe import load_splits

    set_cpu_threads(settings.threads)
    tokenizer = shipped.load_tokenizer(args.model)
    if args.decoder_init is not None:
        print(f"decoder from {args.decoder_init}: {load_decoder(tokenizer, args.decoder_init)}")
    transformer = mg.load_torch_model(args.model)
    train, monitor, _ = load_splits(args)
    patch = tokenizer.cfg.patch
    data = (vq.tokenize_images(tokenizer, train), vq.tokenized_views(train, patch))
    held = (vq.tokenize_images(tokenizer, monitor), vq.tokenized_views(monitor, patch))
    print(f"photos: train {len(train)}, monitor {len(monitor)}")
    sampling = json.loads((Path(args.model) / "manifest.json").read_text())["sampling"]
    batches = RefineBatches(transformer, *data, sampling)
    valid_rows = 48 if not args.limit else 8
    valid_arrays = RefineBatches(transformer, *held, sampling)(np.random.default_rng(5), valid_rows)
    valid = tuple(torch.from_numpy(a) for a in valid_arrays)
    return train_adversarial(tokenizer, batches, valid, settings, args.checkpoint_dir)
