"""Imported first by the scripts here: puts this checkout first on sys.path.

`python scripts/x.py` puts scripts/ on sys.path, not the checkout, and a shared virtualenv's
editable install may point at another checkout: with this, `bulk_upload_app` and
`tests.support` are this checkout's. REPO is tests.support.paths.REPO.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
REPO: Path = importlib.import_module("tests.support.paths").REPO
