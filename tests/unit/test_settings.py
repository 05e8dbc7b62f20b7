"""One settings object; demo mode as one switch; production refuses to start unsafe."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from bulk_upload_app.settings import (
    SettingsError,
    load_settings,
    startup_problems,
)
from tests.support.factories import PRODUCTION_SETTINGS as PRODUCTION
from tests.support.factories import QUEUE_SETTINGS as QUEUE
from tests.support.paths import REPO


def test_a_complete_production_configuration_starts():
    assert startup_problems(load_settings(PRODUCTION)) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"BULK_UPLOAD_JWT_SECRET": ""}, "BULK_UPLOAD_JWT_SECRET is missing"),
        ({"BULK_UPLOAD_JWT_SECRET": "x" * 31}, "BULK_UPLOAD_JWT_SECRET is too short"),
        ({"BULK_UPLOAD_JWT_ISSUER": ""}, "BULK_UPLOAD_JWT_ISSUER is missing"),
        ({"BULK_UPLOAD_FRAME_ANCESTORS": ""}, "BULK_UPLOAD_FRAME_ANCESTORS is missing"),
        ({"BULK_UPLOAD_DEV_SIGNIN": "1"}, "BULK_UPLOAD_DEV_SIGNIN is set outside demo mode"),
        ({"BULK_UPLOAD_LEGACY_DASHBOARD_URL": ""}, "BULK_UPLOAD_LEGACY_DASHBOARD_URL is missing"),
        (
            {"BULK_UPLOAD_LEGACY_DASHBOARD_URL": "javascript:alert(1)"},
            "BULK_UPLOAD_LEGACY_DASHBOARD_URL is not an http(s) URL",
        ),
    ],
)
def test_each_unsafe_setting_is_named(change, named):
    problems = startup_problems(load_settings({**PRODUCTION, **change}))
    assert len(problems) == 1 and problems[0].startswith(named)


def test_demo_mode_needs_no_secrets_and_has_the_demo_defaults():
    settings = load_settings({"BULK_UPLOAD_DEMO": "1", **QUEUE})
    assert startup_problems(settings) == []
    assert settings.dev_signin and settings.legacy_dashboard_url == "http://localhost:3000/legacy-dashboard"


def test_nothing_demo_is_on_by_default():
    settings = load_settings({})
    assert not settings.demo and not settings.dev_signin and settings.legacy_dashboard_url == ""
    assert len(startup_problems(settings)) == 5  # queue, secret, issuer, frame ancestors, legacy dashboard


def test_demo_mode_too_needs_the_job_queue():
    assert [p.split(" ")[0] for p in startup_problems(load_settings({"BULK_UPLOAD_DEMO": "1"}))] == [
        "BULK_UPLOAD_QUEUE_URL"
    ]


def test_the_old_dev_signin_switch_alone_signs_nobody_in():
    assert not load_settings({**PRODUCTION, "BULK_UPLOAD_DEV_SIGNIN": "1"}).dev_signin


def test_cors_allows_the_apps_own_origin_and_the_dashboards_only():
    assert load_settings(PRODUCTION).cors_allowed_origins() == (
        "https://bulk-upload.example.com",
        "https://dashboard.example.com",
    )
    # Never "*", also in demo mode: a loopback app answers under its loopback names only.
    demo = load_settings({"BULK_UPLOAD_DEMO": "1"}).cors_allowed_origins()
    assert "*" not in demo and "http://localhost:3000" in demo and "http://127.0.0.1:3000" in demo
    assert {urlsplit(o).hostname for o in demo} == {"localhost", "127.0.0.1", "::1"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BULK_UPLOAD_MAX_FILE_MB", "lots"),
        ("BULK_UPLOAD_MAX_OPEN_DRAFTS", "0"),
        ("BULK_UPLOAD_WORKER_BIG_THREADS", "0"),  # big files would never be read
        ("BULK_UPLOAD_BIG_FILE_MB", "big"),
        ("BULK_UPLOAD_DEMO", "maybe"),
        ("BULK_UPLOAD_FRAME_ANCESTORS", "https://dash.example.com/path"),
        ("REFLEX_DEPLOY_URL", "ftp://x"),
    ],
)
def test_a_bad_value_names_its_setting(name, value):
    with pytest.raises(SettingsError, match=name):
        load_settings({**PRODUCTION, name: value})


def test_session_lasts_an_hour_by_default():
    assert load_settings(PRODUCTION).session_seconds == 3600


def _start_app(env_changes: dict[str, str | None]) -> subprocess.CompletedProcess:
    """Import the app module in a fresh interpreter: what every server process does at start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULK_UPLOAD_")}
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["REFLEX_DB_URL"] = "sqlite://"
    return subprocess.run(
        [sys.executable, "-c", "import bulk_upload_app.bulk_upload_app"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.mark.parametrize(
    "missing",
    [
        "BULK_UPLOAD_JWT_SECRET",
        "BULK_UPLOAD_FRAME_ANCESTORS",
        "BULK_UPLOAD_JWT_ISSUER",
        "BULK_UPLOAD_LEGACY_DASHBOARD_URL",
    ],
)
def test_the_server_refuses_to_start_without_a_production_setting(missing):
    result = _start_app({**PRODUCTION, missing: None})
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("bulk-upload: refusing to start")]
    assert len(lines) == 1 and missing in lines[0], result.stderr[-2000:]


def test_the_server_refuses_the_dev_signin_outside_demo_mode():
    result = _start_app({**PRODUCTION, "BULK_UPLOAD_DEV_SIGNIN": "1"})
    assert result.returncode == 2 and "BULK_UPLOAD_DEV_SIGNIN" in result.stderr


def test_the_server_starts_in_production_and_in_demo_mode():
    assert _start_app(PRODUCTION).returncode == 0
    demo = _start_app({"BULK_UPLOAD_DEMO": "1", **QUEUE})
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert "DEMO MODE" in demo.stderr


def test_the_apps_origin_follows_reflex_run_ports_when_no_url_is_given():
    settings = load_settings({"BULK_UPLOAD_DEMO": "1", "REFLEX_FRONTEND_PORT": "3101", "REFLEX_BACKEND_PORT": "8101"})
    assert "http://localhost:3101" in settings.cors_allowed_origins()
    assert "http://127.0.0.1:8101" in settings.cors_allowed_origins()


def test_the_harness_reads_its_services_and_tools_from_the_environment_it_is_given():
    from bulk_upload_app.settings import DEFAULT_TEST_PG_URL, harness_settings

    assert harness_settings({}).pg_url == DEFAULT_TEST_PG_URL
    harness = harness_settings(
        {
            "BULK_UPLOAD_TEST_PG_URL": "postgresql+psycopg://bench@db:5432/b",
            "BULK_UPLOAD_WITHOUT": " postgres, browser ,",
            "BULK_UPLOAD_E2E_START_TIMEOUT": "30",
            "BULK_UPLOAD_SCREENSHOTS": "1",
        }
    )
    assert harness.pg_url == "postgresql+psycopg://bench@db:5432/b"
    assert harness.without == {"postgres", "browser"}
    assert (harness.e2e_start_timeout, harness.screenshots_for_docs, harness.e2e_web_dir) == (30, True, None)


def test_environment_is_a_copy_of_the_process_environment_by_prefix(monkeypatch):
    from bulk_upload_app.settings import environment

    monkeypatch.setenv("BULK_UPLOAD_WORKER_TEST_ONLY", "3")
    copy = environment("BULK_UPLOAD_WORKER_TEST")
    assert copy == {"BULK_UPLOAD_WORKER_TEST_ONLY": "3"}
    copy["BULK_UPLOAD_WORKER_TEST_ONLY"] = "4"
    assert environment("BULK_UPLOAD_WORKER_TEST") == {"BULK_UPLOAD_WORKER_TEST_ONLY": "3"}
