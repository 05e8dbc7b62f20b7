"""Our CLI against django-import-export on the same file: `./dev.sh bench --versus-django`.

Our side: `bulk-upload validate FILE --company ID` then `bulk-upload import FILE --company ID`, each
in a fresh process (start to exit, Python start-up included), on a fresh database of each kind.
Django's side: the admin's import of the same file in one long-lived process — preview (read,
`import_data(dry_run=True)`) then confirm (read again, `import_data(dry_run=False)`) — timed
without Django's start-up, in two configurations: one save a row (the default) and use_bulk
(bulk_create in batches of 1,000). The checks Django makes are listed in
scripts/versus_django/project/users/resources.py; both sides must create the same users (a digest
of email, country prefix and phone is compared).

Django and django-import-export are not our dependencies: they are installed into their own
virtualenv, .var/versus-django-venv, the first time, with the same phonenumbers and
email-validator versions as ours (same verdicts). Writes bench-results/versus-django.json.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.cli_runs import cli, company_and_env
from bench.databases import fresh_db, results_dir
from bench.files import generate
from bulk_upload_app.settings import PROJECT_ROOT, RUNTIME_DIR, environment

DJANGO_VENV = RUNTIME_DIR / "versus-django-venv"
DJANGO_SIDE = PROJECT_ROOT / "scripts" / "versus_django" / "django_side.py"
DJANGO_CONFIGS = ("bulk", "per-row")  # the headline's first: per-row takes many minutes
# The configuration the headline ratio is against: Django's fastest that still judges every row.
HEADLINE_CONFIG = "bulk"
GOAL_RATIO = 30
FILE_RUN = "versus00"


def _django_requirements() -> list[str]:
    same = [f"{name}=={importlib.metadata.version(name)}" for name in ("phonenumbers", "email-validator")]
    return ["django>=5.2,<6", "django-import-export==4.4.3", "psycopg[binary]>=3.2", *same]


def ensure_django_venv() -> Path:
    """The separate virtualenv's Python, installed or brought to the pinned versions when needed."""
    python = DJANGO_VENV / "bin" / "python"
    wanted = _django_requirements()
    pinned = {r.split("==")[0]: r.split("==")[1] for r in wanted if "==" in r}
    probe = (
        "import json, importlib.metadata as m, django, import_export, tablib, psycopg, phonenumbers, email_validator;"
        f"print(json.dumps({{n: m.version(n) for n in {sorted(pinned)!r}}}))"
    )
    if python.exists():
        found = subprocess.run([python, "-c", probe], capture_output=True, text=True)
        if found.returncode == 0 and json.loads(found.stdout) == pinned:
            return python
    else:
        print(f"Creating {DJANGO_VENV} for Django and django-import-export…", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DJANGO_VENV)], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *wanted], check=True)
    return python


