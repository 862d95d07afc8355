"""Every keyboard shortcut of the window, in one table, and how a key reaches it.

:data:`SHORTCUTS` is the one place a key is chosen: the window and the editors
bind their actions with :func:`bind` (by command name), and Help ▸ Keyboard
shortcuts lists the same table (:class:`ShortcutsDialog`), so the list can
never disagree with what the keys do.

Where a key works: every bound action is a window shortcut owned by a widget of
its tab (the editor, or the window for the shared ones), so it fires wherever
the focus is in the window (the sampler dock, the model combo) while its tab is
shown, and not at all on a hidden tab; no click on the canvas is needed first.
Two kinds of widget still need some keys for themselves, and
:class:`KeyRouter` lets them have exactly those:

* a text field keeps what it types (Qt's default);
* a number field (spin box) keeps digits, signs, arrows, Home/End and the
  editing keys, but letters, brackets and Space, which a number cannot hold,
  go to the shortcuts (B picks the brush while the seed field has the focus);
* a list-like widget (combo, slider, list, tab bar) keeps arrows, Home/End and
  Page Up/Down to move through its items.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

WINDOW = ""
"""The medium of shortcuts that work on every tab."""


@dataclass(frozen=True)
class Shortcut:
    """One command's keys on the tabs of ``media`` (:data:`WINDOW`: every tab)."""

    command: str
    label: str
    keys: tuple[str, ...]
    media: tuple[str, ...] = (WINDOW,)


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", "Open a file", ("Ctrl+O",)),
    Shortcut("save", "Save", ("Ctrl+S",)),
    Shortcut("save_as", "Save as…", ("Ctrl+Shift+S",)),
    Shortcut("export", "Export…", ("Ctrl+E",)),
    Shortcut("undo", "Undo", ("Ctrl+Z",)),
    Shortcut("redo", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    Shortcut("generate", "Generate", ("Ctrl+Return",)),
    Shortcut("cancel", "Cancel generation", ("Esc", "Ctrl+.")),
    Shortcut("shortcuts", "This list of shortcuts", ("F1",)),
    Shortcut("quit", "Quit", ("Ctrl+Q",)),
    Shortcut("brush", "Brush: paint the mask", ("B",), ("image", "midi")),
    Shortcut("eraser", "Eraser: unpaint the mask", ("E",), ("image", "motion")),
    Shortcut("rectangle", "Rectangle mask", ("R",), ("image",)),
    Shortcut("lasso", "Lasso mask", ("L",), ("image",)),
    Shortcut("fill", "Fill similar colours", ("F",), ("image",)),
    Shortcut("notes", "Notes tool: add, move, select", ("N",), ("midi",)),
    Shortcut("brush_smaller", "Smaller brush", ("[",), ("image",)),
    Shortcut("brush_larger", "Larger brush", ("]",), ("image",)),
    Shortcut(
        "clear_mask",
        "Clear the mask (MIDI: delete the selected notes first)",
        ("Delete", "Backspace"),
        ("image", "midi", "motion"),
    ),
    Shortcut("invert_mask", "Invert the mask", ("Ctrl+I",), ("image",)),
    Shortcut("show_mask", "Show / hide the mask (hidden after Accept)", ("M",), ("image",)),
    Shortcut("fit", "Fit to the window", ("Ctrl+0",), ("image", "motion")),
    Shortcut("actual_size", "Zoom to 100 %", ("Ctrl+1",), ("image",)),
    Shortcut("zoom_in", "Zoom the timeline in", ("Ctrl+=", "Ctrl++"), ("midi", "motion")),
    Shortcut("zoom_out", "Zoom the timeline out", ("Ctrl+-",), ("midi", "motion")),
    Shortcut("play", "Play / stop", ("Space",), ("midi", "motion")),
    Shortcut("previous", "Previous frame (MIDI: bar)", ("Left",), ("midi", "motion")),
    Shortcut("next", "Next frame (MIDI: bar)", ("Right",), ("midi", "motion")),
    Shortcut("first", "First frame (MIDI: bar)", ("Home",), ("midi", "motion")),
    Shortcut("last", "Last frame (MIDI: bar)", ("End",), ("midi", "motion")),
    Shortcut("frame_all", "Frame the whole clip in the 3D view", ("F",), ("motion",)),
)


