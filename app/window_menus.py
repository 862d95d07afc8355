"""The window's menus and keys, apart from what their actions do.

:class:`MenuWindow` builds the File, Edit and Help menus, binds every window action to
its keys from the one table in :mod:`app.shortcuts`, and fills Open Recent; the slots
the actions call (open, export, undo, generate, …) belong to
:class:`app.main_window.MainWindow`, which derives from it. Kept apart so the window's
module holds its behaviour and this one its wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu

from app.engine_worker import EngineBridge
from app.medium_page import MediumPage
from app.project_actions import ProjectFiles
from app.settings_store import RecentFiles
from app.shortcuts import WINDOW, KeyRouter, ShortcutsDialog, bind


class MenuWindow(QMainWindow):
    """A main window's menus, shortcuts and recent-files list (see the module docstring)."""

    bridge: EngineBridge
    pages: dict[str, MediumPage]
    recent: RecentFiles
    project_files: ProjectFiles
    open_dialog: Callable[[], None]
    open_path: Callable[[Path], bool]
    export_dialog: Callable[[], None]
    undo: Callable[[], None]
    redo: Callable[[], None]
    generate: Callable[[], int | None]
    show_error: Callable[[str, str], None]

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(
            file_menu, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open
        )
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.save_project_action = self._action(
            file_menu, "&Save Project", lambda: self.project_files.save(), "Ctrl+S"
        )
        self.save_project_as_action = self._action(
            file_menu,
            "Save Project &As…",
            lambda: self.project_files.save(ask=True),
            "Ctrl+Shift+S",
        )
        self.export_action = self._action(file_menu, "&Export…", self.export_dialog, "Ctrl+E")
        file_menu.addSeparator()
        self.quit_action = self._action(
            file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit
        )
        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit_menu, "&Undo", self.undo, "Ctrl+Z")
        self.redo_action = self._action(edit_menu, "&Redo", self.redo, "Ctrl+Shift+Z")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addSeparator()
        self.generate_action = self._action(edit_menu, "&Generate", self.generate, "Ctrl+Return")
        self.cancel_action = self._action(
            edit_menu, "&Cancel generation", self.bridge.cancel, "Ctrl+."
        )
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action(
            help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1"
        )

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[[], object],
        shortcut: str | QKeySequence.StandardKey,
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _bind_shortcuts(self) -> None:
        """Every window action takes its keys from :data:`app.shortcuts.SHORTCUTS`.

        The keys set in :meth:`_build_menus` are replaced; the table is the one that counts.
        """
        self.key_router = KeyRouter(self)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self.key_router.focus_changed)
        actions = {
            "open": self.open_action,
            "save": self.save_project_action,
            "save_as": self.save_project_as_action,
            "export": self.export_action,
            "undo": self.undo_action,
            "redo": self.redo_action,
            "generate": self.generate_action,
            "cancel": self.cancel_action,
            "shortcuts": self.shortcuts_action,
            "quit": self.quit_action,
        }
        for command, action in actions.items():
            bind(action, WINDOW, command)

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts: the table, non-modal (the keys keep working meanwhile)."""
        titles = {page.medium: page.title for page in self.pages.values()}
        dialog = ShortcutsDialog(titles, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.shortcuts_dialog = dialog

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._open_recent(p))
        if not paths:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(lambda: self.recent.clear())

    def _open_recent(self, path: Path) -> None:
        if not path.exists():
            self.recent.remove(path)
            self.show_error("File not found", f"{path} no longer exists")
            return
        self.open_path(path)
