"""How long a MIDI piece remask reads, checked from the ticks before any grid is built.

The token grid has one column per sixteenth for four voices, and the bar list one
entry per bar, so their size follows the last tick, not the file size: a 27-byte
file with one note 2^28 ticks long would ask for gigabytes. :data:`MAX_QUARTERS`
refuses it from the note index, before a grid exists.
"""

from __future__ import annotations

MAX_QUARTERS = 65_536
"""Longest piece in quarter notes (9 hours at 120 BPM). Even on the finest grid a model may
declare (:data:`MAX_STEPS_PER_QUARTER`) its 4 voices x 4 million steps take 134 MB."""

MAX_STEPS_PER_QUARTER = 64
"""Finest grid a model may declare (``medium_facts.steps_per_quarter``): 256th notes."""

MAX_FILE_BYTES = 64 * 1024 * 1024
"""Largest MIDI file read (64 MiB; real pieces are kilobytes, "black MIDI" a few MB): mido keeps
each event as a Python object, tens of times its bytes. Checked before the file is read."""
