"""Export proposes a new name beside the source, asks before replacing, and feeds Open Recent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMessageBox

from app.engine_worker import EngineBridge
from app.export_dialog import proposed_path, save_dialog
from app.image.editor import ImageEditor
from app.main_window import MainWindow
from engine.media.image.export import save_image
from engine.media.image.files import LoadedImage
from engine.models import ModelRegistry
from tests.app.helpers import page_editor, shown_window


def test_the_proposal_is_a_new_file_beside_the_source(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"x")
    images = (".png", ".jpg")
    assert proposed_path(source, images) == tmp_path / "photo-edited.jpg"
    assert proposed_path(tmp_path / "photo.tif", images) == tmp_path / "photo-edited.png"
    (tmp_path / "photo-edited.jpg").write_bytes(b"x")
    assert proposed_path(source, images) == tmp_path / "photo-edited-2.jpg"
    edited = tmp_path / "photo-edited.jpg"  # exported once: count up, no -edited-edited
    assert proposed_path(edited, images) == tmp_path / "photo-edited-2.jpg"
    assert proposed_path(tmp_path / "a-edited-7.png", images) == tmp_path / "a-edited.png"


def answer_replace(button: QMessageBox.StandardButton, asked: list[str]) -> None:
    """Answer the overwrite question Qt asks modally (from inside the dialog's accept)."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            asked.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(20, answer)

    QTimer.singleShot(20, answer)


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [(QMessageBox.StandardButton.No, False), (QMessageBox.StandardButton.Yes, True)],
)
def test_choosing_an_existing_file_asks_before_replacing_it(
    qtbot: Any, tmp_path: Path, answer: QMessageBox.StandardButton, accepted: bool
) -> None:
    existing = tmp_path / "song.mid"
    existing.write_bytes(b"MThd")
    dialog = save_dialog(None, "Export", tmp_path / "song-edited.mid", "MIDI (*.mid)")
    qtbot.addWidget(dialog)
    assert not dialog.testOption(QFileDialog.Option.DontConfirmOverwrite)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
    dialog.open()
    dialog.selectFile(str(existing))
    asked: list[str] = []
    answer_replace(answer, asked)
    dialog.accept()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    assert "song.mid" in asked[0]
    assert (dialog.result() == QDialog.DialogCode.Accepted) is accepted
    assert existing.read_bytes() == b"MThd"  # the dialog only chooses; nothing is written yet
    dialog.close()


@pytest.fixture
def window(
    qtbot: Any, registry: ModelRegistry, bridge: EngineBridge, qsettings: QSettings
) -> Iterator[MainWindow]:
    editors = {"image": ImageEditor, "midi": None, "motion": None}
    main = shown_window(qtbot, registry, bridge, qsettings, editors)
    yield main
    main.close()


def test_export_proposes_a_new_name_then_names_the_document_after_it(
    qtbot: Any, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "photos" / "photo.png"
    photo.parent.mkdir()
    save_image(LoadedImage.from_rgb(np.zeros((8, 8, 3), np.uint8)), photo)
    assert window.open_path(photo)
    qtbot.waitUntil(lambda: page_editor(window, ImageEditor).has_document(), timeout=10_000)
    editor = page_editor(window, ImageEditor)
    proposed: list[str] = []

    def take_proposal(dialog: QFileDialog) -> int:
        proposed.append(dialog.selectedFiles()[0])
        return int(QDialog.DialogCode.Accepted)

    monkeypatch.setattr(QFileDialog, "exec", take_proposal)
    window.export_dialog()
    exported = photo.with_name("photo-edited.png")
    assert proposed == [str(exported)] and exported.exists()
    assert editor.document_name() == "photo-edited.png"
    assert window.recent.paths()[0] == exported.resolve()
    window.export_dialog()  # again: never over the file just written either
    assert proposed[-1] == str(photo.with_name("photo-edited-2.png"))
