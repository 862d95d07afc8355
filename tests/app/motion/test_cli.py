"""``remask inbetween`` writes OUT.bvh (or OUT-1..K.bvh); bad input exits 2 with one line.

The model path runs the real :mod:`engine.media.motion.codec` over a tiny real motion model
built here with ``onnx.helper`` (the encoder emits token 0 everywhere; the decoder returns
the context features nudged by the sampled tokens, so variations differ); it is skipped
while the codec module is not part of the build.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from app import cli
from engine import models
from engine.media.motion.bvh import parse_bvh, read_bvh
from engine.media.motion.clip import rig_record
from engine.media.motion.skeleton import map_skeleton
from tests.cli_run import cli_env, remask
from tests.engine.motion.synthetic_bvh import bandai_like, names_bvh
from tests.tinymodels import write_tiny_model

TOKENS_PER_ROW, VOCAB = 8, 8


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _encoder(path: Path) -> None:
    """features [B, T, F] -> tokens int64 [B, 2, T/4], all zero."""
    inits = [
        numpy_helper.from_array(np.array(v, np.int64), n)
        for n, v in (("starts", [0, 0]), ("ends", [2**62, 2]), ("axes", [1, 2]), ("steps", [4, 1]))
    ]
    inits.append(numpy_helper.from_array(np.array(0.0, np.float32), "zero"))
    nodes = [
        helper.make_node("Slice", ["features", "starts", "ends", "axes", "steps"], ["picked"]),
        helper.make_node("Transpose", ["picked"], ["rows"], perm=[0, 2, 1]),
        helper.make_node("Mul", ["rows", "zero"], ["zeros"]),
        helper.make_node("Cast", ["zeros"], ["tokens"], to=TensorProto.INT64),
    ]
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["b", "t", "f"])]
    outputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["b", 2, "l"])]
    _save(helper.make_graph(nodes, "tiny_encoder", inputs, outputs, inits), path)


def _decoder(path: Path) -> None:
    """tokens [B, 2, L], context [B, 4L, F], known [B, 4L, 2] -> context + 0.02 * token mean."""
    inits = [
        numpy_helper.from_array(np.array([2], np.int64), "axis2"),
        numpy_helper.from_array(np.array([1, 1, 4], np.int64), "repeats"),
        numpy_helper.from_array(np.array([0, -1, 1], np.int64), "shape"),
        numpy_helper.from_array(np.array(0.02, np.float32), "scale"),
    ]
    nodes = [
        helper.make_node("Cast", ["tokens"], ["t_float"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["t_float"], ["t_mean"], axes=[1], keepdims=0),
        helper.make_node("Unsqueeze", ["t_mean", "axis2"], ["t_col"]),
        helper.make_node("Tile", ["t_col", "repeats"], ["t_frames"]),
        helper.make_node("Reshape", ["t_frames", "shape"], ["t_per_frame"]),
        helper.make_node("Mul", ["t_per_frame", "scale"], ["nudge"]),
        helper.make_node("Add", ["context", "nudge"], ["features"]),  # "known" is unused
    ]
    inputs = [
        helper.make_tensor_value_info("tokens", TensorProto.INT64, ["b", 2, "l"]),
        helper.make_tensor_value_info("context", TensorProto.FLOAT, ["b", "t", "f"]),
        helper.make_tensor_value_info("known", TensorProto.FLOAT, ["b", "t", 2]),
    ]
    outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["b", "t", "f"])]
    _save(helper.make_graph(nodes, "tiny_decoder", inputs, outputs, inits), path)


def write_tiny_motion_model(root: Path, name: str = "tiny-mmm") -> Path:
    """A transformer over 2 x 8 tokens plus tokenizer graphs: a 32-frame window at 30 fps."""
    facts = {"fps": 30, "frames_per_token": 4, "window_frames": 4 * TOKENS_PER_ROW}
    folder = write_tiny_model(
        root, name, "motion", VOCAB, (2, TOKENS_PER_ROW), seed=5, medium_facts=facts
    )
    _encoder(folder / "encoder.onnx")
    _decoder(folder / "decoder.onnx")
    rig = parse_bvh(bandai_like(frames=1))  # the rig of new clips, as ``files.skeleton`` holds it
    (folder / "skeleton.json").write_text(json.dumps(rig_record(rig)))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"].update(
        encoder="encoder.onnx", decoder="decoder.onnx", skeleton="skeleton.json"
    )
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("motion-models")
    write_tiny_motion_model(root)
    return root


@pytest.fixture
def env(tmp_path: Path, model_dir: Path) -> dict[str, str]:
    return cli_env(model_dir, tmp_path)


@pytest.fixture
def walk(tmp_path: Path) -> Path:
    path = tmp_path / "walk.bvh"
    path.write_text(bandai_like(frames=60, seed=6))
    return path


def columns_of(path: Path, part: str) -> np.ndarray:
    clip = read_bvh(path)
    joints = map_skeleton(clip).part_joints(part)
    return np.concatenate([clip.channel_columns(int(j)) for j in joints])


def test_interpolate_regenerates_only_the_range(
    tmp_path: Path, walk: Path, env: dict[str, str]
) -> None:
    before = walk.read_bytes()
    out = tmp_path / "out.bvh"
    args = ["inbetween", str(walk), "--frames", "20-39", "-o", str(out), "--method", "interpolate"]
    done = remask(*args, "--parts", "upper", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(out)] and walk.read_bytes() == before
    original, result = read_bvh(walk).motion, read_bvh(out).motion
    changed = np.flatnonzero((original != result).any(axis=1))
    assert changed.min() >= 20 and changed.max() <= 39
    lower = columns_of(walk, "lower")
    assert np.array_equal(original[:, lower], result[:, lower])


def test_model_writes_k_variations_exact_outside_the_range(
    tmp_path: Path, walk: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "take.bvh"
    args = ["inbetween", str(walk), "--frames", "24-35", "-o", str(out), "--variations", "2"]
    done = remask(*args, "--steps", "3", "--seed", "2", env=env)
    assert done.returncode == 0, done.stderr
    original = read_bvh(walk).motion
    results = [read_bvh(tmp_path / f"take-{k}.bvh").motion for k in (1, 2)]
    for result in results:
        assert np.array_equal(result[:24], original[:24])
        assert np.array_equal(result[36:], original[36:])
        assert not np.array_equal(result[24:36], original[24:36])
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frames", "10-5"], "must not exceed"),
        (["--frames", "ten"], "expected A-B"),
        (["--frames", "50-80"], "outside the clip"),
        (["--frames", "5-9", "--model", "nope"], "nope"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(
    tmp_path: Path, walk: Path, env: dict[str, str], args: list[str], message: str
) -> None:
    out = tmp_path / "o.bvh"
    done = remask("inbetween", str(walk), "-o", str(out), *args, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("remask: error:") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (bandai_like(frames=4).replace("MOTION", "MOTOR"), "MOTION"),
        (bandai_like(frames=4).replace("Frames: 4", "Frames: 0"), "frame"),
        (bandai_like(frames=4).replace("Frames: 4", "Frames: 6"), ""),
        (names_bvh([("Pelvis", None), ("Torso", "Pelvis")]), "missing joints"),
    ],
)
def test_bad_files_exit_2_with_one_line(
    tmp_path: Path, env: dict[str, str], text: str, message: str
) -> None:
    source = tmp_path / "bad.bvh"
    source.write_text(text)
    out = tmp_path / "o.bvh"
    args = ["inbetween", str(source), "--frames", "1-2", "-o", str(out), "--method", "interpolate"]
    done = remask(*args, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("remask: error:") and message.lower() in done.stderr.lower()
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_a_clip_shorter_than_the_models_context_is_refused(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = tmp_path / "short.bvh"
    source.write_text(bandai_like(frames=5))
    out = tmp_path / "o.bvh"
    done = remask("inbetween", str(source), "--frames", "1-2", "-o", str(out), env=env)
    assert done.returncode == 2 and "at least" in done.stderr and not out.exists()


def test_no_motion_model_is_an_error_not_a_fallback(
    tmp_path: Path, walk: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(models, "default_model_dirs", lambda: [tmp_path / "empty"])
    out = tmp_path / "o.bvh"
    status = cli.main(["inbetween", str(walk), "--frames", "5-9", "-o", str(out)])
    assert status == 2 and not out.exists()
    err = capsys.readouterr().err
    assert "no motion model installed" in err and "--method interpolate" in err
