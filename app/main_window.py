"""The main window: one page per medium, the sampler dock, menus, and the engine bridge.

The window knows no medium. It talks to each page's :class:`MediumEditor`
(open, export, payload, preview, results, undo) and to the
:class:`EngineBridge` (generate, cancel, preload), and keeps the buttons and
the status bar in step with both. Generation runs in the engine thread; the
window only reacts to bridge signals, so the GUI never blocks.

No edit is lost without a question: the title and the tabs mark modified
documents, and closing the window, Quit, opening a file over a modified
document or starting a new clip first asks :attr:`MainWindow.confirm_discard`
(Save Project…, Export…, Discard or Cancel).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.autosave import install_autosave
from app.editor_base import MediumEditor, file_filter, medium_for_path
from app.engine_worker import EngineBridge, one_line
from app.export_dialog import SourceFiles, ask_export_path, is_native
from app.generation import GenerationControl, short_provider
from app.loading import Loader, decode_file, install_file
from app.medium_page import EditorFactory, MediumPage, build_pages
from app.preview_decoder import thread_previews
from app.progress import GenerateBar
from app.project_actions import PROJECT_FILTER, ProjectFiles, is_project
from app.sampler_panel import SamplerPanel
from app.settings_store import APPLICATION, ORGANIZATION, RecentFiles, WindowState, default_settings
from app.status_line import TabStatus
from app.unsaved import Choice, ask_unsaved
from app.window_menus import MenuWindow
from engine.models import ModelRegistry
from engine.paths import bundle_root

_log = logging.getLogger(__name__)


class MainWindow(MenuWindow):
    """remask's window.

    Parameters
    ----------
    registry
        Installed models (default: :meth:`ModelRegistry.discover`).
    bridge
        The engine (default: a threaded :class:`EngineBridge` over ``registry``).
    editors
        Medium -> editor factory, overriding the editor :mod:`app.registry` names;
        ``None`` forces the welcome page. Other keys add pages (tests).
    settings
        Where recent files and layout persist (tests pass an INI file).
    """

    def __init__(
        self,
        registry: ModelRegistry | None = None,
        *,
        bridge: EngineBridge | None = None,
        editors: Mapping[str, EditorFactory | None] | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__()
        self.registry = registry if registry is not None else ModelRegistry.discover()
        self.bridge = bridge if bridge is not None else EngineBridge(self.registry, parent=self)
        self._settings = settings if settings is not None else default_settings()
        self.recent = RecentFiles(self._settings)
        self._window_state = WindowState(self._settings)
        self.last_error = ""
        self.confirm_discard: Callable[[list[str]], Choice] = lambda names: ask_unsaved(self, names)
        """Asked with the names of modified documents before they are lost (close, Quit, Open
        over one, New clip). The default is a modal box; tests set one that answers at once."""
        self.ask_export_path: Callable[[MediumEditor], Path | None] = self._export_path_dialog
        """Where to export an editor's document (None: the user cancelled); a file dialog."""
        self.sources = SourceFiles()
        """The file each document came from: Export proposes a new name beside it."""
        self.tabs = QTabWidget()
        self.pages: dict[str, MediumPage] = {}
        self.sampler = SamplerPanel(self.registry)
        self.generate_bar = GenerateBar()
        self.engine_label = QLabel("no model")
        self.loader = Loader(self)
        """Opens files; ``run_gui`` makes it threaded (decode off the GUI thread)."""
        self.project_files = ProjectFiles(self)
        self._build(editors or {})
        self._report_registry_problems()

    # -- construction --------------------------------------------------------------------

    def _build(self, editors: Mapping[str, EditorFactory | None]) -> None:
        self.setWindowTitle("remask")
        self.resize(1200, 800)
        self._build_pages(editors)
        self._build_dock()
        self._build_menus()
        self._bind_shortcuts()
        self.statusBar().addPermanentWidget(self.engine_label)
        self._connect()
        self._restore_layout()
        self._on_page_changed()

    def _build_pages(self, editors: Mapping[str, EditorFactory | None]) -> None:
        for page in build_pages(editors):
            page.welcome.openRequested.connect(self.open_dialog)
            page.welcome.sampleRequested.connect(lambda path: self.open_path(Path(path)))
            self.pages[page.medium] = page
            self.tabs.addTab(page, page.title)
        self.tabs.setDocumentMode(True)
        self.setCentralWidget(self.tabs)

    def _build_dock(self) -> None:
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.sampler)
        layout.addWidget(self.generate_bar)
        layout.addStretch(1)
        dock = QDockWidget("Model and sampler", self)
        dock.setObjectName("sampler_dock")
        dock.setWidget(body)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _connect(self) -> None:
        self.tabs.currentChanged.connect(self._on_page_changed)
        self.sampler.modelChanged.connect(self._on_model_changed)
        self.generate_bar.generateClicked.connect(self.generate)
        self.generate_bar.cancelClicked.connect(self.bridge.cancel)
        for page in self.pages.values():
            if page.editor is not None:
                page.editor.stateChanged.connect(self._update_actions)
        bridge = self.bridge
        self.tab_status = TabStatus(self.statusBar(), self.generate_bar, lambda: self.bridge.busy)
        self.generation = GenerationControl(bridge, self.generate_bar, self._generation_status)
        for ended in (bridge.finished, bridge.failed, bridge.cancelled):
            ended.connect(self._job_ended)
        bridge.busyChanged.connect(lambda _busy: self._update_actions())
        bridge.modelLoaded.connect(self._on_model_loaded)
        bridge.modelFailed.connect(self._on_model_failed)

    def _report_registry_problems(self) -> None:
        """Broken models are reported once (log + status bar); the app keeps running."""
        for note in self.registry.notes:
            _log.info("%s", note)
        for line in self.registry.errors:
            _log.warning("model skipped: %s", line)
        if self.registry.errors:
            count = len(self.registry.errors)
            self.statusBar().showMessage(f"{count} model(s) skipped: {self.registry.errors[0]}")
            self._set_engine_tooltip("")

    # -- state ---------------------------------------------------------------------------

    def current_page(self) -> MediumPage:
        page = self.tabs.currentWidget()
        assert isinstance(page, MediumPage)
        return page

    def current_editor(self) -> MediumEditor | None:
        return self.current_page().editor

    def show_medium(self, medium: str) -> None:
        self.tabs.setCurrentWidget(self.pages[medium])

    def can_generate(self) -> bool:
        editor = self.current_editor()
        ready = editor is not None and editor.has_document() and editor.has_mask()
        return ready and self.sampler.current_model() is not None

    def _update_actions(self) -> None:
        editor = self.current_editor()
        has_document = editor is not None and editor.has_document()
        self.generate_bar.generate_button.setEnabled(self.can_generate())
        self.generate_action.setEnabled(self.can_generate())
        self.cancel_action.setEnabled(self.bridge.busy)
        self.export_action.setEnabled(has_document)
        self.save_project_action.setEnabled(has_document)
        self.save_project_as_action.setEnabled(has_document)
        self.undo_action.setEnabled(has_document and editor is not None and editor.can_undo())
        self.redo_action.setEnabled(has_document and editor is not None and editor.can_redo())
        page = self.current_page()
        name = self.project_files.title(page)
        self.setWindowTitle(f"{name}[*] — remask" if name else "remask")
        self.setWindowModified(bool(name) and page.is_modified())  # "[*]" shows as "*"
        for other in self.pages.values():
            star = " *" if other.is_modified() else ""
            self.tabs.setTabText(self.tabs.indexOf(other), other.title + star)

    def _on_page_changed(self, _index: int = 0) -> None:
        self.sampler.set_medium(self.current_page().medium)
        self.tab_status.switch(self.current_page().medium)
        self._update_actions()

    def _job_tab(self) -> str:
        """The tab of the editor the running (or last) job came from."""
        editor = self.generation.job_editor
        return self._page_of(editor).medium if editor is not None else self.tab_status.current

    def _generation_status(self, text: str, timeout_ms: int) -> None:
        self.tab_status.show(self._job_tab(), text, timeout_ms)

    def _job_ended(self, *_args: object) -> None:
        self.tab_status.job_ended(self._job_tab())

    def _on_model_changed(self, name: str) -> None:
        self.engine_label.setText(f"{name} · loading…" if name else "no model")
        if name:
            self.bridge.preload(name)
        self._update_actions()

    def _is_current_model(self, name: str) -> bool:
        """Loads finish late: a model of the page the user has left must not claim the label."""
        current = self.sampler.current_model()
        return current is not None and current.name == name

    def _on_model_loaded(self, name: str, provider: str) -> None:
        if not self._is_current_model(name):
            return
        self.engine_label.setText(f"{name} · {short_provider(provider)}")
        self._set_engine_tooltip(f"model {name} runs on {provider}")

    def _set_engine_tooltip(self, first_line: str) -> None:
        """The provider line, then every model the registry skipped (kept for the whole session)."""
        skipped = [f"skipped: {line}" for line in self.registry.errors]
        self.engine_label.setToolTip("\n".join(line for line in (first_line, *skipped) if line))

    def _on_model_failed(self, name: str, message: str) -> None:
        if self._is_current_model(name):
            self.engine_label.setText(f"{name} · not loaded")
        self.statusBar().showMessage(f"Model {name} cannot be loaded: {message}")

    # -- files ---------------------------------------------------------------------------

    def open_dialog(self, medium: str = "") -> None:
        """File > Open…, or a welcome page's button (then filtered to that medium)."""
        filters = self._open_filters(medium)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open", self._window_state.last_folder(), filters
        )
        if path:
            self.open_path(Path(path))

    def _open_filters(self, medium: str) -> str:
        pages = [self.pages[medium]] if medium in self.pages else list(self.pages.values())
        pages = [page for page in pages if page.extensions]
        every = tuple(ext for page in pages for ext in page.extensions)
        parts = [file_filter(page.title, page.extensions) for page in pages]
        if not medium:
            parts.insert(0, PROJECT_FILTER)
            every = (".remask", *every)
        if len(parts) > 1:
            parts.insert(0, file_filter("All supported", every))
        return ";;".join([*parts, "All files (*)"])

    def open_path(self, path: Path) -> bool:
        """Open ``path`` in the editor of its medium.

        False on any failure (and a dialog says why), or when that editor's
        document has unsaved changes and the user keeps them (Cancel).
        """
        if is_project(path):
            return self.project_files.open_project(path)
        extensions = {medium: page.extensions for medium, page in self.pages.items()}
        medium = medium_for_path(path, extensions)
        if medium is None:
            return self._open_failed(
                path, f"remask cannot open {path.suffix or 'extension-less'} files"
            )
        page = self.pages[medium]
        if page.editor is None:
            return self._open_failed(path, f"the {page.title} editor failed to load")
        editor = page.editor
        if not self.may_discard([editor]):
            return False
        return self.loader.load(
            path.name,
            lambda: decode_file(editor, medium, path),
            lambda decoded: self._opened(page, path, decoded),
            lambda error: self._open_failed(path, one_line(error)),
        )

    def _opened(self, page: MediumPage, path: Path, decoded: object) -> None:
        """The GUI half of an open: the editor takes the decoded file (see app.loading)."""
        assert page.editor is not None
        medium = page.medium
        install_file(page.editor, path, decoded)
        self.sources.remember(page.editor, path)
        self.recent.add(path)
        self._window_state.set_last_folder(path)
        self.tab_status.reset(medium)
        page.sync()
        self.show_medium(medium)
        self._update_actions()

    def _open_failed(self, path: Path, message: str) -> bool:
        self.show_error(f"Cannot open {path.name}", message)
        return False

    def export_dialog(self) -> None:
        editor = self.current_editor()
        if editor is None or not editor.has_document():
            return
        path = self.ask_export_path(editor)
        if path is not None:
            self.export_to(path)

    def _export_path_dialog(self, editor: MediumEditor) -> Path | None:
        """A save dialog proposing a new name beside the source file (app.export_dialog)."""
        source = self.sources.path_of(editor)
        return ask_export_path(self, editor, source, self._window_state.last_folder())

    def export_to(self, path: Path, editor: MediumEditor | None = None) -> bool:
        """Delegate to ``editor`` (default: the current one); False (and a dialog) on failure."""
        if editor is None:
            editor = self.current_editor()
        if editor is None:
            return False
        try:
            editor.export_path(path)
        except Exception as exc:  # noqa: BLE001 - any writer error becomes one line for the user
            _log.debug("exporting %s failed", path, exc_info=True)
            self.show_error(f"Cannot save {path.name}", one_line(exc))
            return False
        self._exported(editor, path)
        return True

    def _exported(self, editor: MediumEditor, path: Path) -> None:
        """A file the editor can open again joins Open Recent and becomes the source."""
        if is_native(editor, path):
            self.sources.remember(editor, path)
            self.recent.add(path)
        self._window_state.set_last_folder(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)

    def show_error(self, title: str, message: str) -> None:
        """A non-modal warning (never blocks the event loop); also logged and kept for tests."""
        _log.warning("%s: %s", title, message)
        self.last_error = message
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- unsaved changes -----------------------------------------------------------------

    def may_discard(self, editors: Iterable[MediumEditor]) -> bool:
        """Ask before the documents of ``editors`` are lost; True when going ahead is fine.

        Unmodified documents need no question. Save Project… saves each modified one
        as a project, Export… exports each in turn (its page shown,
        :attr:`ask_export_path`); going ahead needs every one saved, so a cancelled
        dialog or a failed save means Cancel.
        """
        pages = [self._page_of(editor) for editor in editors]
        modified = [page for page in pages if page.is_modified()]
        if not modified:
            return True
        choice = self.confirm_discard([page.document_label() for page in modified])
        if choice is Choice.SAVE:
            return all(self._save_project(page) for page in modified)
        if choice is Choice.EXPORT:
            return all(self._save(page) for page in modified)
        return choice is Choice.DISCARD

    def _save_project(self, page: MediumPage) -> bool:
        self.show_medium(page.medium)
        return self.project_files.save(page)

    def _save(self, page: MediumPage) -> bool:
        """Export ``page``'s document; True only when it is no longer modified."""
        editor = page.editor
        assert editor is not None
        self.show_medium(page.medium)
        path = self.ask_export_path(editor)
        if path is None or not self.export_to(path, editor):
            return False
        if editor.is_modified():  # exported, but not as a document (a MIDI score to .wav)
            native = editor.export_extensions[0]
            self.statusBar().showMessage(
                f"{page.document_label()} is still unsaved: export it as {native}", 8000
            )
            return False
        return True

    def _page_of(self, editor: MediumEditor) -> MediumPage:
        return next(page for page in self.pages.values() if page.editor is editor)

    # -- edit ----------------------------------------------------------------------------

    def undo(self) -> None:
        editor = self.current_editor()
        if editor is not None and editor.undo():
            self._update_actions()

    def redo(self) -> None:
        editor = self.current_editor()
        if editor is not None and editor.redo():
            self._update_actions()

    # -- generation ----------------------------------------------------------------------

    def generate(self) -> int | None:
        """Submit a job for the current editor; its generation, or None (why: in the status bar)."""
        editor = self.current_editor()
        manifest = self.sampler.current_model()
        if editor is None or manifest is None or not editor.has_document():
            return None
        return self.generation.start(editor, manifest, self.sampler.settings())

    # -- lifetime ------------------------------------------------------------------------

    def _restore_layout(self) -> None:
        geometry = self._window_state.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self._window_state.dock_state()
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Ask about unsaved changes (Cancel keeps the window), then stop the engine thread.

        The thread stops before the window (and the bridge it owns) goes away: a
        running generation is cancelled and the worker joined.
        """
        editors = [page.editor for page in self.pages.values() if page.editor is not None]
        if not self.may_discard(editors):
            event.ignore()
            return
        self.bridge.shutdown()
        if self.project_files.autosave is not None:
            self.project_files.autosave.finish()  # a clean exit: nothing left to recover
        self._window_state.save(self.saveGeometry(), self.saveState())
        super().closeEvent(event)


def app_icon_path() -> Path | None:
    """The 256 px icon: ``packaging/`` in a checkout, beside the executable in a bundle."""
    root = bundle_root()
    for candidate in (root / "packaging" / "remask.png", root.parent / "remask.png"):
        if candidate.is_file():
            return candidate
    return None


def run_gui(argv: Sequence[str], files: Sequence[Path] = ()) -> int:
    """Start the Qt application with ``argv`` (``sys.argv`` style), open ``files``, run it.

    Files open after the window shows, each in the editor of its medium; a file that
    fails to open gets the usual one-line error dialog and the others still open.
    """
    app = QApplication.instance() or QApplication(list(argv) or [sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setDesktopFileName(APPLICATION)  # lets Wayland match the window to remask.desktop
    icon = app_icon_path()
    if icon is not None:
        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow()
    app.aboutToQuit.connect(window.bridge.shutdown)  # quit() without closing the window
    window.loader.threaded = True
    thread_previews(page.editor for page in window.pages.values())
    autosave = install_autosave(window)
    window.show()
    autosave.offer_recovery()
    for path in files:
        window.open_path(Path(path))
    return int(app.exec())
