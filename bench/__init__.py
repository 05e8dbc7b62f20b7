"""Benchmarks of the bulk upload: `./dev.sh bench [args]` (or `python -m bench [args]` from the
repository). Not part of the product package and not shipped in the image.

- `engine`: read + validate, stage, cell edit and create, each run in a fresh process (the default);
- `api`: the HTTP API end to end next to the CLI (`--api`);
- `versus_django`: our CLI against django-import-export on the same file (`--versus-django`);
- `search`: the Review grid's searches and page turns (`--search`);
- `processing`: where a big file's judging time goes (`--process ROWS`);
- `files`: the generated users files; `databases`: a fresh database of each kind; `cli_runs`: the
  `bulk-upload` CLI run as a child process.

What they read from the environment comes through bulk_upload_app.settings; the servers and
workers they start go through tests.support.processes, as the tests' do. Results go to
bench-results/ (current figures: README "Benchmarks"; dated logs: docs/benchmarks.md).
"""
