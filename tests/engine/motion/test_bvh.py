"""BVH reader/writer: faithful round trips for three rig styles, one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.media.motion.bvh import BvhError, parse_bvh, read_bvh
from engine.media.motion.bvh_writer import format_bvh, write_bvh
from engine.media.motion.clip import Clip, Joint
from tests.engine.motion.synthetic_bvh import (
    STYLES,
    bandai_like,
    cmu_like,
    names_bvh,
    reactidle_like,
)


@pytest.fixture(params=sorted(STYLES))
def style_text(request: pytest.FixtureRequest) -> str:
    return STYLES[request.param]()


def _motion_tokens(text: str) -> list[str]:
    body = text[text.index("MOTION") :].split("\n", 3)[3]
    return body.split()


def test_round_trip_gives_identical_arrays(style_text: str) -> None:
    clip = parse_bvh(style_text)
    back = parse_bvh(format_bvh(clip))
    assert back.joints == clip.joints
    assert back.frame_time == clip.frame_time
    np.testing.assert_array_equal(back.motion, clip.motion)
    assert back.motion.tobytes() == clip.motion.tobytes()  # -0.0 stays -0.0


def test_written_numbers_keep_the_input_style(style_text: str) -> None:
    # %g input comes back as the same tokens (shortest repr); %.6f input as %.6f.
    assert _motion_tokens(format_bvh(parse_bvh(style_text))) == _motion_tokens(style_text)


def test_decimals_are_detected() -> None:
    assert parse_bvh(reactidle_like()).decimals == 6
    assert parse_bvh(cmu_like()).decimals == 6
    assert parse_bvh(bandai_like()).decimals is None


def test_new_values_round_trip_exactly_in_shortest_style() -> None:
    clip = parse_bvh(bandai_like(4))
    noisy = clip.with_motion(
        clip.motion + np.random.default_rng(0).normal(size=clip.motion.shape) / 3
    )
    back = parse_bvh(format_bvh(noisy))
    np.testing.assert_array_equal(back.motion, noisy.motion)


def test_fixed_style_writes_that_many_decimals() -> None:
    clip = parse_bvh(reactidle_like(3))
    edited = clip.with_motion(clip.motion + 1 / 3)
    tokens = _motion_tokens(format_bvh(edited))
    assert all(len(t.split(".")[1]) == 6 for t in tokens)
    np.testing.assert_allclose(parse_bvh(format_bvh(edited)).motion, edited.motion, atol=5e-7)


def test_bandai_like_structure() -> None:
    clip = parse_bvh(bandai_like(5))
    assert len(clip.joints) == 22 and clip.n_channels == 132 and clip.n_frames == 5
    assert all(j.rotation_order == "ZXY" and j.position_axes == "XYZ" for j in clip.joints)
    assert clip.frame_time == 0.0333333
    hips = clip.joint_index("Hips")
    assert clip.joints[hips].parent == clip.joint_index("joint_Root")
    assert clip.joints[clip.joint_index("Toes_L")].end_site == (0.0, 0.0, 5.0)
    assert [j.name for j in clip.joints if j.end_site is not None] == [
        "Head",
        "Hand_L",
        "Hand_R",
        "Toes_L",
        "Toes_R",
    ]
    np.testing.assert_array_equal(clip.channel_columns(hips), np.arange(6, 12))
    np.testing.assert_array_equal(clip.channel_columns(hips, "rotation"), [9, 10, 11])


def test_reactidle_like_mixes_orders_and_channel_counts() -> None:
    clip = parse_bvh(reactidle_like(3))
    orders = {j.name: j.rotation_order for j in clip.joints}
    assert (
        orders["pelvis"] == "XYZ" and orders["shoulder.L"] == "YXZ" and orders["pelvis.R"] == "YXZ"
    )
    spine = clip.joints[clip.joint_index("spine.001")]
    assert spine.channels == ("Xrotation", "Yrotation", "Zrotation") and spine.position_axes == ""
    assert clip.n_channels == 111 and len(clip.joints) == 19


def test_cmu_like_uses_zyx_and_three_channel_joints() -> None:
    clip = parse_bvh(cmu_like(3))
    assert clip.joints[0].channels[3:] == ("Zrotation", "Yrotation", "Xrotation")
    assert all(len(j.channels) == 3 and j.rotation_order == "ZYX" for j in clip.joints[1:])


def test_written_text_follows_the_bvh_grammar() -> None:
    clip = parse_bvh(cmu_like(3))
    text = format_bvh(clip)
    lines = text.splitlines()
    assert lines[0] == "HIERARCHY" and lines[1] == "ROOT CC_Base_Hip" and lines[2] == "{"
    assert lines[3] == "\tOFFSET 0 90 0"
    assert lines[4] == "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation"
    assert (
        "\t\tJOINT CC_Base_L_Thigh" in lines
        and "\t\t\tEnd Site" in text.split("JOINT CC_Base_L_ToeBase")[1]
    )
    motion = lines.index("MOTION")
    assert lines[motion + 1] == "Frames: 3" and lines[motion + 2] == "Frame Time: 0.016667"
    assert len(lines) == motion + 3 + 3
    hierarchy = "\n".join(lines[:motion])
    assert (
        hierarchy.count("{")
        == hierarchy.count("}")
        == len(clip.joints) + sum(j.end_site is not None for j in clip.joints)
    )
    assert not any(line.startswith(" ") for line in lines)  # tabs only


def test_names_with_spaces_and_multiple_roots(tmp_path: Path) -> None:
    text = names_bvh(
        [
            ("Bip01", None),
            ("Bip01 Pelvis", "Bip01"),
            ("Bip01 L Thigh", "Bip01 Pelvis"),
            ("Prop", None),
        ]
    )
    clip = parse_bvh(text)
    assert clip.names == ("Bip01", "Bip01 Pelvis", "Bip01 L Thigh", "Prop")
    assert clip.parents == (-1, 0, 1, -1)
    path = tmp_path / "spaces.bvh"
    write_bvh(clip, path)
    again = read_bvh(path)
    assert again.names == clip.names and again.parents == clip.parents


def test_file_round_trip_and_crlf(tmp_path: Path) -> None:
    text = reactidle_like(4).replace("\n", "\r\n")
    path = tmp_path / "crlf.bvh"
    path.write_bytes(text.encode())
    clip = read_bvh(path)
    write_bvh(clip, tmp_path / "out.bvh")
    np.testing.assert_array_equal(read_bvh(tmp_path / "out.bvh").motion, clip.motion)


def test_clip_is_read_only_and_validates_shape() -> None:
    clip = parse_bvh(bandai_like(2))
    with pytest.raises(ValueError):
        clip.motion[0, 0] = 1.0
    with pytest.raises(ValueError, match="shape"):
        Clip(clip.joints, clip.frame_time, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="parent"):
        Clip((Joint("a", 0, (0.0, 0.0, 0.0), ()),), 0.1, np.zeros((1, 0)))


def test_writing_non_finite_values_fails() -> None:
    clip = parse_bvh(bandai_like(2))
    motion = clip.motion.copy()
    motion[1, 3] = np.nan
    with pytest.raises(BvhError, match="non-finite"):
        format_bvh(clip.with_motion(motion))


# ----------------------------------------------------------------------------- bad input


def _replace_line(text: str, predicate: str, new: str) -> str:
    lines = text.split("\n")
    index = next(i for i, line in enumerate(lines) if predicate in line)
    lines[index] = new
    return "\n".join(lines)


def _first_frame_line(text: str) -> int:
    return (
        text.split("\n").index(
            next(line for line in text.split("\n") if line.startswith("Frame Time"))
        )
        + 2
    )


GOOD = reactidle_like(4)
FRAME_LINE = _first_frame_line(GOOD)  # 1-based number of the first frame line
FRAME_LINES = GOOD.split("\n")


def _with_frame(index: int, values: str) -> str:
    lines = list(FRAME_LINES)
    lines[FRAME_LINE - 1 + index] = values
    return "\n".join(lines)


BAD_INPUTS: dict[str, tuple[str | bytes, str]] = {
    "missing MOTION": (GOOD[: GOOD.index("MOTION")], "missing MOTION section"),
    "missing HIERARCHY": (GOOD.replace("HIERARCHY\n", "", 1), "expected 'HIERARCHY', found 'ROOT'"),
    "no HIERARCHY, no MOTION": ("just some words\n", "no HIERARCHY header"),
    "too few values": (
        _with_frame(2, " ".join(FRAME_LINES[FRAME_LINE + 1].split()[:-1])),
        f":{FRAME_LINE + 2}: frame 2 has 110 values; the hierarchy has 111 channels",
    ),
    "too many values": (
        _with_frame(1, FRAME_LINES[FRAME_LINE] + " 1.0"),
        f":{FRAME_LINE + 1}: frame 1 has 112 values",
    ),
    "nan value": (
        _with_frame(0, FRAME_LINES[FRAME_LINE - 1].replace("0.900000", "nan", 1)),
        f":{FRAME_LINE}: non-finite value 'nan' in frame 0",
    ),
    "inf value": (
        _with_frame(3, "inf " + " ".join(FRAME_LINES[FRAME_LINE + 2].split()[1:])),
        f":{FRAME_LINE + 3}: non-finite value 'inf' in frame 3, column 0",
    ),
    "not a number": (
        _with_frame(1, "abc " + " ".join(FRAME_LINES[FRAME_LINE].split()[1:])),
        f":{FRAME_LINE + 1}: expected a number, found 'abc'",
    ),
    "zero frames": (
        GOOD[: GOOD.index("Frames:")] + "Frames: 0\nFrame Time: 0.041667\n",
        "the clip has 0 frames",
    ),
    "bad frame time": (
        GOOD.replace("Frame Time: 0.041667", "Frame Time: -1"),
        "'Frame Time:' must be positive",
    ),
    "no frame time": (
        GOOD.replace("Frame Time: 0.041667", "Frame Tme: 0.04"),
        "expected 'Frame Time: <number>'",
    ),
    "unknown channel": (
        GOOD.replace("CHANNELS 3 Xrotation", "CHANNELS 3 Wrotation", 1),
        "unknown channel name 'Wrotation'",
    ),
    "bad channel count": (
        GOOD.replace("CHANNELS 3 Xrotation", "CHANNELS x Xrotation", 1),
        "expected a channel count after CHANNELS",
    ),
    "missing closing brace": (
        GOOD[: GOOD.rindex("}", 0, GOOD.index("MOTION"))]
        + GOOD[GOOD.rindex("}", 0, GOOD.index("MOTION")) + 1 :],
        "unbalanced braces: '{' is never closed",
    ),
    "extra closing brace": (
        GOOD.replace("MOTION", "}\nMOTION"),
        "unbalanced braces: '}' without a matching '{'",
    ),
    "truncated mid-frame": (
        GOOD[: GOOD.rindex(" ", 0, len(GOOD) - 40)],
        "truncated file: the last frame line has",
    ),
    "truncated frames": (
        "\n".join(FRAME_LINES[: FRAME_LINE + 1]),
        "truncated file: 'Frames: 4' but only 2 frame lines",
    ),
    "truncated hierarchy": (
        GOOD[: GOOD.index("JOINT shin.L")],
        "missing MOTION section (truncated file?)",
    ),
    "extra frame lines": (
        GOOD + FRAME_LINES[FRAME_LINE] + "\n",
        "more frame lines than 'Frames: 4'",
    ),
    "empty bytes": (b"", "empty file (0 bytes)"),
    "blank text": ("  \n\n", "empty file"),
    "binary": (bytes(range(256)) * 4, "not a text file (binary data)"),
    "nan offset": (
        GOOD.replace("OFFSET 0.000000 0.900000", "OFFSET nan 0.900000", 1),
        "non-finite value 'nan'",
    ),
    "duplicate joint": (
        GOOD.replace("JOINT shin.R", "JOINT shin.L"),
        "duplicate joint name 'shin.L'",
    ),
    "no ROOT": ("HIERARCHY\nMOTION\nFrames: 1\nFrame Time: 0.1\n\n", "HIERARCHY has no ROOT joint"),
    "joint without offset": (
        GOOD.replace("\t\tOFFSET 0.000000 0.000000 0.000000\n", "", 1),
        "has no OFFSET",
    ),
    "repeated channel": (
        GOOD.replace("CHANNELS 3 Xrotation Yrotation", "CHANNELS 3 Xrotation Xrotation", 1),
        "channel Xrotation listed twice",
    ),
    "garbage keyword": (GOOD.replace("\tJOINT spine\n", "\tBONE spine\n", 1), "unexpected 'BONE'"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_raises_a_one_line_bvh_error(case: str) -> None:
    data, fragment = BAD_INPUTS[case]
    with pytest.raises(BvhError) as caught:
        parse_bvh(data, source="bad.bvh")
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and message.startswith("bad.bvh")


def test_missing_file_is_a_bvh_error(tmp_path: Path) -> None:
    with pytest.raises(BvhError, match="cannot read"):
        read_bvh(tmp_path / "nope.bvh")


def test_latin1_names_are_read() -> None:
    text = names_bvh([("Hüfte", None), ("Knie", "Hüfte")])
    clip = parse_bvh(text.encode("latin-1"))
    assert clip.names == ("Hüfte", "Knie")
