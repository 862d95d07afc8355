"""MIDI medium: the public face of the ``midi_*`` modules (io, grid, voices, edit, repaint).

Typical use::

    score = load_score("in.mid")
    mapping, voices = resolve_voices(score, ["alto", "tenor"])
    grid = time_grid(score)
    mask = region_mask(grid, (3, 4), voices)          # bars 3-4, 1-based inclusive
    results = repaint(score, mask, logits_fn, manifest, settings, mapping=mapping)
    save_score(results[0], "out.mid")

The pieces live in focused modules; import from here unless you need internals.
"""

from engine.media.midi.edit import NewNote, apply_edit
from engine.media.midi.files import (
    DRUM_CHANNEL,
    MidiError,
    NoteRecord,
    Score,
    TimeSignature,
    load_score,
    read_score,
    save_score,
)
from engine.media.midi.grid import (
    N_VOICES,
    UNMAPPED,
    VOICES,
    TimeGrid,
    TokenContract,
    region_mask,
    time_grid,
    token_grid,
)
from engine.media.midi.repaint import (
    MidiCodec,
    MidiModelFacts,
    MidiPayload,
    ModelWindow,
    Window,
    plan_windows,
    repaint,
    repaint_bars,
)
from engine.media.midi.voices import (
    Part,
    VoiceMapping,
    VoiceTarget,
    context_parts,
    find_parts,
    map_voices,
    resolve_voices,
    sounds_through,
    suggested_parts,
    unheard_parts,
)

__all__ = [
    "DRUM_CHANNEL",
    "N_VOICES",
    "UNMAPPED",
    "VOICES",
    "MidiCodec",
    "MidiError",
    "MidiModelFacts",
    "MidiPayload",
    "ModelWindow",
    "NewNote",
    "NoteRecord",
    "Part",
    "Score",
    "TimeGrid",
    "TimeSignature",
    "TokenContract",
    "VoiceMapping",
    "VoiceTarget",
    "Window",
    "apply_edit",
    "context_parts",
    "find_parts",
    "load_score",
    "map_voices",
    "plan_windows",
    "read_score",
    "region_mask",
    "repaint",
    "repaint_bars",
    "resolve_voices",
    "save_score",
    "sounds_through",
    "suggested_parts",
    "time_grid",
    "token_grid",
    "unheard_parts",
]
