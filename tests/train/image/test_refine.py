"""Image decoder fine-tuning on sampled tokens: the holes it draws, the batches it samples,
and that only the decoder learns (the encoder and codebook, hence the tokens, stay)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from engine.train.image import data as idata  # noqa: E402
from engine.train.image import export as image_export  # noqa: E402
from engine.train.image import maskgit as mg  # noqa: E402
from engine.train.image import refine as image_refine  # noqa: E402
from engine.train.image import vq  # noqa: E402
from engine.train.image.export import DEFAULT_SAMPLING  # noqa: E402
from tests.train.image.tiny import GRID, PATCH, tiny_tokenizer_and_config  # noqa: E402


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    tokenizer, cfg, images = tiny_tokenizer_and_config()
    maps = vq.tokenize_images(tokenizer, images)
    views = vq.tokenized_views(images, PATCH)
    return tokenizer, mg.ImageMaskGIT(cfg).eval(), maps, views


def test_refine_holes_are_painted_shapes_brought_to_tokens_as_the_engine_does() -> None:
    holes = image_refine.refine_holes(200, GRID, PATCH, np.random.default_rng(2))
    assert holes.pixel_holes.shape == (200, 1, 32, 32) and holes.token_masks.shape == (200, 4, 4)
    for row in range(200):
        expected = idata.tokens_of_pixels(holes.pixel_holes[row, 0] > 0, PATCH)
        np.testing.assert_array_equal(holes.token_masks[row], expected)
    whole = holes.pixel_holes.min(axis=(1, 2, 3)) == 1
    np.testing.assert_array_equal(holes.sampled, ~whole)
    assert 0.8 < holes.sampled.mean() < 0.97


def test_batches_keep_every_token_outside_the_hole_and_sample_inside(trained) -> None:
    tokenizer, transformer, maps, views = trained
    batches = image_refine.RefineBatches(transformer, maps, views, DEFAULT_SAMPLING)
    tokens, context, hole = batches(np.random.default_rng(7), 12)
    assert tokens.shape == (12, GRID, GRID) and context.shape == (12, 3, 32, 32)
    assert context.min() >= -1 and context.max() <= 1
    # the photo's own tokens wherever no pixel of a token is in the hole (the windows are
    # the first thing drawn from the generator)
    positions = idata.window_positions(maps, np.random.default_rng(7), 12, GRID)
    photo_tokens = idata.gather_token_windows(maps, positions, GRID)
    outside = np.stack([~idata.tokens_of_pixels(h[0] > 0, PATCH) for h in hole])
    np.testing.assert_array_equal(tokens[outside], photo_tokens[outside])
    assert (tokens[~outside] != photo_tokens[~outside]).any()
    assert tokens.min() >= 0 and tokens.max() < tokenizer.cfg.codes


def test_refining_trains_the_decoder_alone_and_exports(trained, tmp_path) -> None:
    tokenizer, transformer, maps, views = trained
    before = {k: v.clone() for k, v in tokenizer.state_dict().items()}
    budget = replace(image_refine.REFINE_DEFAULTS, minutes=0, max_steps=3, batch=4, bf16=False)
    refined, stats = image_refine.refine_decoder(
        tokenizer,
        transformer,
        (maps, views),
        (maps, views),
        budget,
        tmp_path,
        log=lambda _: None,
    )
    after = refined.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("decoder.") for k in changed)
    assert (tmp_path / "vq_refined.pt").exists()
    assert stats["steps"] == 3 and "hole_error" in stats["valid_before"]
    image_export.export_all(refined.eval(), transformer, tmp_path)
    assert (tmp_path / "decoder.onnx").exists()


def test_the_refine_loss_falls_on_a_fixed_batch(trained) -> None:
    tokenizer, transformer, maps, views = trained
    model = vq.VQTokenizer(tokenizer.cfg)
    model.load_state_dict(tokenizer.state_dict())
    batches = image_refine.RefineBatches(transformer, maps, views, DEFAULT_SAMPLING)
    batch = tuple(torch.from_numpy(a) for a in batches(np.random.default_rng(0), 6))
    opt = torch.optim.Adam(model.decoder.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss, hole_error = image_refine.refine_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.7 * losses[0]
    assert float(hole_error) > 0
