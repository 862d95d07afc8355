"""``manifest.json``, ``skeleton.json`` and ``MODEL_CARD.md`` of the shipped motion model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip, rig_record
from engine.media.motion.features import FEATURE_JOINTS
from engine.media.motion.retarget import mean_pose_record
from engine.train.common import ModelFacts, onnx_size_mb
from engine.train.common import write_manifest as common_write_manifest
from engine.train.model_card import write_card
from engine.train.motion.data import FPS, FRAMES_PER_TOKEN, LOWER_COLUMNS, UPPER_COLUMNS
from engine.train.motion.model import (
    FILES,
    MODEL_NAME,
    MotionConfig,
    config_dict,
    side_input_names,
)

SKELETON_FILE = "skeleton.json"
DEFAULT_SAMPLING: dict[str, object] = {
    "steps": 10,
    "schedule": "cosine",
    "selector": "confidence",
    "temperature": 1.0,
    "choice_temperature": 2.0,
    "top_k": 0,
}
LICENSE = (
    "CC BY-NC 4.0 - NON-COMMERCIAL USE ONLY (the weights derive from the Bandai-Namco "
    "Research Motiondataset, CC BY-NC 4.0); remask code MIT"
)
ATTRIBUTION = (
    'Bandai Namco Research Inc., "Bandai-Namco-Research-Motiondataset" (CC BY-NC 4.0), '
    "paper arXiv:2306.08861 (Kobayashi et al. 2023)"
)
DATA = (
    f"{ATTRIBUTION}; sets 1 (174 clips) and 2 (takes 001-010, 700 clips), from "
    "BandaiNamcoResearchInc/Bandai-Namco-Research-Motiondataset @74ead3b; takes with "
    "crc32(file name) % 10 == 0 held out for validation and evaluation"
)


def write_skeleton(
    out_dir: Path,
    clip: Clip,
    mean_pose: npt.NDArray[np.float64] | None = None,
    foot_floor_cm: float | None = None,
) -> Path:
    """The rig of generated clips: joint names, parents, offsets, channels (no motion).

    With the training data's ``mean_pose`` and ``foot_floor_cm`` the file also tells the
    codec how to read clips on other rigs (``engine.media.motion.retarget``).
    """
    record: dict[str, object] = {"source": "Bandai-Namco rig (offsets only)", **rig_record(clip)}
    if mean_pose is not None and foot_floor_cm is not None:
        record["mean_pose"] = mean_pose_record(mean_pose)
        record["foot_floor_cm"] = round(float(foot_floor_cm), 3)
    path = out_dir / SKELETON_FILE
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def medium_facts(cfg: MotionConfig) -> dict[str, object]:
    return {
        "fps": FPS,
        "frames_per_token": FRAMES_PER_TOKEN,
        "window_frames": cfg.window,
        "skeleton": "bandai-22",
        "token_rows": ["lower", "upper"],
        "feature_layout": {
            "size": 132,
            "columns": "root velocity xz (cm/frame, heading frame) 0-1, root height cm 2, "
            "heading velocity rad/frame 3, 6D rotations of FEATURE_JOINTS 4-129, "
            "foot contacts L/R 130-131 (engine.media.motion.features.MotionFeatures.to_array)",
            "feature_joints": list(FEATURE_JOINTS),
            "lower_columns": LOWER_COLUMNS,
            "upper_columns": UPPER_COLUMNS,
            "normalisation": "mean/std of the train takes, baked into encoder and decoder graphs",
        },
        "decoder_inputs": (
            "tokens int64 [B,2,L], context float32 [B,4L,132], known float32 [B,4L,2]"
        ),
        "architecture": config_dict(cfg),
    }


def write_manifest(
    out_dir: Path, cfg: MotionConfig, sampling: dict[str, object] | None = None
) -> Path:
    facts = ModelFacts(
        name=MODEL_NAME,
        medium="motion",
        description=(
            f"Two-stream (lower/upper body) VQ motion tokenizer, one token per {FRAMES_PER_TOKEN} "
            f"frames, and a bidirectional masked transformer over {cfg.window}-frame windows "
            "(MMM-style in-betweening and body-part edits). Non-commercial use only."
        ),
        files={**FILES, "skeleton": SKELETON_FILE},
        vocab_size=cfg.codebook,
        mask_id=cfg.codebook,
        shape=[2, cfg.tokens_per_row],
        medium_facts=medium_facts(cfg),
        license=LICENSE,
        data=DATA,
        side_inputs=side_input_names(cfg),
    )
    return common_write_manifest(out_dir, facts, sampling or DEFAULT_SAMPLING)


def _mirror_note(stats: dict[str, object]) -> str:
    if not stats.get("mirrored"):
        return ""
    return (
        "\nEvery train take is used twice: as recorded and mirrored left-right in feature space "
        "(`engine.train.motion.data.mirror_features`); held-out takes are never mirrored."
    )


def _other_rigs_note(stats: dict[str, object]) -> str:
    if not stats.get("other_rigs"):
        return ""
    return (
        "\nAlso trained on motion from other rigs, read through the codec's rig alignment "
        "(`engine.media.motion.retarget`): ReActIdle (Atxa Landa et al., arXiv:2509.05023; MIT; "
        "Enekoassets/ReActIdle @90b0ac7, 22 idles) and CMU motion capture retargeted to the "
        "Character Creator rig (DragonForgedTheArtist/IClone-CMU-Mocap @79529f9, subjects 1-7, "
        '61 clips; "The data used in this project was obtained from mocap.cs.cmu.edu. The '
        'database was created with funding from NSF EIA-0196217."), split by take the same '
        "way; their held-out takes are not in the validation set."
    )


def _data_limit(stats: dict[str, object]) -> str:
    if stats.get("other_rigs"):
        return (
            "Trained on about an hour of stylised Bandai-Namco motion (walks, runs, gestures, "
            "dances) plus 17 minutes from other rigs (idles, CMU walks, dance, sport); other "
            "motion is out of distribution."
        )
    return (
        "Trained on about an hour of stylised Bandai-Namco motion (walks, runs, gestures, "
        "dances); other motion is out of distribution."
    )


def _context_note(cfg: MotionConfig) -> str:
    if not cfg.context_input:
        return ""
    return (
        "\n  It also reads the kept frames themselves (the decoder's `context` and `known`, side"
        "\n  inputs of `transformer.onnx`): a conv over frames and a stride-4 conv to token rate,"
        "\n  added to each row's token embeddings (after PUT, Liu et al. CVPR 2022), so it sees"
        "\n  the exact poses and velocities where a gap starts and ends, not only their tokens."
    )


def _refine_note(stats: dict[str, object]) -> str:
    if not stats.get("decoder_refine"):
        return ""
    return (
        " It was then fine-tuned on what it decodes in use: tokens"
        "\n  the transformer sampled for in-between spans (the engine's sampler and this manifest's"
        "\n  settings), with the recorded motion as target (`engine/train/motion/refine.py`)."
    )


def _split_section(split_table: str) -> str:
    if not split_table:
        return ""
    return (
        "\n\n## In-betweens by activity, rig and gap length\n"
        "`remask-train motion-eval` (`engine/train/motion/split_eval.py`): held-out takes of "
        "each rig, activity from take name and motion energy (`engine/train/motion/activity.py`), "
        "the fill as the app gets it (decoder output repaired by "
        "`engine/media/motion/fill_repair.py`).\n\n" + split_table
    )


def write_model_card(
    out_dir: Path,
    cfg: MotionConfig,
    stats: dict[str, object],
    command: str,
    eval_table: str,
    split_table: str = "",
) -> Path:
    text = f"""# motion-mmm

