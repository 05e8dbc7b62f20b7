"""Where things are: the repository, the shared edge-case corpus, the README's screenshots."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The corpus lives outside the repository (next to it); BULK_UPLOAD_CORPUS points elsewhere.
CORPUS = Path(os.environ.get("BULK_UPLOAD_CORPUS") or REPO.parent / "shared" / "corpus")
SCREENSHOTS_DIR = REPO / "docs" / "screenshots"
