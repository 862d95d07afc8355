"""Staged training from the command line: token caches, transformer-only runs, `--init` chains.

These are the commands a GPU run uses (`--device cuda` there); here they run on the CPU on
synthetic data, a few steps each.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.train.cli import main  # noqa: E402
from engine.train.common import load_token_cache, save_token_cache  # noqa: E402
from engine.train.image import maskgit as mg  # noqa: E402
from engine.train.motion import train as motion_train  # noqa: E402
from engine.train.motion.model import tiny_config  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _image_tokens(path: Path) -> Path:
    rng = np.random.default_rng(0)
    maps = {
        split: [rng.integers(0, 16, (6, 7)) for _ in range(count)]
        for split, count in (("train", 3), ("monitor", 2))
    }
    assert save_token_cache(path, maps, {"codes": 16, "patch": 8}) == 5
    return path


def test_image_transformer_trains_on_cached_token_maps(tmp_path: Path) -> None:
    tokens = _image_tokens(tmp_path / "tokens.npz")
    maps, meta = load_token_cache(tokens)
    assert (len(maps["train"]), len(maps["monitor"]), meta) == (3, 2, {"codes": 16, "patch": 8})
    assert maps["train"][0].dtype == np.int64
    ckpt = tmp_path / "ckpt"
    argv = ["image-transformer", "--tokens", str(tokens), "--checkpoint-dir", str(ckpt)]
    argv += ["--max-steps", "3", "--batch", "4", "--grid", "4", "--d-model", "16"]
    argv += ["--layers", "1", "--heads", "2", "--device", "cpu"]
    assert main(argv) == 0
    model, info = mg.load_checkpoint(ckpt / "maskgit_final.pt")
    assert model.cfg.vocab_size == 16 and model.cfg.grid == 4
    assert info["steps"] == 3 and str(info["command"]).startswith("remask-train image-transformer")
    assert info["unigram_loss"] == pytest.approx(np.log(16), abs=0.2)


def _motion_tokens(path: Path) -> Path:
    cfg = tiny_config()
    rng = np.random.default_rng(1)
    sequences = {
        split: [
            rng.integers(0, cfg.codebook, (2, cfg.tokens_per_row + int(rng.integers(0, 5))))
            for _ in range(count)
        ]
        for split, count in (("train", 4), ("valid", 2))
    }
    save_token_cache(path, sequences, asdict(cfg))
    return path


def test_motion_transformer_trains_on_cached_tokens(tmp_path: Path) -> None:
    tokens = _motion_tokens(tmp_path / "tokens.npz")
    ckpt = tmp_path / "ckpt"
    argv = ["motion-transformer", "--tokens", str(tokens), "--checkpoint-dir", str(ckpt)]
    argv += ["--max-steps", "3", "--batch", "4", "--d-model", "16", "--layers", "1"]
    argv += ["--heads", "2", "--dropout", "0", "--device", "cpu"]
    assert main(argv) == 0
    model, info = motion_train.load_transformer_checkpoint(ckpt / "transformer.pt")
    assert model.cfg.codebook == tiny_config().codebook and model.cfg.d_model == 16
    assert info["steps"] == 3 and "motion-transformer" in str(info["command"])


def _jsb(path: Path) -> Path:
    """A Coconet-format npz: each split an object array of (L, 4) float MIDI pitches."""
    rng = np.random.default_rng(2)

    def piece() -> np.ndarray:
        chord = np.array([72.0, 64.0, 55.0, 48.0]) + rng.integers(-2, 3, 4)
        return np.repeat(chord[None], 48, axis=0) + np.repeat(rng.integers(-2, 3, (12, 4)), 4, 0)

    splits = {name: np.empty(3, dtype=object) for name in ("train", "valid", "test")}
    for array in splits.values():
        for i in range(3):
            array[i] = piece()
    np.savez(path, **splits)
    return path


def test_chorale_stages_chain_and_the_card_lists_every_command(tmp_path: Path) -> None:
    data = _jsb(tmp_path / "Jsb16thSeparated.npz")
    common = ["--data", str(data), "--steps", "16", "--batch", "4", "--max-steps", "2"]
    common += ["--no-eval", "--device", "cpu"]
    first = ["chorale", *common, "--d-model", "16", "--layers", "1", "--heads", "2"]
    first += ["--out", str(tmp_path / "one"), "--checkpoint-dir", str(tmp_path / "one-ckpt")]
    assert main(first) == 0
    second = ["chorale", *common, "--init", str(tmp_path / "one-ckpt" / "final.pt")]
    second += ["--out", str(tmp_path / "two"), "--checkpoint-dir", str(tmp_path / "two-ckpt")]
    assert main(second) == 0
    info = torch.load(tmp_path / "two-ckpt" / "final.pt", weights_only=False)["info"]
    assert [stage["steps"] for stage in info["stages"]] == [2, 2]
    card = (tmp_path / "two" / "MODEL_CARD.md").read_text()
    assert card.count("    remask-train chorale ") == 2
    assert str(tmp_path / "one-ckpt" / "final.pt") in card and "on 2 CPU cores" in card


def test_a_frame_mask_stage_then_a_temperature_scan_on_the_valid_split(tmp_path: Path) -> None:
    import json

    data = _jsb(tmp_path / "Jsb16thSeparated.npz")
    out = tmp_path / "model"
    argv = ["chorale", "--data", str(data), "--steps", "16", "--batch", "4", "--max-steps", "2"]
    argv += ["--no-eval", "--device", "cpu", "--d-model", "16", "--layers", "1", "--heads", "2"]
    argv += ["--frame-masks", "0.5", "--out", str(out), "--checkpoint-dir", str(tmp_path / "c")]
    assert main(argv) == 0
    info = torch.load(tmp_path / "c" / "final.pt", weights_only=False)["info"]
    assert info["stages"][-1]["frame_share"] == 0.5
    assert (
        "50% of its training and validation masks hide whole frames"
        in (out / "MODEL_CARD.md").read_text()
    )

    scan = tmp_path / "scan.json"
    argv = ["chorale-eval", "--model", str(out), "--data", str(data), "--framewise"]
    argv += ["--split", "valid", "--pieces", "2", "--orderings", "2"]
    argv += ["--temperatures", "0.5,1", "--json", str(scan)]
    assert main(argv) == 0
    rows = json.loads(scan.read_text())
    assert [row["temperature"] for row in rows] == [0.5, 1.0]
    assert all(row["pieces"] == 2 and row["frames"] == 96 for row in rows)
    assert rows[0]["nats_per_frame"] != rows[1]["nats_per_frame"]
    chain = tmp_path / "chain.json"
    argv = ["chorale-eval", "--model", str(out), "--data", str(data), "--split", "valid"]
    argv += ["--pieces", "1", "--orderings", "1", "--group", "8", "--json", str(chain)]
    assert main(argv) == 0
    assert json.loads(chain.read_text())["cells"] == 4 * 48
    with pytest.raises(SystemExit):
        main(["chorale-eval", "--model", str(out), "--temperatures", "0,1"])


def test_chorale_eval_scores_a_key_ensemble(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from engine.train.common import seed_everything
    from engine.train.midi import chorale

    seed_everything(0)
    model = chorale.ChoraleTransformer(chorale.tiny_config(16)).eval()
    chorale.export(model, tmp_path)
    chorale.write_manifest(tmp_path, model.cfg, {"steps": 4})
    data = _jsb(tmp_path / "Jsb16thSeparated.npz")
    argv = ["chorale-eval", "--model", str(tmp_path), "--data", str(data), "--split", "valid"]
    argv += ["--pieces", "2", "--orderings", "1", "--framewise"]
    rows = {}
    for n in (0, 1):
        path = tmp_path / f"keys{n}.json"
        assert main([*argv, "--transpositions", str(n), "--json", str(path)]) == 0
        rows[n] = json.loads(path.read_text())
    assert [rows[n]["transpositions"] for n in (0, 1)] == [0, 1]
    assert rows[0]["frames"] == rows[1]["frames"] == 96
    assert rows[1]["nats_per_frame"] != pytest.approx(rows[0]["nats_per_frame"], rel=1e-4)
    assert "averaged over key shifts -1..1" in capsys.readouterr().out
    assert main([*argv, "--rests-free", "--batch", "7"]) == 0
    assert "rests counted as 0 nats" in capsys.readouterr().out
    assert main([*argv, "--transpositions", "-1"]) == 2