**Non-commercial use only.** The weights are trained on the Bandai-Namco Research Motiondataset,
licensed CC BY-NC 4.0, so this model may be used for non-commercial purposes only, with
attribution: {ATTRIBUTION}.

## What it is
- Per-frame features (132, `engine.media.motion.features.MotionFeatures`): root velocity in the
  heading frame, root height, heading velocity, 6D rotations of 21 canonical joints,
  2 foot contacts; 30 fps, cm.
- Tokenizer: two 1D-conv VQ encoders (lower body = root trajectory + Hips + legs + contacts, 60
  features; upper body = Spine and above, 72 features), one token per {FRAMES_PER_TOKEN} frames,
  {cfg.codebook} codes x {cfg.code_dim} dims per stream (EMA codebook, dead-code restart).
  The decoder reads both streams plus the kept frames (`context`, `known`), so it only
  has to invent the edited ones.{_refine_note(stats)}
- Transformer: bidirectional, {cfg.n_layers} layers, d = {cfg.d_model}, {cfg.n_heads} heads,
  over the stacked streams [2, {cfg.tokens_per_row}] ({cfg.window} frames); trained with
  MaskGIT cosine masks,
  in-betweening spans of 15-60 frames, single-part masks and full masks.{_context_note(cfg)}
- Files: encoder.onnx, decoder.onnx, transformer.onnx ({onnx_size_mb(out_dir):.1f} MB in all),
  skeleton.json.

## Data
{DATA}. Split by take (file), never by frame; normalisation statistics from train takes
only.{_mirror_note(stats)}{_other_rigs_note(stats)}

## Training
Command: `{command}`

2 CPU cores, bf16 autocast, fp32 export (ONNX opset 17, legacy exporter).

```
{json.dumps(stats, indent=1, default=str)[:4000]}
```

## Evaluation (held-out takes, through the ONNX + MotionCodec path)
{eval_table}{_split_section(split_table)}

## Limits
- {_data_limit(stats)}
- Clips at other rates are resampled to {FPS:g} fps for the model and back; one edit
  regenerates at most {cfg.window - 2 * FRAMES_PER_TOKEN} model frames.
- Clips on other rigs are read through `engine.media.motion.retarget` (bone directions, hinge
  bends and this model's mean pose in `skeleton.json`); hands, head and toes align least well.
"""
    return write_card(out_dir, text)
