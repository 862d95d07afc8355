"""The shared training loop: best-weights bookkeeping, data workers, devices."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.train.image import maskgit as mg  # noqa: E402
from engine.train.loop import (  # noqa: E402
    LoopSettings,
    evaluate,
    masked_token_loss,
    resolve_device,
    train_loop,
)

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _maps() -> list[np.ndarray]:
    rows = np.arange(12)[:, None] // 2
    cols = np.arange(12)[None, :] // 3
    return [((rows + cols + k) % 6).astype(np.int64) for k in range(4)]


def _problem() -> tuple[mg.MaskGITConfig, list[np.ndarray], tuple[np.ndarray, ...]]:
    cfg = mg.tiny_config(vocab_size=8, grid=4)
    maps = _maps()
    return cfg, maps, mg.training_batch(maps, np.random.default_rng(5), 32, cfg, 8)


def _run(settings: LoopSettings, on_best=None):  # type: ignore[no-untyped-def]
    cfg, maps, valid = _problem()

    def make_batch(rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        return mg.training_batch(maps, rng, count, cfg, 8)

    model = mg.ImageMaskGIT(cfg)
    final, stats = train_loop(
        model, make_batch, masked_token_loss, valid, settings, lambda s: None, on_best
    )
    return model, final, stats, valid


def test_returns_a_cpu_copy_holding_the_best_scored_weights() -> None:
    saved: list[dict[str, object]] = []
    settings = LoopSettings(max_steps=40, batch=8, lr=3e-3, warmup_steps=2, eval_every_s=0.0)
    live, final, stats, valid = _run(settings, lambda module, entry: saved.append(entry))
    assert final is not live and not final.training
    best = min(
        min(entry["raw"][0], entry["ema"][0])  # type: ignore[index]
        for entry in stats["history"]  # type: ignore[union-attr]
    )
    assert stats["valid_masked_loss"] == pytest.approx(best, abs=1e-4)
    valid_t = tuple(torch.from_numpy(a) for a in valid)
    assert evaluate(final, masked_token_loss, valid_t, CPU)[0] == pytest.approx(best, abs=1e-3)
    assert saved and len(stats["history"]) == 40  # type: ignore[arg-type]
    assert stats["settings"]["batch"] == 8  # type: ignore[index]


def test_background_workers_feed_the_same_loop() -> None:
    settings = LoopSettings(max_steps=6, batch=4, warmup_steps=2, workers=2, bf16=False)
    _, final, stats, _ = _run(settings)
    assert stats["steps"] == 6 and stats["windows_seen"] == 24
    assert all(torch.isfinite(p).all() for p in final.parameters())


def test_devices_resolve_and_a_missing_gpu_is_an_error() -> None:
    assert resolve_device("cpu") == CPU
    assert resolve_device("auto").type in {"cpu", "cuda"}
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_run_on_a_cpu_machine_stops_at_once_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from engine.train.cli import main

    argv = ["image-transformer", "--tokens", "/nowhere.npz", "--checkpoint-dir", "/nowhere"]
    assert main([*argv, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "remask-train: --device cuda: torch sees no CUDA GPU on this machine"
