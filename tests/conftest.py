"""Settings every test shares. The layout (see README "Tests"):

- tests/unit: fast, no database and no service;
- tests/integration: a real database, on SQLite and on PostgreSQL (its conftest), subprocesses, races;
- tests/e2e: Chromium against the production build (its conftest);
- tests/support: the plain modules all of them (and scripts/) import.

A service the suite needs and cannot reach fails its tests, unless the test command was told to
leave that part out (BULK_UPLOAD_WITHOUT=postgres,redis,browser; tests.support.services).
"""

from __future__ import annotations

import os

# The engine, the CLI and their worker processes run as in production (no demo mode), where the
# seat shop's address is a required setting; the tests' own, never visited.
os.environ.setdefault("BULK_UPLOAD_LEGACY_DASHBOARD_URL", "https://dashboard.example.com/billing/seats")
