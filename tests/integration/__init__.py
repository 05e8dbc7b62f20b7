"""Tests on a real database (SQLite and PostgreSQL), with subprocesses, races and crashes."""
