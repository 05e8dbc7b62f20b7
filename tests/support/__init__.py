"""What the tests (and scripts/) share: plain modules with public names, no fixtures.

- `paths`: the repository, the shared corpus, the screenshots folder;
- `services`: BULK_UPLOAD_WITHOUT, the test PostgreSQL and Redis (a fresh schema, an empty database);
- `factories`: every test's data: users (rows, CSV and spreadsheet files), companies, staged
  uploads and drafts, the settings of a production configuration, tokens;
- `processes`: the one launcher of servers and workers (start, wait until it answers, stop its
  process group), free ports, HTTP probes, logs;
- `dashboard`: the e2e servers' dashboard (its JWT secret and issuer, tokens, the seat shop);
- `app_server`: `reflex run --env prod` started, stopped and restarted in a mode (SQLite, or
  PostgreSQL + Redis + workers), with its environment and its database prepared;
- `dev_server`: `./dev.sh run` in a temporary copy of the repository;
- `browser`: Chromium's arguments, the websocket probe and its frames, screenshots, axe, signing
  in a page;
- `wizard_page`: the wizard driven as an admin does (upload, counts, cells, create and confirm);
- `cli`: the `bulk-upload` command in a subprocess;
- `concurrency_workers`: code the tests run in other processes (no pytest import), and
  `run_racers`, which starts them together.

The conftests are thin fixtures over these; bench/ and scripts/bench_ui.py, load_test.py and
screenshots.py import them too. What they read from the environment comes through
bulk_upload_app.settings (`harness_settings`, `environment`).
"""
