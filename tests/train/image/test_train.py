"""Image model: real training steps, ONNX parity, torch reload, and one engine generation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")

from engine.jobs import GenerateRequest, run_model_generation  # noqa: E402
from engine.media.image.codec import ImageCodec, token_mask  # noqa: E402
from engine.media.image.files import LoadedImage  # noqa: E402
from engine.models import load_manifest  # noqa: E402
from engine.runtime import load_transformer  # noqa: E402
from engine.train.common import seed_everything  # noqa: E402
from engine.train.image import data as idata  # noqa: E402
from engine.train.image import evaluate as image_eval  # noqa: E402
from engine.train.image import export as image_export  # noqa: E402
from engine.train.image import maskgit as mg  # noqa: E402
from engine.train.image import vq  # noqa: E402
from engine.train.loop import evaluate, masked_token_loss  # noqa: E402
from tests.engine.helpers import generate_with_manifest  # noqa: E402

GRID = 4
WINDOW = GRID * 8


@pytest.fixture(scope="module")
def tiny_models() -> tuple[vq.VQTokenizer, mg.ImageMaskGIT]:
    seed_everything(0)
    tokenizer = vq.VQTokenizer(vq.tiny_config())
    images = idata.synthetic_images(4, 48)
    tokenizer.train()
    with torch.no_grad():  # initialise the codebook from real encoder outputs
        tokenizer(*vq.batch_of(images, np.random.default_rng(0), 4, WINDOW))
    transformer = mg.ImageMaskGIT(mg.tiny_config(tokenizer.cfg.codes, GRID))
    return tokenizer.eval(), transformer.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, tiny_models) -> Path:
    tokenizer, transformer = tiny_models
    folder = tmp_path_factory.mktemp("image-model")
    image_export.export_all(tokenizer, transformer, folder)
    image_export.write_manifest(
        folder, tokenizer.cfg, transformer.cfg, {"steps": 3}, name="tiny-image-maskgit"
    )
    return folder


# --------------------------------------------------------------------------- data and masks


def test_brush_masks_cover_the_requested_fraction() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = idata.brush_mask(rng, (64, 64), (0.1, 0.4))
        assert 0.1 <= mask.mean() <= 0.4


def test_token_masks_match_the_engine_rule() -> None:
    rng = np.random.default_rng(4)
    pixels = idata.brush_mask(rng, (64, 64), (0.1, 0.3))
    assert np.array_equal(idata.tokens_of_pixels(pixels, 8), token_mask(pixels, 8))
    for _ in range(30):
        mask, _hole = idata.training_masks(rng, 8, 8)
        assert mask.shape == (8, 8) and mask.any()


def test_bsds500_splits_load_when_staged() -> None:
    try:
        zip_file = idata.zip_path(idata.default_data_dir())
    except FileNotFoundError:
        pytest.skip("BSDS500 not staged at ../shared/data/images/bsds500")
    test = idata.load_split(zip_file, "test", limit=2)
    assert len(test) == 2 and test[0].dtype == np.uint8 and test[0].shape[2] == 3
    assert min(test[0].shape[:2]) == 321


# --------------------------------------------------------------------------- training


def test_tokenizer_training_lowers_the_loss() -> None:
    seed_everything(0)
    images = idata.synthetic_images(6, 48)
    pixels, hole = vq.batch_of(images, np.random.default_rng(1), 8, WINDOW)

    def fixed_loss(model: vq.VQTokenizer) -> float:
        model.eval()
        with torch.no_grad():
            pred, _, commit = model(pixels, hole)
        return float(vq.reconstruction_loss(pred, pixels, hole, commit))

    model = vq.VQTokenizer(vq.tiny_config())
    settings = vq.VQTrainSettings(max_steps=40, batch=8, crop=WINDOW, lr=3e-3, warmup_steps=5)
    model, stats = vq.train_tokenizer(
        vq.tiny_config(),
        images,
        idata.random_crops(images, np.random.default_rng(2), 8, WINDOW),
        settings,
        log=lambda s: None,
    )
    before = fixed_loss(vq.VQTokenizer(vq.tiny_config()))
    assert stats["steps"] == 40
    assert fixed_loss(model) < before


def test_transformer_training_lowers_the_loss() -> None:
    seed_everything(0)
    rows = np.arange(12)[:, None] // 2
    cols = np.arange(12)[None, :] // 3
    maps = [((rows + cols + k) % 6).astype(np.int64) for k in range(4)]
    cfg = mg.tiny_config(vocab_size=8, grid=GRID)
    valid = tuple(
        torch.from_numpy(a) for a in mg.training_batch(maps, np.random.default_rng(5), 64, cfg, 8)
    )
    cpu = torch.device("cpu")
    before = evaluate(mg.ImageMaskGIT(cfg), masked_token_loss, valid, cpu)[0]
    settings = replace(
        mg.TRAIN_DEFAULTS, max_steps=60, batch=16, lr=3e-3, warmup_steps=5, bf16=False
    )
    model, stats = mg.train(cfg, maps, maps, settings, log=lambda s: None)
    assert stats["steps"] == 60
    assert evaluate(model, masked_token_loss, valid, cpu)[0] < before - 0.3


# --------------------------------------------------------------------------- export


def test_onnx_matches_torch(exported: Path, tiny_models) -> None:
    tokenizer, transformer = tiny_models
    rng = np.random.default_rng(0)
    pixels = rng.uniform(-1, 1, (2, 3, WINDOW, WINDOW)).astype(np.float32)
    hole = (rng.random((2, 1, WINDOW, WINDOW)) < 0.4).astype(np.float32)
    enc = ort.InferenceSession(str(exported / "encoder.onnx"), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(exported / "decoder.onnx"), providers=["CPUExecutionProvider"])
    tra = ort.InferenceSession(
        str(exported / "transformer.onnx"), providers=["CPUExecutionProvider"]
    )
    tokens = enc.run(None, {"pixels": pixels})[0]
    probe = rng.integers(0, transformer.cfg.mask_id + 1, (3, GRID * GRID)).astype(np.int64)
    with torch.no_grad():
        want_tokens = vq.EncoderGraph(tokenizer)(torch.from_numpy(pixels)).numpy()
        want_pixels = vq.DecoderGraph(tokenizer)(
            torch.from_numpy(tokens), torch.from_numpy(pixels), torch.from_numpy(hole)
        ).numpy()
        want_logits = transformer(torch.from_numpy(probe)).numpy()
    assert tokens.dtype == np.int64 and tokens.shape == (2, GRID, GRID)
    assert np.array_equal(tokens, want_tokens)
    got_pixels = dec.run(None, {"tokens": tokens, "context": pixels, "hole": hole})[0]
    np.testing.assert_allclose(got_pixels, want_pixels, atol=1e-4)
    np.testing.assert_allclose(tra.run(None, {"tokens": probe})[0], want_logits, atol=1e-4)


def test_load_torch_model_round_trip(exported: Path, tiny_models) -> None:
    _, transformer = tiny_models
    reloaded = mg.load_torch_model(exported)
    probe = torch.randint(0, transformer.cfg.mask_id + 1, (2, GRID * GRID))
    with torch.no_grad():
        assert torch.allclose(reloaded(probe), transformer(probe), atol=1e-6)


def test_exported_folder_runs_one_engine_generation(exported: Path) -> None:
    manifest = load_manifest(exported)
    assert manifest.medium == "image" and manifest.shape == (GRID, GRID)
    codec = ImageCodec(manifest, feather_px=1)
    rgb = idata.synthetic_images(1, 48, seed=9)[0]
    mask = np.zeros((48, 48), dtype=bool)
    mask[10:22, 14:30] = True
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    request = GenerateRequest(
        0, manifest.name, manifest.default_settings(variations=2), payload, codec
    )
    variations, tokens = generate_with_manifest(request, manifest)
    assert tokens.shape == (2, GRID * GRID) and (tokens < manifest.vocab_size).all()
    for result in variations:
        assert np.array_equal(result.rgb[~mask], rgb[~mask])


def test_eval_metrics_and_telea() -> None:
    images = idata.synthetic_images(3, 48)
    cases = image_eval.make_cases(images, 3, WINDOW, seed=0)
    for case in cases:
        assert 0.1 <= case.mask.mean() <= 0.4
        assert image_eval.gradient_ratio(case.crop, case.crop, case.mask) == pytest.approx(1.0)
        filled = image_eval.telea(case)
        assert np.array_equal(filled[~case.mask], case.crop[~case.mask])
        assert image_eval.hole_psnr(filled, case.crop, case.mask) > 5


def test_training_masks_bring_the_pixel_hole_to_tokens_as_the_engine_does() -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):
        tokens, pixels = idata.training_masks(rng, GRID, GRID, 8)
        assert pixels.shape == (WINDOW, WINDOW) and tokens.any()
        assert np.array_equal(tokens, token_mask(pixels, 8))


def test_a_transformer_reading_known_pixels_trains_exports_and_generates(
    tiny_models, tmp_path: Path
) -> None:
    seed_everything(0)
    tokenizer, _ = tiny_models
    images = idata.synthetic_images(3, 48, seed=4)
    views = vq.tokenized_views(images, 8)
    maps = vq.tokenize_images(tokenizer, images)
    assert [v.shape[:2] for v in views] == [(m.shape[0] * 8, m.shape[1] * 8) for m in maps]
    cfg = replace(mg.tiny_config(tokenizer.cfg.codes, GRID), context_input=True)
    batch = mg.training_batch(maps, np.random.default_rng(0), 6, cfg, 8, views)
    inputs, _targets, masks, context, hole = batch
    assert context.shape == (6, 3, WINDOW, WINDOW) and hole.shape == (6, 1, WINDOW, WINDOW)
    for row in range(6):  # the hole the model reads is the one its masked tokens come from
        assert np.array_equal(token_mask(hole[row, 0] > 0, 8).reshape(-1), masks[row])
    settings = replace(mg.TRAIN_DEFAULTS, max_steps=3, batch=4, bf16=False)
    model, stats = mg.train(cfg, maps, maps, settings, log=lambda s: None, views=(views, views))
    assert stats["steps"] == 3
    image_export.export_all(tokenizer, model, tmp_path)
    image_export.write_manifest(tmp_path, tokenizer.cfg, cfg, {"steps": 3}, name="tiny-ctx")
    manifest = load_manifest(tmp_path)
    assert manifest.side_inputs == ("context", "hole")
    reloaded = mg.load_torch_model(tmp_path)
    probe = [torch.from_numpy(a) for a in (inputs, context, hole)]
    with torch.no_grad():
        torch.testing.assert_close(reloaded(*probe), model.eval()(*probe))
        assert not torch.allclose(reloaded(*probe), reloaded(probe[0], probe[1], 1 - probe[2]))
    codec = ImageCodec(manifest, feather_px=1)
    rgb = idata.synthetic_images(1, 48, seed=9)[0]
    mask = np.zeros((48, 48), dtype=bool)
    mask[10:22, 14:30] = True
    (payload,) = codec.payloads(LoadedImage.from_rgb(rgb), mask)
    problem = codec.encode(payload)
    assert problem.side_inputs is not None
    np.testing.assert_array_equal(
        problem.side_inputs["hole"][0] > 0, codec.window_inputs(payload)[1]
    )
    request = GenerateRequest(
        0, manifest.name, manifest.default_settings(variations=2), payload, codec
    )
    variations, _ = run_model_generation(
        request, load_transformer(manifest), manifest.mask_id, lambda s: None, lambda: False
    )
    for result in variations:
        assert np.array_equal(result.rgb[~mask], rgb[~mask])
