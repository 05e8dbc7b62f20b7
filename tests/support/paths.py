"""Where things are: the repository, the shared edge-case corpus, the README's screenshots."""

from __future__ import annotations

from pathlib import Path

from bulk_upload_app.settings import harness_settings

REPO = Path(__file__).resolve().parents[2]
# The corpus lives outside the repository (next to it); BULK_UPLOAD_CORPUS points elsewhere.
CORPUS = harness_settings().corpus_dir or REPO.parent / "shared" / "corpus"
SCREENSHOTS_DIR = REPO / "docs" / "screenshots"
