"""The real app (``run_gui``) on one picture, plus one edit, for the kill test of test_autosave.

``python -m tests.app.autosave_app PICTURE`` starts remask as ``remask PICTURE`` does, waits
until the picture is open, masks a rectangle through the document (as a stroke would) and
prints ``edited``. The test then kills the process with SIGKILL once the autosave is on disk.
The app itself has no test hook: this driver only adds a timer before ``run_gui``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow, run_gui

EDIT_CORNERS = ((3.0, 5.0), (40.0, 30.0))
"""The rectangle the edit masks (x, y corners), also checked after recovery."""


def _edit_when_open(app: QApplication) -> None:
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    editor = windows[0].pages["image"].editor if windows else None
    document = getattr(editor, "document", None)
    if document is None:
        QTimer.singleShot(50, lambda: _edit_when_open(app))
        return
    document.fill_rectangle(*EDIT_CORNERS)
    print("edited", flush=True)


def main() -> int:
    app = QApplication(sys.argv[:1])
    QTimer.singleShot(0, lambda: _edit_when_open(app))
    return run_gui(sys.argv[:1], [Path(sys.argv[1])])


if __name__ == "__main__":
    sys.exit(main())
