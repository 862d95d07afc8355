"""The generic variations strip: thumbnails, selection, Accept, Discard all (real clicks)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QWidget

from app.variations import VariationsStrip


def thumbnails(count: int) -> list[QPixmap]:
    pixmaps = []
    for index in range(count):
        pixmap = QPixmap(40, 20)
        pixmap.fill(QColor.fromHsv(index * 60, 200, 220))
        pixmaps.append(pixmap)
    return pixmaps


def shown_strip(qtbot: Any, count: int = 3) -> VariationsStrip:
    strip = VariationsStrip()
    qtbot.addWidget(strip)
    strip.show()
    strip.set_variations(thumbnails(count))
    return strip


def test_empty_strip_is_hidden_and_filling_it_selects_the_first(qtbot: Any) -> None:
    page = QWidget()  # inside a page, as in an editor: the strip hides itself while empty
    qtbot.addWidget(page)
    strip = VariationsStrip(page)
    page.show()
    assert not strip.isVisible() and strip.current() == -1
    with qtbot.waitSignal(strip.selected) as blocker:
        strip.set_variations(thumbnails(3), ["a", "b", "c"])
    assert blocker.args == [0]
    assert strip.isVisible() and strip.count == 3 and strip.current() == 0
    assert [b.text() for b in strip.buttons] == ["a", "b", "c"]


def test_clicking_a_thumbnail_selects_it(qtbot: Any) -> None:
    strip = shown_strip(qtbot)
    with qtbot.waitSignal(strip.selected) as blocker:
        qtbot.mouseClick(strip.buttons[2], Qt.MouseButton.LeftButton)
    assert blocker.args == [2] and strip.current() == 2
    assert not strip.buttons[0].isChecked()


def test_accept_reports_the_selected_index_and_clears(qtbot: Any) -> None:
    strip = shown_strip(qtbot)
    qtbot.mouseClick(strip.buttons[1], Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(strip.acceptRequested) as blocker:
        qtbot.mouseClick(strip.accept_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [1]
    assert strip.count == 0 and not strip.isVisible()


def test_discard_all_reports_and_clears(qtbot: Any) -> None:
    strip = shown_strip(qtbot, 2)
    with qtbot.waitSignal(strip.discardRequested):
        qtbot.mouseClick(strip.discard_button, Qt.MouseButton.LeftButton)
    assert strip.count == 0 and not strip.isVisible()


def test_refilling_replaces_the_old_variations(qtbot: Any) -> None:
    strip = shown_strip(qtbot, 4)
    strip.set_variations(thumbnails(2))
    assert strip.count == 2 and strip.current() == 0
