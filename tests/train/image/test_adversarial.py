"""The adversarial decoder stage: the shipped model rebuilt from its ONNX files, the pool of
sampled crops, the hinge losses' masking, a few real steps (finite, decoder only) and the
exported folder (only decoder.onnx differs, and it matches torch)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from engine.train.image import adversarial as gan  # noqa: E402
from engine.train.image import data as idata  # noqa: E402
from engine.train.image import export as image_export  # noqa: E402
from engine.train.image import maskgit as mg  # noqa: E402
from engine.train.image import shipped, vq  # noqa: E402
from engine.train.image.export import DEFAULT_SAMPLING  # noqa: E402
from engine.train.image.recipe import GanSettings  # noqa: E402
from engine.train.image.refine import RefineBatches  # noqa: E402
from tests.train.image.tiny import PATCH, tiny_tokenizer_and_config  # noqa: E402

TINY = GanSettings(
    max_steps=4, batch=4, crop_tokens=2, pool=6, fresh=2, start=1, ramp=1, disc_channels=8
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny trained-looking model folder, exported as the shipped one is."""
    tokenizer, cfg, _images = tiny_tokenizer_and_config()
    out = tmp_path_factory.mktemp("tiny-image")
    image_export.export_all(tokenizer, mg.ImageMaskGIT(cfg).eval(), out)
    image_export.write_manifest(out, tokenizer.cfg, cfg)
    return out


def _batches(tokenizer: vq.VQTokenizer, folder: Path) -> RefineBatches:
    images = idata.synthetic_images(4, 48)
    maps = vq.tokenize_images(tokenizer, images)
    views = vq.tokenized_views(images, PATCH)
    return RefineBatches(mg.load_torch_model(folder), maps, views, DEFAULT_SAMPLING)


def test_the_tokenizer_rebuilt_from_onnx_decodes_as_the_onnx_files_do(folder: Path) -> None:
    tokenizer = shipped.load_tokenizer(folder)
    rng = np.random.default_rng(1)
    pixels = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    hole = (rng.random((2, 1, 32, 32)) < 0.5).astype(np.float32)
    enc = ort.InferenceSession(str(folder / "encoder.onnx"))
    dec = ort.InferenceSession(str(folder / "decoder.onnx"))
    tokens = enc.run(None, {"pixels": pixels})[0]
    with torch.no_grad():
        mine = vq.EncoderGraph(tokenizer)(torch.from_numpy(pixels)).numpy()
        decoded = vq.DecoderGraph(tokenizer)(
            torch.from_numpy(tokens), torch.from_numpy(pixels), torch.from_numpy(hole)
        ).numpy()
    np.testing.assert_array_equal(mine, tokens)
    want = dec.run(None, {"tokens": tokens, "context": pixels, "hole": hole})[0]
    np.testing.assert_allclose(decoded, want, atol=1e-5)


def test_the_pool_hands_out_token_aligned_crops_that_hold_hole(folder: Path) -> None:
    tokenizer = shipped.load_tokenizer(folder)
    rng = np.random.default_rng(3)
    pool = gan.SampledPool(_batches(tokenizer, folder), rng, TINY, PATCH)
    first = [a.copy() for a in pool.arrays]
    tokens, context, hole = pool(rng, 10)
    assert tokens.shape == (10, 2, 2) and context.shape == (10, 3, 16, 16)
    assert hole.shape == (10, 1, 16, 16) and hole.any(axis=(1, 2, 3)).mean() > 0.5
    tokens, context, hole = pool(rng, 10)  # the second call refreshes ``fresh`` windows
    changed = [not np.array_equal(a[:2], b[:2]) for a, b in zip(first, pool.arrays, strict=True)]
    assert any(changed)
    np.testing.assert_array_equal(first[1][2:], pool.arrays[1][2:])


def test_only_patches_touching_the_hole_count_as_fake() -> None:
    disc = gan.PatchDiscriminator(8).eval()  # no power iteration between the calls
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    no_hole = torch.zeros(2, 1, 32, 32)
    loss, _ = gan.discriminator_loss(disc, real, real.clone(), no_hole)
    logits, _ = disc(real)
    np.testing.assert_allclose(float(loss), float(torch.relu(1 - logits).mean()), rtol=1e-5)
    hole = no_hole.clone()
    hole[:, :, :8, :8] = 1
    assert gan.hole_at(hole, logits).sum() == 2  # one 8-px cell per window
    adv, matching = gan.generator_terms(disc, real, real.clone(), hole)
    assert float(matching) == 0.0 and torch.isfinite(adv)


def test_a_few_real_steps_train_the_decoder_alone_and_export_matches_torch(
    folder: Path, tmp_path: Path
) -> None:
    tokenizer = shipped.load_tokenizer(folder)
    before = {k: v.clone() for k, v in tokenizer.state_dict().items()}
    batches = _batches(tokenizer, folder)
    valid = tuple(torch.from_numpy(a) for a in batches(np.random.default_rng(5), 6))
    logged: list[str] = []
    trained, stats = gan.train_adversarial(
        tokenizer, batches, valid, TINY, tmp_path / "ckpt", logged.append
    )
    assert stats["steps"] == 4
    after = trained.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("decoder.") for k in changed)
    figures = stats["valid_after"]
    assert isinstance(figures, dict)
    assert all(np.isfinite(float(figures[k])) for k in ("loss", "hole_error", "texture"))
    assert (tmp_path / "ckpt" / "gan_step00004.pt").exists()
    out = tmp_path / "model"
    err = shipped.write_with_decoder(trained, folder, out)
    assert err < 1e-4
    for name in ("encoder.onnx", "transformer.onnx", "manifest.json"):
        assert (out / name).read_bytes() == (folder / name).read_bytes()
    assert (out / "decoder.onnx").read_bytes() != (folder / "decoder.onnx").read_bytes()
    reloaded = shipped.load_tokenizer(out)
    assert torch.equal(reloaded.decoder.out.weight, trained.decoder.out.weight)


def test_the_adversarial_terms_join_after_the_discriminator_has_a_head_start(
    folder: Path,
) -> None:
    tokenizer = shipped.load_tokenizer(folder)
    trainer = gan.AdversarialTrainer(tokenizer, replace(TINY, start=2, ramp=2))
    pool = gan.SampledPool(_batches(tokenizer, folder), np.random.default_rng(0), TINY, PATCH)
    rng = np.random.default_rng(1)
    shares = []
    for step in range(5):
        batch = tuple(torch.from_numpy(a) for a in pool(rng, 4))
        stats = trainer.step(batch, step, step / 5)
        assert all(np.isfinite(v) for v in stats.values())
        shares.append("g_adv" in stats)
    assert shares == [False, False, False, True, True]
    assert trainer.balance is not None and float(trainer.balance) > 0
