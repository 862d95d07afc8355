"""Canonical skeleton mapping: every staged naming style, common rigs, parts and clear failures."""

from __future__ import annotations

import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.skeleton import (
    CANONICAL_JOINTS,
    CANONICAL_PARENTS,
    LOWER_JOINTS,
    UPPER_JOINTS,
    SkeletonError,
    map_skeleton,
    normalize_joint_name,
)
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like, names_bvh, reactidle_like


def _sided(
    template: list[tuple[str, str | None]], left: str, right: str
) -> list[tuple[str, str | None]]:
    """Left-side (name, parent) pairs plus their right-side copies."""
    right_side = [(n.replace(left, right), p.replace(left, right) if p else p) for n, p in template]
    return template + right_side


def _mixamo() -> list[tuple[str, str | None]]:
    m = "mixamorig:"
    trunk = [
        (f"{m}Hips", None),
        (f"{m}Spine", f"{m}Hips"),
        (f"{m}Spine1", f"{m}Spine"),
        (f"{m}Spine2", f"{m}Spine1"),
        (f"{m}Neck", f"{m}Spine2"),
        (f"{m}Head", f"{m}Neck"),
    ]
    arm = [
        (f"{m}LeftShoulder", f"{m}Spine2"),
        (f"{m}LeftArm", f"{m}LeftShoulder"),
        (f"{m}LeftForeArm", f"{m}LeftArm"),
        (f"{m}LeftHand", f"{m}LeftForeArm"),
        (f"{m}LeftHandIndex1", f"{m}LeftHand"),
    ]
    leg = [
        (f"{m}LeftUpLeg", f"{m}Hips"),
        (f"{m}LeftLeg", f"{m}LeftUpLeg"),
        (f"{m}LeftFoot", f"{m}LeftLeg"),
        (f"{m}LeftToeBase", f"{m}LeftFoot"),
    ]
    return trunk + _sided(arm, "Left", "Right") + _sided(leg, "Left", "Right")


def _cmu_original() -> list[tuple[str, str | None]]:
    trunk = [
        ("Hips", None),
        ("LowerBack", "Hips"),
        ("Spine", "LowerBack"),
        ("Spine1", "Spine"),
        ("Neck", "Spine1"),
        ("Neck1", "Neck"),
        ("Head", "Neck1"),
    ]
    arm = [
        ("LeftShoulder", "Spine1"),
        ("LeftArm", "LeftShoulder"),
        ("LeftForeArm", "LeftArm"),
        ("LeftHand", "LeftForeArm"),
        ("LeftFingerBase", "LeftHand"),
        ("LThumb", "LeftHand"),
    ]
    leg = [
        ("LHipJoint", "Hips"),
        ("LeftUpLeg", "LHipJoint"),
        ("LeftLeg", "LeftUpLeg"),
        ("LeftFoot", "LeftLeg"),
        ("LeftToeBase", "LeftFoot"),
    ]
    right = [
        (
            n.replace("Left", "Right").replace("LThumb", "RThumb").replace("LHip", "RHip"),
            p.replace("Left", "Right").replace("LHip", "RHip") if p else p,
        )
        for n, p in arm + leg
    ]
    return trunk + arm + leg + right


def _biped() -> list[tuple[str, str | None]]:
    trunk = [
        ("Bip01", None),
        ("Bip01 Pelvis", "Bip01"),
        ("Bip01 Spine", "Bip01 Pelvis"),
        ("Bip01 Spine1", "Bip01 Spine"),
        ("Bip01 Neck", "Bip01 Spine1"),
        ("Bip01 Head", "Bip01 Neck"),
    ]
    arm = [
        ("Bip01 L Clavicle", "Bip01 Neck"),
        ("Bip01 L UpperArm", "Bip01 L Clavicle"),
        ("Bip01 L Forearm", "Bip01 L UpperArm"),
        ("Bip01 L Hand", "Bip01 L Forearm"),
    ]
    leg = [
        ("Bip01 L Thigh", "Bip01 Pelvis"),
        ("Bip01 L Calf", "Bip01 L Thigh"),
        ("Bip01 L Foot", "Bip01 L Calf"),
        ("Bip01 L Toe0", "Bip01 L Foot"),
    ]
    return trunk + _sided(arm, " L ", " R ") + _sided(leg, " L ", " R ")


