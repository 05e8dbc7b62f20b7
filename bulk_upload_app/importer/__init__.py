"""The bulk upload engine: read, map headers, validate, check seats, create, report.

Nothing in this package imports Reflex: the CLI, the web app and the tests drive it alike.
"""
