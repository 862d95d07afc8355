"""Writing a model's MODEL_CARD.md without losing what people wrote below the generated part.

A card is generated from a training run's numbers, but its history section (ablations, what was
tried and not shipped, figures from runs that no longer exist) is written by hand and no run can
regenerate it. Every card writer goes through :func:`write_card`, so re-exporting a model keeps
that section as it was.
"""

from __future__ import annotations

import re
from pathlib import Path

CARD_FILE = "MODEL_CARD.md"
HISTORY_HEADING = "## History and ablations"
"""The hand-written tail starts at the line that begins with this heading."""

_TAIL_START = re.compile(rf"^{re.escape(HISTORY_HEADING)}", re.MULTILINE)


def hand_written_tail(card: str) -> str:
    """The card's text from its history heading to the end, or "" when it has none."""
    found = _TAIL_START.search(card)
    return card[found.start() :] if found else ""


def write_card(out_dir: Path, generated: str) -> Path:
    """Write ``generated`` as ``out_dir``'s card, followed by the old card's hand-written tail."""
    path = out_dir / CARD_FILE
    tail = hand_written_tail(path.read_text()) if path.exists() else ""
    path.write_text(generated.rstrip("\n") + "\n\n" + tail if tail else generated)
    return path
