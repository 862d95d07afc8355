"""PyInstaller's entry script: the ``remask`` console script (``app.cli:main``), frozen."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
