#!/usr/bin/env bash
# Developer entry point: installs what the app needs, then runs it, its tests or its benchmarks.
#
#   ./dev.sh run                 app at http://localhost:3000 (SQLite + demo data)
#   ./dev.sh test [pytest args]  whole test suite (PostgreSQL, Redis, Chromium ensured)
#   ./dev.sh prod [reflex args]  production mode: PostgreSQL, Redis, 2 workers, migrations first
#   ./dev.sh bench [args]        python -m bench (the benchmarks in bench/)
#   ./dev.sh load-test [args]    scripts/load_test.py: 20 admins (+2 with 1M rows) at once on PostgreSQL + Redis + 2 workers
#
# Safe to run again: every step is skipped when already done. Works with no stdin (CI=true).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
STAMP="$VENV/.bulk-upload-install-stamp"
TOOLS_NODE="$ROOT/.tools/node"
NODE_MIN="22.22.0"   # reflex 0.10 (reflex_base.constants.installer.Node.MIN_VERSION)

DEFAULT_PG_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL="redis://127.0.0.1:6379/0"

# Defaults for every command; a value already in the environment wins.
export REFLEX_USE_NPM="${REFLEX_USE_NPM:-1}"                      # never download bun
export REFLEX_CHECK_LATEST_VERSION="${REFLEX_CHECK_LATEST_VERSION:-false}"
export REFLEX_TELEMETRY_ENABLED="${REFLEX_TELEMETRY_ENABLED:-false}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1                            # we use Debian's chromium
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
export DEBIAN_FRONTEND=noninteractive
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

log() { printf '\033[1m[dev.sh]\033[0m %s\n' "$*" >&2; }
die() { printf '[dev.sh] error: %s\n' "$*" >&2; exit 1; }

usage() {
    cat <<'EOF'
usage: ./dev.sh run | test [pytest args...] | prod | bench [args...] | bench-ui [rows] | load-test [args...]

  run    install (venv, Node >= 22.22), migrate + seed SQLite, start a local mail catcher (read its
         mail on /demo/mail) and the app on http://localhost:3000
  test   install as above + Chromium, ensure PostgreSQL and Redis, run python -m pytest
  bench  install as above, run python -m bench (bench/: engine by default; --api, --search,
         --process ROWS, --versus-django; python -m bench --help)
  prod   install as above, ensure PostgreSQL + Redis, migrate, run the production build
         (one port, GRANIAN_WORKERS=2 workers sharing state in Redis; see README "Production")
  bench-ui  install as above + Chromium, time the wizard on a big file (scripts/bench_ui.py)
  load-test install as above + Chromium, PostgreSQL, Redis; 20 admins upload 1,000 rows each at
            once, with 2 admins uploading 1,000,000 rows, on the production setup
            (scripts/load_test.py --help)

BULK_UPLOAD_WITHOUT=postgres,redis,browser leaves those parts out of `test`.
EOF
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root for: $*"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* yourself"
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -q </dev/null
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root apt-get install -y -q "$@" </dev/null
}

