"""Browser tests: Playwright + Debian Chromium against the production build (see conftest.py)."""
