"""Which kind of motion a gap holds: locomotion, gesture or near-still (for the split evaluation).

The class of a gap comes from two sources, because neither is enough alone:

- **The take's name.** Bandai-Namco file names carry the content (``dataset-2_walk-turn-left_
  elderly_009.bvh``): ``walk*``, ``run`` and ``dash`` are locomotion, everything else (bow,
  bye, guide, call, respond, punch, kick, slash, dance, wave, raise-up) a gesture. ReActIdle
  takes are standing idles. CMU file names (``005_08.bvh``) say nothing.
- **The capture's motion energy** over the gap and its context: the mean horizontal speed of
  the Hips (``root``) and the mean speed of the hands and feet relative to the Hips
  (``limbs``), both in cm per 30-fps frame. A take named "walk" starts and ends standing, a
  wave has long still stretches before and after the wave, an idle shifts its weight.

Rule (thresholds chosen on the held-out takes' distribution of both speeds, see the model
card): a gap is **near-still** when ``root < STILL_ROOT_CM`` and ``limbs < STILL_LIMB_CM``,
whatever its name; otherwise it is **locomotion** when its root travels
(``root >= LOCOMOTION_ROOT_CM``) and the take is not an idle by name; otherwise a
**gesture** (moving in place: arms, turning on the spot, a walk's first steps).
"""

from __future__ import annotations

from pathlib import Path

from engine.media.motion.energy import Energy

ACTIVITIES: tuple[str, ...] = ("locomotion", "gesture", "near-still")
LOCOMOTION_CONTENTS = ("walk", "run", "dash")
"""Bandai content words (the file name's second field, before any ``-``) that travel."""
STILL_ROOT_CM = 0.5
"""Mean Hips speed (cm per 30-fps frame, 15 cm/s) below which a gap may be near-still."""
STILL_LIMB_CM = 0.5
"""Mean hand/foot speed relative to the Hips (cm per 30-fps frame, 15 cm/s) below which
a gap is near-still: a weight shift or a slow hand, not a wave."""
LOCOMOTION_ROOT_CM = 1.5
"""Mean Hips speed (cm per 30-fps frame, 45 cm/s, a slow walk) from which a gap travels."""


def name_class(rig: str, name: str) -> str | None:
    """``"locomotion"``, ``"gesture"``, ``"idle"`` from the take's name, or None (unknown)."""
    if rig == "ReActIdle":
        return "idle"
    if rig != "Bandai":
        return None
    fields = Path(name).stem.split("_")
    content = fields[1] if len(fields) > 1 else ""
    return "locomotion" if content.split("-")[0] in LOCOMOTION_CONTENTS else "gesture"


def classify(rig: str, name: str, energy: Energy) -> str:
    """The gap's activity (one of :data:`ACTIVITIES`) by the module's rule."""
    if energy.root < STILL_ROOT_CM and energy.limbs < STILL_LIMB_CM:
        return "near-still"
    by_name = name_class(rig, name)
    if energy.root >= LOCOMOTION_ROOT_CM and by_name != "idle":
        return "locomotion" if by_name in (None, "locomotion") else "gesture"
    return "gesture"