def _digest(rows) -> str:
    lines = sorted(f"{email},{prefix},{phone or ''}" for email, prefix, phone in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_cli(env: dict[str, str], *args: str) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds of the process (less sensitive to a busy machine), its JSON."""
    cpu = _children_cpu_s()
    start = time.perf_counter()
    document = cli(env, *args)
    return round(time.perf_counter() - start, 3), round(_children_cpu_s() - cpu, 3), document


def run_ours(file: Path, db_url: str, workdir: Path) -> dict:
    env, company_id = company_and_env(db_url, workdir)
    validate_s, validate_cpu_s, checked = _timed_cli(env, "validate", str(file), "--company", str(company_id))
    import_s, import_cpu_s, imported = _timed_cli(env, "import", str(file), "--company", str(company_id))
    engine = create_engine(db_url)
    with engine.connect() as conn:
        users = conn.execute(
            text("SELECT email, country_prefix, phone FROM app_user WHERE company_id = :c"), {"c": company_id}
        ).all()
    engine.dispose()
    return {
        "validate_s": validate_s,
        "import_s": import_s,
        "total_s": round(validate_s + import_s, 3),
        "validate_cpu_s": validate_cpu_s,
        "import_cpu_s": import_cpu_s,
        "total_cpu_s": round(validate_cpu_s + import_cpu_s, 3),
        "valid": checked["valid"],
        "invalid": checked["invalid"],
        "created": imported["created"],
        "created_digest": _digest(users),
    }


def _django_database(kind: str, workdir: Path, pg_url: str) -> tuple[dict, Callable[[], None]]:
    if kind == "sqlite":
        path = workdir / f"django-{time.monotonic_ns()}.db"
        options = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": options}, lambda: None
    url = make_url(pg_url)
    schema = f"versus_django_{time.monotonic_ns()}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.database,
        "USER": url.username or "",
        "PASSWORD": url.password or "",
        "HOST": url.host or "",
        "PORT": str(url.port or ""),
        "OPTIONS": {"options": f"-c search_path={schema}"},
    }
    return database, drop


def run_django(python: Path, file: Path, kind: str, config: str, workdir: Path, pg_url: str) -> dict:
    database, cleanup = _django_database(kind, workdir, pg_url)
    try:
        done = subprocess.run(
            [
                str(python),
                str(DJANGO_SIDE),
                "--file",
                str(file),
                "--database",
                json.dumps(database),
                "--config",
                config,
            ],
            capture_output=True,
            text=True,
            check=True,
            env={k: v for k, v in environment().items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")},
        )
    finally:
        cleanup()
    return json.loads(done.stdout.strip().splitlines()[-1])


def _earlier_django(path: Path, rows: int, error_rate: float) -> dict[str, dict]:
    """Django's results by database from an earlier run on the same file (same rows, errors, run id)."""
    earlier = json.loads(path.read_text())
    if (earlier["rows"], earlier["error_rate"], earlier.get("file_run")) != (rows, error_rate, FILE_RUN):
        raise SystemExit(f"{path} measured another file ({earlier['rows']} rows, {earlier['error_rate']} errors)")
    return {
        r["db"]: {c: {**d, "measured_at": earlier["measured_at"]} for c, d in r["django"].items()}
        for r in earlier["results"]
    }


def versus_django(
    rows: int,
    error_rate: float,
    databases: list[str],
    pg_url: str,
    *,
    configs: tuple[str, ...] = DJANGO_CONFIGS,
    reuse_django: Path | None = None,
) -> int:
    earlier = _earlier_django(reuse_django, rows, error_rate) if reuse_django else {}
    python = ensure_django_venv() if not reuse_django else None
    load_before = os.getloadavg()
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        file = workdir / f"users-{rows}.csv"
        # A fixed run id: the same file every time, so an earlier run's Django results still apply.
        generate(file, rows, error_rate, run=FILE_RUN)
        for db in databases:
            url, cleanup = fresh_db(db, workdir, pg_url)
            try:
                ours = run_ours(file, url, workdir)
            finally:
                cleanup()
            print(json.dumps({"db": db, "ours": ours}), flush=True)
            django = earlier.get(db, {})
            for config in configs:
                if config not in django and python is not None:
                    django[config] = run_django(python, file, db, config, workdir, pg_url)
                    print(json.dumps({"db": db, "django": django[config]}), flush=True)
            results.append(
                {
                    "db": db,
                    "ours": ours,
                    "django": django,
                    "ratio": {c: round(d["total_s"] / ours["total_s"], 1) for c, d in django.items()},
                    # Client-side CPU only: Django's per-row round trips also cost the database server.
                    "cpu_ratio": {c: round(d["total_cpu_s"] / ours["total_cpu_s"], 1) for c, d in django.items()},
                    "same_created": all(
                        d["created"] == ours["created"] and d["created_digest"] == ours["created_digest"]
                        for d in django.values()
                    ),
                }
            )
            # Written after each database: a run stopped half way still leaves what it measured.
            document = {
                "measured_at": measured_at,
                "rows": rows,
                "error_rate": error_rate,
                "file_run": FILE_RUN,
                "file_mb": round(file.stat().st_size / 2**20, 1),
                "cores": os.cpu_count(),
                # The machine is shared: a busy one slows Django's per-row round trips more than our set-wise work.
                "load_average_1m": {"before": round(load_before[0], 1), "after": round(os.getloadavg()[0], 1)},
                "headline_config": HEADLINE_CONFIG,
                "goal_ratio": GOAL_RATIO,
                "django_versions": dict(r.split("==") for r in _django_requirements() if "==" in r),
                "results": results,
            }
            (results_dir() / "versus-django.json").write_text(json.dumps(document, indent=2))
    file_mb = document["file_mb"]
    print(
        f"\n{rows:,} rows ({file_mb} MB, {error_rate:.0%} with errors): our CLI validate + import, each a fresh "
        "process, against django-import-export preview + import in one process (its start-up not counted)"
    )
    print(
        "| db | ours validate / import / total s | Django config | Django preview / import / total s | ratio | "
        "CPU s ours / Django | CPU ratio |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in results:
        o = r["ours"]
        for config, d in r["django"].items():
            print(
                f"| {r['db']} | {o['validate_s']} / {o['import_s']} / {o['total_s']} | {config} | "
                f"{d['preview']['s']} / {d['import']['s']} / {d['total_s']} | {r['ratio'][config]}× | "
                f"{o['total_cpu_s']} / {d['total_cpu_s']} | {r['cpu_ratio'][config]}× |"
            )
        print(f"{r['db']}: same users created on both sides: {'yes' if r['same_created'] else 'NO'} ({o['created']:,})")
    for r in results:
        if HEADLINE_CONFIG not in r["ratio"]:
            continue
        verdict = "meets" if r["ratio"][HEADLINE_CONFIG] >= GOAL_RATIO else "misses"
        print(
            f"{r['db']}: {r['ratio'][HEADLINE_CONFIG]}× faster than Django use_bulk ({verdict} the goal of ≥ {GOAL_RATIO}×)"
        )
    return 0 if all(r["same_created"] for r in results) else 1