# version_ge A B: true when dotted version A >= B (a leading "v" is ignored).
version_ge() {
    local a="${1#v}" b="${2#v}"
    [ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" = "$b" ]
}

# ---------------------------------------------------------------- Python venv
pick_python() {
    local c
    for c in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    return 1
}

ensure_venv() {
    if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "$VENV is broken (its Python is gone); recreating it"
        rm -rf "$VENV"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        local py
        py="$(pick_python)" || die "Python >= 3.11 not found (set PYTHON=/path/to/python3.11)"
        if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
            apt_install python3-venv
        fi
        log "creating $VENV with $("$py" --version 2>&1)"
        "$py" -m venv "$VENV"
        rm -f "$STAMP"
    fi

    local want
    want="$( { cat pyproject.toml; "$VENV/bin/python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
        log "pip install -e '.[dev]' (pyproject.toml changed since the last install)"
        "$VENV/bin/python" -m pip install -q -e '.[dev]'
        echo "$want" >"$STAMP"
    fi

    export VIRTUAL_ENV="$VENV"
    export PATH="$VENV/bin:$PATH"
}

# ---------------------------------------------------------------- Node.js >= 22.22
node_ok() {  # node_ok DIR_OR_EMPTY: node and npm (from DIR, or PATH) work and node >= NODE_MIN
    local node=node npm=npm v
    if [ -n "$1" ]; then node="$1/node"; npm="$1/npm"; fi
    v="$(PATH="${1:+$1:}$PATH" "$node" --version 2>/dev/null)" || return 1
    version_ge "$v" "$NODE_MIN" || return 1
    PATH="${1:+$1:}$PATH" "$npm" --version >/dev/null 2>&1 || return 1
}

ensure_node() {
    local bin="$TOOLS_NODE/node_modules/.bin"
    if node_ok ""; then
        return 0                                   # the system's Node is new enough
    fi
    if ! node_ok "$bin"; then
        if ! command -v npm >/dev/null 2>&1; then
            apt_install nodejs npm                 # only to bootstrap the install below
        fi
        log "installing Node.js 22 and npm from the npm registry into .tools/node (system node: $(node --version 2>/dev/null || echo none))"
        mkdir -p "$TOOLS_NODE"
        # The `node` package's preinstall pulls node-<os>-<arch> (the real binary) from the
        # registry; npm >= 11.19 wants that install script approved in package.json.
        printf '%s\n' '{"private": true, "allowScripts": {"node": true}}' >"$TOOLS_NODE/package.json"
        npm install --prefix "$TOOLS_NODE" --loglevel=error 'node@22' 'npm@11' </dev/null
        if ! "$bin/node" --version >/dev/null 2>&1; then
            # npm blocked the preinstall: take the platform package directly (it has bin/node).
            local arch
            case "$(uname -m)" in
                x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) die "no node package for $(uname -m)" ;;
            esac
            log "node@22 preinstall did not run; installing node-linux-$arch@22"
            npm install --prefix "$TOOLS_NODE" --loglevel=error "node-linux-$arch@22" 'npm@11' </dev/null
            ln -sf ../node-linux-$arch/bin/node "$bin/node"
        fi
        node_ok "$bin" || die "Node.js >= $NODE_MIN still not usable from $bin"
    fi
    export PATH="$bin:$PATH"
}

# ---------------------------------------------------------------- services for tests
WITHOUT=",${BULK_UPLOAD_WITHOUT:-},"
WITHOUT="${WITHOUT// /}"
without() { [[ "$WITHOUT" == *",$1,"* ]]; }

check_without() {
    local part
    IFS=',' read -ra parts <<<"${BULK_UPLOAD_WITHOUT:-}"
    for part in "${parts[@]}"; do
        part="${part// /}"
        case "$part" in
            ''|postgres|redis|browser) ;;
            *) log "warning: BULK_UPLOAD_WITHOUT has unknown part '$part' (known: postgres, redis, browser)" ;;
        esac
    done
    [ -z "${BULK_UPLOAD_WITHOUT:-}" ] || log "leaving out: ${BULK_UPLOAD_WITHOUT} (BULK_UPLOAD_WITHOUT)"
}

ensure_chromium() {
    if [ "$CHROMIUM_PATH" != /usr/bin/chromium ]; then
        [ -x "$CHROMIUM_PATH" ] || die "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable"
        return 0
    fi
    [ -x /usr/bin/chromium ] && return 0
    apt_install chromium
    [ -x /usr/bin/chromium ] || die "apt-get install chromium did not provide /usr/bin/chromium"
}

PG_ADMIN="host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"

pg_answers() {
    python - "$PG_ADMIN" <<'EOF' >/dev/null 2>&1
import sys, psycopg
psycopg.connect(sys.argv[1]).close()
EOF
}

