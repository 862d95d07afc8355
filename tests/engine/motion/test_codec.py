"""Motion codec: in-betweening through real (tiny) ONNX graphs, compositing guarantees, errors.

The encoder and decoder are tiny ONNX graphs built here with ``onnx.helper``: the
encoder turns the mean root height of each 4 frames into a token; the decoder
returns the context it is given plus a small offset that depends on the tokens
(so variations differ and the decoded frames are plausible poses: the pre-fill's).
With the tiny transformer of ``tests/tinymodels.py`` the whole path (manifest,
sessions, sampler, root landing, compositing) runs for real.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from engine.jobs import GenerateRequest, run_model_generation
from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip, MotionError, rig_record
from engine.media.motion.codec import MotionCodec, MotionPayload
from engine.media.motion.features import FEATURE_SIZE, clip_features
from engine.media.motion.kinematics import global_positions
from engine.media.motion.retarget import (
    RigFit,
    fit_rig,
    foot_floor,
    mean_pose_from_features,
    mean_pose_record,
)
from engine.media.motion.rig_alignment import ModelRig
from engine.media.motion.rotations import nearest_rotation
from engine.media.motion.skeleton import SkeletonMap, map_skeleton
from engine.models import load_manifest
from engine.runtime import load_transformer
from engine.sampling import sample
from tests.engine.helpers import generate_with_manifest
from tests.engine.motion.reframed_rig import foreign_copy
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like, reactidle_like
from tests.tinymodels import build_tiny_transformer

CODES = 16
WINDOW = 32
LENGTH = WINDOW // 4


def _encoder() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Slice", ["features", "c_start", "c_end", "c_axis"], ["height"]),
        helper.make_node("Reshape", ["height", "groups"], ["grouped"]),
        helper.make_node("ReduceMean", ["grouped"], ["mean"], axes=[2], keepdims=0),
        helper.make_node("Floor", ["mean"], ["floored"]),
        helper.make_node("Abs", ["floored"], ["positive"]),
        helper.make_node("Cast", ["positive"], ["as_int"], to=TensorProto.INT64),
        helper.make_node("Mod", ["as_int", "codes"], ["code"]),
        helper.make_node("Unsqueeze", ["code", "axis1"], ["row"]),
        helper.make_node("Concat", ["row", "row"], ["tokens"], axis=1),
    ]
    inits = [
        helper.make_tensor("c_start", TensorProto.INT64, [1], [2]),
        helper.make_tensor("c_end", TensorProto.INT64, [1], [3]),
        helper.make_tensor("c_axis", TensorProto.INT64, [1], [2]),
        helper.make_tensor("groups", TensorProto.INT64, [3], [0, -1, 4]),
        helper.make_tensor("codes", TensorProto.INT64, [], [CODES]),
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
    ]
    graph = helper.make_graph(
        nodes,
        "motion_encoder",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["B", "T", 132])],
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["B", 2, "L"])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the pinned onnxruntime reads
    return model


def _decoder() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Cast", ["tokens"], ["t_float"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["t_float", "sum_axes"], ["total"], keepdims=1),
        helper.make_node("Mul", ["total", "scale"], ["offset"]),
        helper.make_node("Add", ["context", "offset"], ["features"]),
        helper.make_node("ReduceSum", ["known", "all_axes"], ["unused"], keepdims=0),
    ]
    inits = [
        helper.make_tensor("sum_axes", TensorProto.INT64, [2], [1, 2]),
        helper.make_tensor("all_axes", TensorProto.INT64, [3], [0, 1, 2]),
        helper.make_tensor("scale", TensorProto.FLOAT, [], [1e-4]),
    ]
    graph = helper.make_graph(
        nodes,
        "motion_decoder",
        [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, ["B", 2, "L"]),
            helper.make_tensor_value_info("context", TensorProto.FLOAT, ["B", "T", 132]),
            helper.make_tensor_value_info("known", TensorProto.FLOAT, ["B", "T", 2]),
        ],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["B", "T", 132]),
            helper.make_tensor_value_info("unused", TensorProto.FLOAT, []),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the pinned onnxruntime reads
    return model


def write_tiny_motion_folder(folder: Path, name: str = "tiny-motion", **extra: Any) -> Path:
    """A complete tiny motion model (transformer, encoder, decoder, skeleton) in ``folder``;
    ``extra`` adds manifest sections (e.g. ``sampling``)."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(build_tiny_transformer(CODES, 2 * LENGTH, seed=0), str(folder / "transformer.onnx"))
    onnx.save(_encoder(), str(folder / "encoder.onnx"))
    onnx.save(_decoder(), str(folder / "decoder.onnx"))
    (folder / "skeleton.json").write_text(json.dumps(rig_record(parse_bvh(bandai_like(2)))))
    manifest = {
        "schema_version": 1,
        "name": name,
        "medium": "motion",
        "files": {
            "transformer": "transformer.onnx",
            "encoder": "encoder.onnx",
            "decoder": "decoder.onnx",
            "skeleton": "skeleton.json",
        },
        "tokens": {"vocab_size": CODES, "mask_id": CODES, "shape": [2, LENGTH]},
        "io": {"tokens": "tokens", "logits": "logits", "condition": None},
        "medium_facts": {"fps": 30.0, "frames_per_token": 4, "window_frames": WINDOW},
        **extra,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("motion-model")
    return write_tiny_motion_folder(folder, sampling={"steps": 4})


@pytest.fixture(scope="module")
def codec(model_dir: Path) -> MotionCodec:
    return MotionCodec(load_manifest(model_dir))


def _generate(
    codec: MotionCodec, model_dir: Path, payload: MotionPayload, variations: int = 2
) -> list[Clip]:
    manifest = load_manifest(model_dir)
    problem = codec.encode(payload)
    final = None
    for step in sample(
        load_transformer(manifest).logits_fn(),
        problem.tokens,
        problem.editable_mask,
        manifest.mask_id,
        manifest.default_settings(variations=variations),
        problem.grid_shape,
    ):
        final = step.tokens
    assert final is not None
    return codec.decode(payload, final)


def _changed_frames(a: Clip, b: Clip) -> np.ndarray:
    return np.nonzero(np.any(a.motion != b.motion, axis=1))[0]


@pytest.mark.parametrize("first,last", [(20, 35), (0, 9), (50, 59), (3, 3)])
def test_inbetween_keeps_every_frame_outside_the_range_bit_exact(
    codec, model_dir, first, last
) -> None:
    clip = parse_bvh(bandai_like(60, seed=3))
    for result in _generate(codec, model_dir, MotionPayload(clip, first, last)):
        assert result.joints == clip.joints and result.n_frames == clip.n_frames
        outside = np.r_[0:first, last + 1 : clip.n_frames]
        np.testing.assert_array_equal(result.motion[outside], clip.motion[outside])
        assert np.isfinite(result.motion).all()
        assert set(_changed_frames(clip, result)) <= set(range(first, last + 1))


@pytest.mark.parametrize("part", ["upper", "lower"])
def test_part_edit_keeps_the_other_parts_channels(codec, model_dir, part) -> None:
    clip = parse_bvh(bandai_like(60, seed=4))
    smap = map_skeleton(clip)
    other = "lower" if part == "upper" else "upper"
    kept_columns = np.concatenate([clip.channel_columns(int(j)) for j in smap.part_joints(other)])
    for result in _generate(codec, model_dir, MotionPayload(clip, 10, 25, part, smap)):
        np.testing.assert_array_equal(result.motion[:, kept_columns], clip.motion[:, kept_columns])
        assert set(_changed_frames(clip, result)) <= set(range(10, 26))


def test_editable_tokens_are_the_parts_tokens_overlapping_the_range(codec) -> None:
    clip = parse_bvh(bandai_like(40, seed=5))
    problem = codec.encode(MotionPayload(clip, 9, 14, "upper"))
    grid = problem.editable_mask.reshape(problem.grid_shape)
    assert problem.grid_shape == (2, LENGTH) and problem.tokens.dtype == np.int64
    # the 32-frame window is centred on the range: it starts at frame 0 here (clamped)
    assert grid[0].tolist() == [False] * LENGTH
    assert np.nonzero(grid[1])[0].tolist() == [2, 3]


def test_short_clip_is_padded_and_root_lands_on_kept_frames(codec, model_dir) -> None:
    clip = parse_bvh(bandai_like(12, seed=6))  # shorter than the 32-frame window
    (result,) = _generate(codec, model_dir, MotionPayload(clip, 4, 7), variations=1)
    np.testing.assert_array_equal(result.motion[8:], clip.motion[8:])
    hips = clip.channel_columns(clip.joint_index("Hips"), "position")
    # the pre-fill is linear; our decoder adds little: the root path stays near it, no jump
    assert np.abs(np.diff(result.motion[:, hips], axis=0)).max() < 10.0


@pytest.mark.parametrize("text", [cmu_like(80, seed=2), reactidle_like(50, seed=1)])
def test_other_rigs_rates_and_units_are_edited_in_place(codec, model_dir, text) -> None:
    clip = parse_bvh(text)  # CC rig at 60 fps in cm, ReActIdle at 24 fps in metres
    for result in _generate(codec, model_dir, MotionPayload(clip, 10, 25)):
        np.testing.assert_array_equal(result.motion[:10], clip.motion[:10])
        np.testing.assert_array_equal(result.motion[26:], clip.motion[26:])
        assert np.isfinite(result.motion).all()


def test_editable_tokens_follow_the_clip_rate(codec) -> None:
    clip = parse_bvh(cmu_like(64, seed=2))  # 60 fps: a 32-frame model window spans 64 frames
    problem = codec.encode(MotionPayload(clip, 16, 23, "lower"))
    grid = problem.editable_mask.reshape(problem.grid_shape)
    assert np.nonzero(grid[0])[0].tolist() == [2] and not grid[1].any()


def test_preview_decodes_a_partial_step(codec, model_dir) -> None:
    clip = parse_bvh(bandai_like(40, seed=7))
    payload = MotionPayload(clip, 12, 20)
    problem = codec.encode(payload)
    partial = np.where(problem.editable_mask, CODES, problem.tokens)[None]
    (preview,) = codec.preview(payload, partial)
    np.testing.assert_array_equal(preview.motion[:12], clip.motion[:12])
    with pytest.raises(MotionError, match="preview"):
        codec.decode(payload, partial)


def test_run_generation_uses_the_codec_as_a_medium_codec(codec, model_dir) -> None:
    manifest = load_manifest(model_dir)
    clip = parse_bvh(bandai_like(40, seed=8))
    request = GenerateRequest(
        1, "tiny-motion", manifest.default_settings(variations=3), MotionPayload(clip, 5, 15), codec
    )
    steps = []
    results, tokens = generate_with_manifest(request, manifest, steps.append)
    assert len(results) == 3 and tokens.shape == (3, 2 * LENGTH) and len(steps) == 4


@pytest.mark.parametrize("folder", ["model_dir", "context_model_dir"])
def test_generate_clip_makes_new_clips_of_any_length(folder, request) -> None:
    manifest = load_manifest(request.getfixturevalue(folder))
    codec, model = MotionCodec(manifest), load_transformer(manifest)
    clips = codec.generate_clip(75, model, manifest.default_settings(variations=2))
    assert [c.n_frames for c in clips] == [75, 75]
    assert clips[0].names == parse_bvh(bandai_like(2)).names
    assert all(np.isfinite(c.motion).all() for c in clips)
    positions = global_positions(clips[0])
    shin = clips[0].joint_index("LowerLeg_L"), clips[0].joint_index("Foot_L")
    length = np.linalg.norm(positions[:, shin[1]] - positions[:, shin[0]], axis=-1)
    assert (length > 1.0).all()  # the rig's bones, not folded onto their parents
    with pytest.raises(MotionError, match="at least"):
        codec.generate_clip(3, model, manifest.default_settings())


@pytest.fixture(scope="module")
def context_model_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a transformer that also reads the window's kept frames."""
    folder = tmp_path_factory.mktemp("motion-model-context")
    for item in model_dir.iterdir():
        shutil.copy(item, folder / item.name)
    side = {"context": (WINDOW, FEATURE_SIZE), "known": (WINDOW, 2)}
    graph = build_tiny_transformer(CODES, 2 * LENGTH, seed=0, side_inputs=side)
    onnx.save(graph, str(folder / "transformer.onnx"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["io"]["side_inputs"] = list(side)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_transformer_that_reads_kept_frames_gets_the_windows_frames(
    context_model_dir: Path,
) -> None:
    manifest = load_manifest(context_model_dir)
    codec = MotionCodec(manifest)
    clip = parse_bvh(bandai_like(40))
    payload = MotionPayload(clip, 10, 17, "upper")
    problem = codec.encode(payload)
    assert problem.side_inputs is not None and list(problem.side_inputs) == ["context", "known"]
    known = problem.side_inputs["known"]
    assert known.shape == (WINDOW, 2)
    np.testing.assert_array_equal(np.nonzero(known[:, 1] == 0)[0], np.arange(10, 18))
    assert known[:, 0].all()  # the lower body is kept
    request = GenerateRequest(
        1, manifest.name, manifest.default_settings(variations=2), payload, codec
    )
    results, _tokens = run_model_generation(
        request, load_transformer(manifest), manifest.mask_id, lambda _s: None, lambda: False
    )
    changed = np.unique(np.concatenate([_changed_frames(clip, r) for r in results]))
    assert changed.size and changed.min() >= 10 and changed.max() <= 17


@pytest.mark.parametrize(
    "payload_args,message",
    [
        ((5, 3, "full"), "empty range"),
        ((0, 60, "full"), "outside the clip"),
        ((-1, 3, "full"), "outside the clip"),
        ((1, 2, "arms"), "unknown body part"),
        ((1, 30, "full"), "at most 24"),
    ],
)
def test_bad_requests_raise_one_line_motion_errors(codec, payload_args, message) -> None:
    clip = parse_bvh(bandai_like(40, seed=9))
    with pytest.raises(MotionError, match=message) as info:
        codec.encode(MotionPayload(clip, *payload_args))
    assert "\n" not in str(info.value)


def test_short_clip_wrong_rate_and_unmappable_rig_are_refused(codec) -> None:
    with pytest.raises(MotionError, match="at least 8"):
        codec.encode(MotionPayload(parse_bvh(bandai_like(5)), 1, 2))
    slow = parse_bvh(bandai_like(40))
    slow = Clip(slow.joints, 0.2, slow.motion)
    with pytest.raises(MotionError, match="5 fps"):
        codec.encode(MotionPayload(slow, 1, 2))
    from tests.engine.motion.synthetic_bvh import names_bvh

    odd = parse_bvh(names_bvh([("a", None), ("b", "a")]))
    odd = Clip(odd.joints, 1 / 30, np.repeat(odd.motion, 10, axis=0))
    with pytest.raises(MotionError):
        codec.encode(MotionPayload(odd, 1, 2))


@pytest.fixture(scope="module")
def aligned_model_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model, its skeleton.json also holding a training mean pose and floor
    (those of the test clip itself, so a foreign copy of that clip has a known answer)."""
    folder = tmp_path_factory.mktemp("motion-model-aligned")
    for item in model_dir.iterdir():
        shutil.copy(item, folder / item.name)
    clip = parse_bvh(bandai_like(120, seed=3))
    smap = map_skeleton(clip)
    record = json.loads((model_dir / "skeleton.json").read_text())
    record["mean_pose"] = mean_pose_record(
        mean_pose_from_features([clip_features(clip, smap).to_array()])
    )
    record["foot_floor_cm"] = foot_floor(clip, smap)
    (folder / "skeleton.json").write_text(json.dumps(record))
    return folder


def test_a_foreign_rig_is_read_in_the_models_frames_and_written_back_in_its_own(
    aligned_model_dir: Path,
) -> None:
    codec = MotionCodec(load_manifest(aligned_model_dir))
    ours = parse_bvh(bandai_like(120, seed=3))
    turns = nearest_rotation(np.random.default_rng(1).normal(size=(len(ours.joints), 3, 3)))
    theirs = foreign_copy(ours, turns, 0.01 * 0.9, 1.0)  # metres, 10 % smaller, 1 m lower
    assert codec.rig_fit(ours, map_skeleton(ours)) is None
    # the tiny encoder codes the Hips height: floor, units and size must all come out right
    ours_problem = codec.encode(MotionPayload(ours, 40, 63))
    theirs_problem = codec.encode(MotionPayload(theirs, 40, 63))
    np.testing.assert_array_equal(theirs_problem.tokens, ours_problem.tokens)
    ours_result = _generate(codec, aligned_model_dir, MotionPayload(ours, 40, 63), 1)[0]
    theirs_result = _generate(codec, aligned_model_dir, MotionPayload(theirs, 40, 63), 1)[0]
    np.testing.assert_array_equal(theirs_result.motion[:40], theirs.motion[:40])
    np.testing.assert_array_equal(theirs_result.motion[64:], theirs.motion[64:])
    expected = global_positions(ours_result) * 0.009 - np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(global_positions(theirs_result), expected, atol=0.005)  # 5 mm


def test_a_clip_is_fitted_to_the_model_rig_once_however_often_it_is_edited(
    aligned_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.media.motion import codec as motion_codec

    calls: list[Clip] = []

    def counting_fit(clip: Clip, smap: SkeletonMap, model: ModelRig) -> RigFit | None:
        calls.append(clip)
        return fit_rig(clip, smap, model)

    monkeypatch.setattr(motion_codec, "fit_rig", counting_fit)
    codec = MotionCodec(load_manifest(aligned_model_dir))
    ours = parse_bvh(bandai_like(120, seed=3))
    turns = nearest_rotation(np.random.default_rng(1).normal(size=(len(ours.joints), 3, 3)))
    theirs = foreign_copy(ours, turns, 0.009, 1.0)
    codec.encode(MotionPayload(theirs, 40, 63))
    codec.encode(MotionPayload(theirs, 10, 20, "upper"))
    assert calls == [theirs]
    edited = theirs.with_motion(theirs.motion.copy())
    codec.encode(MotionPayload(edited, 40, 63))
    assert len(calls) == 2 and calls[1] is edited
