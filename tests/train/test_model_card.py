"""A regenerated model card keeps the hand-written history section of the card it replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from engine.train.model_card import CARD_FILE, HISTORY_HEADING, write_card  # noqa: E402
from engine.train.motion import card as motion_card  # noqa: E402
from engine.train.motion.model import tiny_config  # noqa: E402

HISTORY = f"""{HISTORY_HEADING} (from the README)

- An ablation no training run can regenerate: 4.1 cm vs 7.5 cm.

## A later hand-written heading stays too
Trailing text without a final newline."""


def test_the_history_section_survives_a_rewrite_unchanged(tmp_path: Path) -> None:
    (tmp_path / CARD_FILE).write_text("# old\n\n## Numbers\nold numbers\n\n" + HISTORY)
    path = write_card(tmp_path, "# new\n\n## Numbers\nnew numbers\n")
    assert path.read_text() == "# new\n\n## Numbers\nnew numbers\n\n" + HISTORY


def test_a_card_without_history_gets_none(tmp_path: Path) -> None:
    generated = "# new\n\nno history here\n"
    assert write_card(tmp_path, generated).read_text() == generated  # no card before
    (tmp_path / CARD_FILE).write_text("# old\n\n## History, but not the heading\n")
    assert write_card(tmp_path, generated).read_text() == generated


def test_a_heading_inside_a_line_does_not_start_the_tail(tmp_path: Path) -> None:
    (tmp_path / CARD_FILE).write_text(f"# old\nsee `{HISTORY_HEADING}` below\n")
    assert write_card(tmp_path, "# new\n").read_text() == "# new\n"


def test_a_real_card_writer_keeps_the_section(tmp_path: Path) -> None:
    (tmp_path / CARD_FILE).write_text("# motion-mmm\nold\n\n" + HISTORY)
    card = motion_card.write_model_card(tmp_path, tiny_config(), {}, "remask-train motion", "| t |")
    text = card.read_text()
    assert "Non-commercial use only" in text and text.endswith("\n\n" + HISTORY)
    assert text.count(HISTORY_HEADING) == 1 and "\nold\n" not in text