def test_canonical_skeleton_is_the_bandai_rig() -> None:
    assert len(CANONICAL_JOINTS) == 22 == len(CANONICAL_PARENTS)
    assert all(p < i for i, p in enumerate(CANONICAL_PARENTS))
    assert set(CANONICAL_JOINTS) == UPPER_JOINTS | LOWER_JOINTS and not UPPER_JOINTS & LOWER_JOINTS
    assert "Hips" in LOWER_JOINTS and "Root" in LOWER_JOINTS and "Spine" in UPPER_JOINTS


def test_bandai_maps_one_to_one() -> None:
    clip = parse_bvh(bandai_like(2))
    smap = map_skeleton(clip)
    assert smap.missing == ()
    expected = {name: name for name in CANONICAL_JOINTS} | {"Root": "joint_Root"}
    assert smap.mapped == expected


def test_bandai_parts() -> None:
    clip = parse_bvh(bandai_like(2))
    smap = map_skeleton(clip)
    upper = {clip.names[i] for i in smap.part_joints("upper")}
    lower = {clip.names[i] for i in smap.part_joints("lower")}
    assert upper == set(UPPER_JOINTS)
    assert lower == {"joint_Root"} | set(LOWER_JOINTS) - {"Root"}
    assert len(smap.part_joints("full")) == 22
    with pytest.raises(ValueError, match="unknown body part 'arms'"):
        smap.part_joints("arms")


def test_reactidle_maps_with_optional_joints_missing() -> None:
    smap = map_skeleton(parse_bvh(reactidle_like(2)))
    assert smap.missing == ("Root", "Hand_L", "Hand_R", "Toes_L", "Toes_R")
    assert smap.mapped["Hips"] == "pelvis" and smap.mapped["Head"] == "face"
    assert smap.mapped["Chest"] == "spine.001" and smap.mapped["LowerArm_L"] == "forearm.L"
    assert smap.mapped["UpperLeg_R"] == "thigh.R" and smap.mapped["LowerLeg_R"] == "shin.R"
    parts = dict(zip(smap.source_names, smap.source_parts, strict=True))
    assert parts["pelvis.L"] == "lower" and parts["shoulder.R"] == "upper"


def test_cc_rig_maps_hip_not_pelvis_and_composes_intermediates() -> None:
    clip = parse_bvh(cmu_like(2))
    smap = map_skeleton(clip)
    assert smap.mapped["Hips"] == "CC_Base_Hip"
    assert smap.mapped["Spine"] == "CC_Base_Spine01" and smap.mapped["Chest"] == "CC_Base_Spine02"
    assert smap.mapped["Neck"] == "CC_Base_NeckTwist01" and smap.mapped["Head"] == "CC_Base_Head"
    assert (
        smap.mapped["Shoulder_L"] == "CC_Base_L_Clavicle"
        and smap.mapped["Toes_R"] == "CC_Base_R_ToeBase"
    )
    parts = dict(zip(smap.source_names, smap.source_parts, strict=True))
    assert parts["CC_Base_Pelvis"] == "lower"  # the thighs hang from it
    assert parts["CC_Base_Waist"] == "upper"  # the spine hangs from it
    assert parts["CC_Base_L_ThighTwist01"] == "lower" and parts["CC_Base_R_Index1"] == "upper"


def test_cc_rig_with_bone_root() -> None:
    smap = map_skeleton(parse_bvh(cmu_like(2, bone_root=True)))
    assert smap.mapped["Root"] == "RL_BoneRoot" and smap.mapped["Hips"] == "CC_Base_Hip"


