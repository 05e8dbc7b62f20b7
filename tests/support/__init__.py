"""What the tests (and scripts/) share: plain modules with public names, no fixtures.

- `paths`: the repository, the shared corpus, the screenshots folder;
- `services`: BULK_UPLOAD_WITHOUT, the test PostgreSQL and Redis (a fresh schema, an empty database);
- `builders`: small CSV builders;
- `processes`: free ports, HTTP probes, logs and process groups of the servers the tests start;
- `dashboard`: the e2e servers' dashboard (its JWT secret and issuer, tokens, the seat shop);
- `app_server`: `reflex run --env prod` started, stopped and restarted in a mode (SQLite, or
  PostgreSQL + Redis + workers), with its environment and its database prepared;
- `dev_server`: `./dev.sh run` in a temporary copy of the repository;
- `browser`: Chromium's arguments, the websocket probe, screenshots, axe, signing in a page;
- `concurrency_workers`: code the tests run in other processes (no pytest import).

The conftests are thin fixtures over these; scripts/bench_ui.py, load_test.py and
screenshots.py import them too.
"""