def shortcut(medium: str, command: str) -> Shortcut:
    """The table's entry for ``command`` on ``medium``'s tab (KeyError when it has none)."""
    for entry in SHORTCUTS:
        if entry.command == command and medium in entry.media:
            return entry
    raise KeyError(f"no shortcut {command!r} for {medium or 'the window'}")


def key_sequences(medium: str, command: str) -> list[QKeySequence]:
    return [QKeySequence(key) for key in shortcut(medium, command).keys]


def bind(action: QAction, medium: str, command: str) -> QAction:
    """Give ``action`` the table's keys for ``command``, live on the whole window.

    The action must be added to a widget of the tab it belongs to (the editor, or
    the window for :data:`WINDOW` ones): a hidden tab's shortcuts then do nothing.
    The first key is named in the tooltip.
    """
    sequences = key_sequences(medium, command)
    action.setShortcuts(sequences)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setProperty("shortcut_command", command)
    tip = action.toolTip() or action.text().replace("&", "")
    key = sequences[0].toString(QKeySequence.SequenceFormat.NativeText)
    if key and f"({key})" not in tip:
        action.setToolTip(f"{tip} ({key})")
    return action


# -- which widget keeps which key --------------------------------------------------------

_NAVIGATION = {
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
}
_NUMBER_EDITING = {
    Qt.Key.Key_Backspace,
    Qt.Key.Key_Delete,
    Qt.Key.Key_Minus,
    Qt.Key.Key_Plus,
    Qt.Key.Key_Period,
    Qt.Key.Key_Comma,
    Qt.Key.Key_Enter,
    Qt.Key.Key_Return,
}
_PLAIN = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier
_LIST_LIKE = (QComboBox, QAbstractSlider, QAbstractItemView, QTabBar)


def _number_field(widget: QWidget) -> bool:
    """The line edit inside a spin box (the spin box's focus proxy), or the spin box."""
    return isinstance(widget, QAbstractSpinBox) or (
        isinstance(widget, QLineEdit) and isinstance(widget.parentWidget(), QAbstractSpinBox)
    )


def focus_keeps_key(widget: QWidget, event: QKeyEvent) -> bool | None:
    """True: ``widget`` keeps the key; False: the shortcut gets it; None: Qt decides.

    See the module docstring for the rules.
    """
    key = Qt.Key(event.key())
    if event.modifiers() & ~_PLAIN:
        return None  # Ctrl/Alt combinations: Qt's defaults (a field's own Ctrl+Z, Ctrl+A)
    if _number_field(widget):
        text = event.text()
        return key in _NAVIGATION or key in _NUMBER_EDITING or text.isdigit()
    if isinstance(widget, _LIST_LIKE) and key in _NAVIGATION:
        return True
    return None


class KeyRouter(QObject):
    """Applies :func:`focus_keeps_key` to the ShortcutOverride events of the focus widget.

    Qt asks the focus widget, before a shortcut fires, whether it wants the key;
    this filter answers for it. It sits only on the focus widget of ``window``
    (moved on every focus change), so no other event pays for it.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._watched: QWidget | None = None

    def focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        """Connected to ``QApplication.focusChanged``."""
        if self._watched is not None:
            with contextlib.suppress(RuntimeError):  # the widget was deleted meanwhile
                self._watched.removeEventFilter(self)
        self._watched = None
        if new is not None and new.window() is self._window:
            new.installEventFilter(self)
            self._watched = new

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(watched, QWidget):
            return False
        assert isinstance(event, QKeyEvent)
        keeps = focus_keeps_key(watched, event)
        if keeps is None:
            return False
        event.setAccepted(keeps)  # accepted: the widget gets the key as a key press
        return True


# -- Help ▸ Keyboard shortcuts -----------------------------------------------------------


def shortcut_rows(titles: dict[str, str]) -> list[tuple[str, str, str]]:
    """(keys, what it does, where) for every entry of the table, window-wide ones first.

    ``titles`` names the media ("midi" -> "MIDI"); a medium it lacks is left out.
    """
    rows = []
    for entry in SHORTCUTS:
        places = [titles[m] for m in entry.media if m in titles]
        where = "All tabs" if WINDOW in entry.media else ", ".join(places)
        if not where:
            continue
        native = QKeySequence.SequenceFormat.NativeText
        keys = ", ".join(QKeySequence(key).toString(native) for key in entry.keys)
        rows.append((keys, entry.label, where))
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of :func:`shortcut_rows`."""

    def __init__(self, titles: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(titles)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Where"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, cells in enumerate(rows):
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 560)
