"""`make bench` keeps running: one pass over a tiny chorale model (no timing asserts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.train import bench
from engine.train.midi import chorale


@pytest.mark.parametrize("int8", [False, True])
def test_bench_prints_onnx_and_torch_side_by_side(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    int8: bool,
) -> None:
    folder = tmp_path / "chorale-satb"
    folder.mkdir()
    cfg = chorale.tiny_config(steps=16)
    chorale.export(chorale.ChoraleTransformer(cfg), folder, int8=int8)
    chorale.write_manifest(folder, cfg, {"steps": 4})
    monkeypatch.setenv("REMASK_MODELS_PATH", str(tmp_path))
    monkeypatch.setattr(bench, "default_model_names", lambda registry: ["chorale-satb"])

    assert bench.main(["--runs", "1"]) == 0

    out = capsys.readouterr().out
    assert re.search(r"GEMM throughput .*: \d+\.\d GFLOP/s", out)
    assert "chorale-satb (midi, tokens [4, 16], 16 steps per edit" in out
    for label in ("per step", "per edit"):
        assert re.search(rf"{label}\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\dx", out), out
    flops = re.search(r"MatMul work per step (\d+\.\d) MFLOP", out)
    assert flops and float(flops.group(1)) > 0
    assert ("int8 weights: onnxruntime runs integer GEMMs" in out) == int8