def test_mixamo_names() -> None:
    smap = map_skeleton(parse_bvh(names_bvh(_mixamo())))
    assert smap.mapped["Hips"] == "mixamorig:Hips"
    assert smap.mapped["Chest"] == "mixamorig:Spine2" and smap.mapped["Spine"] == "mixamorig:Spine"
    assert smap.mapped["UpperLeg_L"] == "mixamorig:LeftUpLeg"
    assert smap.mapped["LowerLeg_R"] == "mixamorig:RightLeg"
    assert smap.mapped["UpperArm_L"] == "mixamorig:LeftArm"
    assert smap.mapped["Shoulder_R"] == "mixamorig:RightShoulder"
    assert smap.mapped["Toes_L"] == "mixamorig:LeftToeBase"


def test_cmu_original_names_with_hip_joints() -> None:
    smap = map_skeleton(parse_bvh(names_bvh(_cmu_original())))
    assert smap.mapped["UpperLeg_L"] == "LeftUpLeg"  # below the unmapped LHipJoint
    assert smap.mapped["Spine"] == "Spine" and smap.mapped["Chest"] == "Spine1"
    assert smap.mapped["Neck"] == "Neck" and smap.mapped["Shoulder_L"] == "LeftShoulder"
    parts = dict(zip(smap.source_names, smap.source_parts, strict=True))
    assert (
        parts["LHipJoint"] == "lower"
        and parts["LowerBack"] == "upper"
        and parts["LThumb"] == "upper"
    )


def test_biped_names_with_spaces() -> None:
    smap = map_skeleton(parse_bvh(names_bvh(_biped())))
    assert smap.mapped["Hips"] == "Bip01 Pelvis" and smap.mapped["Toes_L"] == "Bip01 L Toe0"
    assert smap.mapped["Shoulder_R"] == "Bip01 R Clavicle"
    assert "Root" not in smap.mapped  # Bip01 is not a known root name: it stays unmapped


def test_names_are_case_insensitive() -> None:
    shouty = [(n.upper(), p.upper() if p else p) for n, p in _cmu_original()]
    smap = map_skeleton(parse_bvh(names_bvh(shouty)))
    assert smap.mapped["Foot_L"] == "LEFTFOOT"


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("mixamorig:LeftUpLeg", "leftupleg"),
        ("mixamorig1:Hips", "hips"),
        ("CC_Base_L_Thigh", "lthigh"),
        ("Bip01 L Thigh", "lthigh"),
        ("thigh.L", "thighl"),
        ("UpperLeg_L", "upperlegl"),
        ("spine.001", "spine001"),
        ("Character1|Hips", "hips"),
    ],
)
def test_normalize_joint_name(name: str, normal: str) -> None:
    assert normalize_joint_name(name) == normal


def test_missing_joints_are_named() -> None:
    names = [(n, p) for n, p in _cmu_original() if "Foot" not in n and "ToeBase" not in n]
    with pytest.raises(SkeletonError) as caught:
        map_skeleton(parse_bvh(names_bvh(names)))
    message = str(caught.value)
    assert message.startswith(
        "cannot map skeleton: missing joints Foot_L, Foot_R (found: Hips, LowerBack,"
    )
    assert "\n" not in message


def test_unrelated_rig_lists_what_it_found() -> None:
    with pytest.raises(
        SkeletonError, match=r"missing joints Hips, Spine, .* \(found: Body, Wing_A\)"
    ):
        map_skeleton(parse_bvh(names_bvh([("Body", None), ("Wing_A", "Body")])))


def test_misplaced_joint_is_rejected() -> None:
    # The left foot sits under the right leg: names alone would map it, the tree says no.
    names = [(n, "RightLeg" if n == "LeftFoot" else p) for n, p in _cmu_original()]
    with pytest.raises(SkeletonError, match=r"'LeftFoot' \(as Foot_L\) is not below 'LeftLeg'"):
        map_skeleton(parse_bvh(names_bvh(names)))
