"""The use cases, one function each: every entry point (the wizard's States, the CLI, later the
HTTP API) calls these and nothing below them.

Each function takes the company id of whoever acts, looks every other id up within that
company (another company's upload is "not found"), and owns its session and transaction.
They return plain dataclasses and raise the engine's exceptions (errors.py).
"""
