"""The piano roll calls each part by its own name (Violin 1 ... Violoncello) and numbers bars
as the score does (a pickup is bar 0): real widgets, real files, pixels compared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QToolButton

from app.midi.dialogs import BarsDialog
from app.midi.drawing import LANES_HEIGHT
from app.midi.editor import PianoRollEditor
from tests.engine.midi.midi_files import QUARTET, TPB, quartet, save

PICKUP = ((0, 1, 4), (TPB, 4, 4))
NAMES = ("Violin 1", "Violin 2", "Viola", "Violoncello")


def _quartet_named(tmp_path: Path, names: tuple[str, str, str, str], file: str) -> Path:
    parts = [(name, p, lo, hi) for name, (_, p, lo, hi) in zip(names, QUARTET, strict=True)]
    return save(quartet(bars=4, signatures=PICKUP, parts=parts), tmp_path / file)


def _open(qtbot: Any, path: Path) -> PianoRollEditor:
    editor = PianoRollEditor()
    qtbot.addWidget(editor)
    editor.resize(1000, 600)
    editor.show()
    editor.open_path(path)
    qtbot.waitExposed(editor)
    return editor


def _lane_labels(editor: PianoRollEditor) -> QImage:
    keyboard = editor.view.keyboard
    return keyboard.grab().toImage().copy(0, 0, keyboard.width(), LANES_HEIGHT)


def test_lanes_and_voice_buttons_show_the_parts_names(qtbot: Any, tmp_path: Path) -> None:
    names = NAMES
    strings = _open(qtbot, _quartet_named(tmp_path, names, "strings.mid"))
    assert strings.document is not None
    assert strings.document.voice_labels == NAMES
    buttons = [strings.toolbar.widgetForAction(a) for a in strings.voice_actions]
    assert [b.text() for b in buttons if isinstance(b, QToolButton)] == list(names)
    unnamed = _open(qtbot, _quartet_named(tmp_path, ("", "", "", ""), "unnamed.mid"))
    assert unnamed.document is not None
    assert unnamed.document.voice_labels == ("Soprano", "Alto", "Tenor", "Bass")
    satb = _open(qtbot, _quartet_named(tmp_path, ("Soprano", "Alto", "Tenor", "Bass"), "s.mid"))
    assert _lane_labels(unnamed) == _lane_labels(satb)  # unnamed parts: the voices' names
    assert _lane_labels(strings) != _lane_labels(satb)  # named parts: their own names drawn


def test_bars_dialog_offers_the_pickup_and_the_parts(qtbot: Any, tmp_path: Path) -> None:
    names = NAMES
    editor = _open(qtbot, _quartet_named(tmp_path, names, "strings.mid"))
    document = editor.document
    assert document is not None and document.grid.first_bar == 0
    dialog = BarsDialog(document.grid, document.voice_labels)
    qtbot.addWidget(dialog)
    assert (dialog.first.minimum(), dialog.last.maximum()) == (0, document.grid.last_bar)
    assert [box.text() for box in dialog.voices] == list(names)
    dialog.first.setValue(0)
    dialog.last.setValue(1)
    dialog.voices[0].setChecked(True)
    first, last, voices = dialog.choice()
    document.mask_bars(first, last, voices)
    assert document.mask[:, :4].any() and document.mask[[0, 1, 2], 4:20].all()
    assert not document.mask[:, 20:].any()