pg_create_test_db() {
    python - "$PG_ADMIN" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'test'").fetchone() is None:
        conn.execute("CREATE DATABASE test")
        print("[dev.sh] created database test", file=sys.stderr)
EOF
}

ensure_postgres() {
    if [ -n "${BULK_UPLOAD_TEST_PG_URL:-}" ] && [ "$BULK_UPLOAD_TEST_PG_URL" != "$DEFAULT_PG_URL" ]; then
        log "BULK_UPLOAD_TEST_PG_URL is set; not managing PostgreSQL"
        return 0
    fi
    if ! pg_answers; then
        local installed=0 ver
        if ! ls /etc/postgresql/*/main/postgresql.conf >/dev/null 2>&1; then
            apt_install postgresql
            installed=1
        fi
        ver="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -V | tail -n1)"
        if [ "$installed" -eq 1 ]; then
            # A fresh Debian cluster asks TCP clients for a password; the tests connect as postgres without one.
            local hba="/etc/postgresql/$ver/main/pg_hba.conf"
            if ! grep -q '^# dev.sh: trust loopback' "$hba"; then
                log "allowing passwordless loopback connections in $hba"
                as_root sed -i '1i # dev.sh: trust loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
            fi
        fi
        log "starting PostgreSQL $ver"
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
        if [ "$installed" -eq 1 ]; then as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true; fi
        for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
        pg_answers || die "PostgreSQL does not answer on 127.0.0.1:5432 as postgres"
    fi
    pg_create_test_db
}

redis_answers() {
    python - "${BULK_UPLOAD_TEST_REDIS_URL}" <<'EOF' >/dev/null 2>&1
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()
EOF
}

ensure_redis() {
    if [ "$BULK_UPLOAD_TEST_REDIS_URL" != "$DEFAULT_REDIS_URL" ]; then
        log "BULK_UPLOAD_TEST_REDIS_URL is set; not managing Redis"
        return 0
    fi
    redis_answers && return 0
    command -v redis-server >/dev/null 2>&1 || apt_install redis-server
    log "starting redis-server on 127.0.0.1:6379"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/dev-sh.log </dev/null
    for _ in $(seq 1 20); do redis_answers && return 0; sleep 0.5; done
    die "Redis does not answer on 127.0.0.1:6379"
}

# What the app starts beside itself (job worker, mail catcher) is stopped when it stops.
CHILD_PIDS=()
stop_children() { [ ${#CHILD_PIDS[@]} -eq 0 ] || kill -TERM "${CHILD_PIDS[@]}" 2>/dev/null || true; }
trap stop_children EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- job worker
# `bulk-upload worker` beside the app, in the same process group (Ctrl-C, or a signal to the
# group, stops both); stopped with the app otherwise; its log in .var/.
start_worker() {
    mkdir -p "$ROOT/.var"
    python -m bulk_upload_app worker >"$ROOT/.var/worker.log" 2>&1 </dev/null &
    WORKER_PID=$!
    CHILD_PIDS+=("$WORKER_PID")
    log "job worker started (pid $WORKER_PID, log .var/worker.log, queue $BULK_UPLOAD_QUEUE_URL)"
}

# ---------------------------------------------------------------- demo mail
DEMO_MAIL_PORT="${BULK_UPLOAD_DEMO_MAIL_PORT:-8025}"

port_answers() {  # port_answers PORT: something accepts connections on 127.0.0.1:PORT
    python - "$1" <<'EOF' >/dev/null 2>&1
import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
EOF
}

# Demo mode's email goes to a local SMTP catcher (bulk-upload mail-catcher), read on /demo/mail.
# Idempotent: a catcher already answering on the port (another ./dev.sh run) is used as it is;
# an SMTP server of your own in BULK_UPLOAD_SMTP_URL is used instead of any catcher.
start_mail_catcher() {
    if [ -n "${BULK_UPLOAD_SMTP_URL:-}" ]; then
        log "mail: sent through BULK_UPLOAD_SMTP_URL (set in your environment; no local catcher)"
        return 0
    fi
    export BULK_UPLOAD_SMTP_URL="smtp://127.0.0.1:$DEMO_MAIL_PORT"
    if ! port_answers "$DEMO_MAIL_PORT"; then
        mkdir -p "$ROOT/.var"
        python -m bulk_upload_app mail-catcher --port "$DEMO_MAIL_PORT" >>"$ROOT/.var/mail-catcher.log" 2>&1 &
        local pid=$!
        CHILD_PIDS+=("$pid")
        for _ in $(seq 1 40); do port_answers "$DEMO_MAIL_PORT" && break; sleep 0.25; done
        port_answers "$DEMO_MAIL_PORT" || die "the mail catcher did not start (see .var/mail-catcher.log)"
    fi
    log "mail: caught locally at $BULK_UPLOAD_SMTP_URL, never delivered; read it at http://localhost:3000/demo/mail (files in .var/mail/)"
}

# ---------------------------------------------------------------- commands
setup() {
    ensure_venv
    ensure_node
    # Reflex otherwise probes a mirror registry it cannot reach here; use npm's own setting.
    if [ -z "${NPM_CONFIG_REGISTRY:-}" ]; then
        NPM_CONFIG_REGISTRY="$(npm config get registry 2>/dev/null || true)"
        export NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org/}"
    fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    run)
        setup
        # Demo mode: the demo sign-in, the demo seed and the demo seat shop. Nothing else sets it.
        export BULK_UPLOAD_DEMO=1
        # Runtime files go under the hidden .var/: the dev server restarts the backend when
        # anything it watches changes, and it watches every non-hidden entry of the project root
        # (SQLite's -wal/-shm change on every query).
        export REFLEX_DB_URL="${REFLEX_DB_URL:-sqlite:///$ROOT/.var/bulk_upload.db}"
        log "database: $REFLEX_DB_URL"
        # `python -m` imports this checkout's code; the bulk-upload script imports wherever the
        # virtualenv's editable install points (another worktree, when the venv is shared).
        python -m bulk_upload_app db upgrade
        python -m bulk_upload_app demo-seed
        # The job queue: the Redis on 127.0.0.1:6379 (started, or installed, when none answers)
        # and one worker beside the app; the same code as production, on the same SQLite file.
        export BULK_UPLOAD_TEST_REDIS_URL="${BULK_UPLOAD_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}"
        export BULK_UPLOAD_QUEUE_URL="${BULK_UPLOAD_QUEUE_URL:-$DEFAULT_REDIS_URL}"
        export BULK_UPLOAD_QUEUE_NAMESPACE="${BULK_UPLOAD_QUEUE_NAMESPACE:-bulk-upload-dev}"
        [ "$BULK_UPLOAD_QUEUE_URL" = "$DEFAULT_REDIS_URL" ] && ensure_redis
        # The catcher first: it sets BULK_UPLOAD_SMTP_URL, which the worker (it sends the email
        # about each batch it ends) must inherit, or it records "no mail server configured".
        start_mail_catcher
        start_worker
        log "starting the app: http://localhost:3000"
        # Not exec: the worker and the mail catcher started above stop when the app stops.
        reflex run "$@"
        ;;
    prod)
        # Production mode locally: PostgreSQL + Redis + 2 Granian workers, migrations at start.
        setup
        export BULK_UPLOAD_TEST_REDIS_URL="${BULK_UPLOAD_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}"
        export REFLEX_DB_URL="${REFLEX_DB_URL:-$DEFAULT_PG_URL}"
        export REFLEX_REDIS_URL="${REFLEX_REDIS_URL:-$DEFAULT_REDIS_URL}"
        export GRANIAN_WORKERS="${GRANIAN_WORKERS:-2}"
        PORT="${REFLEX_PORT:-3000}"
        export REFLEX_API_URL="${REFLEX_API_URL:-http://localhost:$PORT}"
        export REFLEX_DEPLOY_URL="${REFLEX_DEPLOY_URL:-$REFLEX_API_URL}"
        [ "$REFLEX_DB_URL" = "$DEFAULT_PG_URL" ] && ensure_postgres
        [ "$REFLEX_REDIS_URL" = "$DEFAULT_REDIS_URL" ] && ensure_redis
        export BULK_UPLOAD_QUEUE_URL="${BULK_UPLOAD_QUEUE_URL:-$REFLEX_REDIS_URL}"
        log "database: $REFLEX_DB_URL, redis: $REFLEX_REDIS_URL, $GRANIAN_WORKERS workers, port $PORT"
        python -m bulk_upload_app db upgrade   # this checkout's migrations (see run)
        start_worker
        reflex run --env prod --frontend-port "$PORT" --backend-port "$PORT" "$@"
        ;;
    test)
        check_without
        setup
        export BULK_UPLOAD_TEST_PG_URL="${BULK_UPLOAD_TEST_PG_URL:-$DEFAULT_PG_URL}"
        export BULK_UPLOAD_TEST_REDIS_URL="${BULK_UPLOAD_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}"
        export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
        export BULK_UPLOAD_WITHOUT="${BULK_UPLOAD_WITHOUT:-}"
        without browser || ensure_chromium
        without postgres || ensure_postgres
        without redis || ensure_redis
        # Lint, format and types first; a finding fails the run after the tests have run too.
        lint_rc=0
        log "ruff check . && ruff format --check . && mypy"
        { ruff check . && ruff format --check . && mypy; } || lint_rc=$?
        rc=0
        if [ $# -eq 0 ]; then
            # The whole suite: the browser tests (their own servers and workers, one server at a
            # time; mostly waiting on them and on Chromium) run beside the engine and database
            # tests (pytest-xdist, two processes). The browser tests' output follows theirs.
            e2e_log="$(mktemp)"
            log "python -m pytest tests/e2e (beside the tests below; its output follows theirs)"
            python -m pytest tests/e2e >"$e2e_log" 2>&1 &
            e2e_pid=$!
            trap 'kill "$e2e_pid" 2>/dev/null || true' INT TERM
            log "python -m pytest tests/unit tests/integration -n 2"
            python -m pytest tests/unit tests/integration -n 2 || rc=$?
            e2e_rc=0
            wait "$e2e_pid" || e2e_rc=$?
            log "python -m pytest tests/e2e: its output"
            cat "$e2e_log"
            rm -f "$e2e_log"
            if [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ]; then rc="$e2e_rc"; fi
        else
            log "python -m pytest $*"
            python -m pytest "$@" || rc=$?
        fi
        if [ "$rc" -eq 5 ]; then
            log "pytest collected no tests (exit 5): treating it as a failure"
            exit 1
        fi
        if [ "$lint_rc" -ne 0 ] && [ "$rc" -eq 0 ]; then
            log "the tests passed but ruff or mypy did not (see above): failing the run"
            exit "$lint_rc"
        fi
        exit "$rc"
        ;;
    bench)
        setup
        ensure_postgres
        exec python -m bench "$@"
        ;;
    bench-ui)
        setup
        export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
        ensure_chromium
        exec python scripts/bench_ui.py "$@"
        ;;
    load-test)
        setup
        export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
        export BULK_UPLOAD_TEST_PG_URL="${BULK_UPLOAD_TEST_PG_URL:-$DEFAULT_PG_URL}"
        export BULK_UPLOAD_TEST_REDIS_URL="${BULK_UPLOAD_TEST_REDIS_URL:-$DEFAULT_REDIS_URL}"
        ensure_chromium
        ensure_postgres
        ensure_redis
        exec python scripts/load_test.py "$@"
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
