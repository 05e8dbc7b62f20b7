# The bulk upload app in production mode: compiled frontend + Granian backend on one port.
# Configuration comes only from the environment (README, "Environment variables").
FROM python:3.12-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    REFLEX_USE_NPM=1 REFLEX_CHECK_LATEST_VERSION=false REFLEX_TELEMETRY_ENABLED=false \
    npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

# Node.js >= 22.22 for the Reflex frontend build (npm registry, as dev.sh does).
RUN apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm curl unzip ca-certificates \
    && npm install -g --loglevel=error node@22 npm@11 \
    && apt-get purge -y nodejs npm && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && node --version

RUN useradd --create-home --uid 10001 app && mkdir -p /data/uploads && chown app:app /data/uploads
WORKDIR /app
COPY --chown=app:app pyproject.toml README.md ./
COPY --chown=app:app bulk_upload_app ./bulk_upload_app
RUN pip install -e .
COPY --chown=app:app . .
USER app

# Install the frontend's node_modules at image build; the Vite build itself runs at start
# (reflex run --env prod always rebuilds), so runtime settings such as
# BULK_UPLOAD_FRAME_ANCESTORS and REFLEX_DEPLOY_URL are the ones baked into the page.
RUN REFLEX_DB_URL=sqlite:////tmp/build.db reflex export --frontend-only --no-zip || true

ENV PORT=3000 GRANIAN_WORKERS=2
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s CMD curl -fsS http://127.0.0.1:${PORT}/ping || exit 1
CMD ["sh", "-c", "bulk-upload db upgrade && exec reflex run --env prod --backend-host 0.0.0.0 --frontend-port ${PORT} --backend-port ${PORT}"]
