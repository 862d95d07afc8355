"""What a MIDI model must declare for :class:`~engine.media.midi.repaint.MidiCodec` to use it.

Run once when the model is found (``MediumSpec.check_model``), so a manifest whose
facts would fail mid-repaint, or silently misplace notes (a rest token inside the
pitch range, a fractional step size read as a whole one), is reported as broken
and never offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.manifest import ModelManifest
from engine.media.midi.grid import N_VOICES, TokenContract
from engine.media.midi.limits import MAX_STEPS_PER_QUARTER
from engine.media.midi.repaint import MidiCodec


def _whole(facts: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = facts.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"medium_facts.{key} must be a whole number {low}..{high}, got {value!r}")
    return value


def check_model(manifest: ModelManifest) -> None:
    """Raise ValueError (one line) unless the grid, pitch range and rest token fit together."""
    facts, default = manifest.medium_facts, TokenContract()
    steps = _whole(facts, "window_steps", manifest.shape[-1], 1, manifest.length)
    if tuple(manifest.shape) != (N_VOICES, steps):
        raise ValueError(f"tokens.shape {list(manifest.shape)} must be [{N_VOICES}, {steps}]")
    low = _whole(facts, "pitch_min", default.pitch_min, 0, 127)
    high = _whole(facts, "pitch_max", default.pitch_max, low, 127)
    rest = _whole(facts, "rest_token", default.rest_token, 0, manifest.vocab_size - 1)
    if rest <= high - low:
        raise ValueError(
            f"medium_facts.rest_token {rest} is a pitch token (0..{high - low} are pitches "
            f"{low}..{high})"
        )
    _whole(facts, "steps_per_quarter", default.steps_per_quarter, 1, MAX_STEPS_PER_QUARTER)
    voices = facts.get("voices", [])
    if not isinstance(voices, list) or not all(isinstance(v, str) for v in voices):
        raise ValueError("medium_facts.voices must be a list of voice names")
    MidiCodec.from_manifest(manifest)  # whatever else the codec checks
