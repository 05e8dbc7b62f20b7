"""Fast tests that need no database and no service."""
