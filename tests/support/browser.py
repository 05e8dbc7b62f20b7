"""The browser side of the e2e tests and scripts/: Debian's Chromium driven by Playwright (which
never downloads a browser of its own), waiting for Reflex's websocket, screenshots, axe-core,
and signing a page in with a dashboard token.

CHROMIUM_PATH (default /usr/bin/chromium) is the browser; BULK_UPLOAD_SCREENSHOTS=1 writes
`screenshot(...)`s into docs/screenshots/ (to update the docs).
"""

from __future__ import annotations

import re
from pathlib import Path

from bulk_upload_app.settings import harness_settings
from tests.support.app_server import AppServer, demo_admin_ids
from tests.support.dashboard import e2e_token
from tests.support.paths import SCREENSHOTS_DIR

CHROMIUM_PATH = harness_settings().chromium_path
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Installed in every browser context before the app's scripts run. Reflex's frontend calls
# window.__reflex_otel?.onSocketConnect() once the socket.io namespace is connected (the
# hydrate event rides in the CONNECT packet) and onSocketDisconnect(reason) when it drops:
# see reflex_base/.templates/web/utils/state.js. Those hooks exist for reflex-otel; this probe
# chains onto them, so it keeps working if a plugin installs its own hooks first. (Reflex's
# own integration tests instead render an element bound to State.router.session.client_token
# and wait until it has a value; our pages have no such element.)
CONNECTION_PROBE = """
(() => {
  const status = { connected: false, connects: 0, disconnects: 0, lastReason: null };
  const wrap = (hooks) => {
    if (!hooks || hooks.__bulkUploadProbe) return hooks;
    const onConnect = hooks.onSocketConnect, onDisconnect = hooks.onSocketDisconnect;
    hooks.onSocketConnect = function (...args) {
      status.connected = true; status.connects += 1;
      return onConnect?.apply(this, args);
    };
    hooks.onSocketDisconnect = function (...args) {
      status.connected = false; status.disconnects += 1; status.lastReason = args[0] ?? null;
      return onDisconnect?.apply(this, args);
    };
    hooks.__bulkUploadProbe = true;
    return hooks;
  };
  let hooks = wrap(window.__reflex_otel || {});
  Object.defineProperty(window, "__reflex_otel", {
    configurable: true,
    get: () => hooks,
    set: (value) => { hooks = wrap(value || {}); },
  });
  window.__bulkUploadE2E = status;
})();
"""

_screenshot_tmp_dir: Path | None = None


def set_screenshot_tmp_dir(path: Path) -> None:
    """Where `screenshot` puts the pictures that are not for the docs (the browser fixture sets it)."""
    global _screenshot_tmp_dir
    _screenshot_tmp_dir = path


def wait_connected(page, timeout: float = 15_000) -> None:
    """Wait until this page's Reflex websocket is connected (it then hydrates and runs on_load).

    Needs the CONNECTION_PROBE init script, which the `page` fixture installs. After a full
    navigation (page.goto, reload) the probe starts again from "not connected".
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(
            "() => window.__bulkUploadE2E && window.__bulkUploadE2E.connected === true", timeout=timeout
        )
    except PlaywrightTimeoutError:
        status = page.evaluate("() => window.__bulkUploadE2E ?? null")
        raise AssertionError(
            f"the Reflex websocket did not connect within {timeout / 1000:.0f} s on {page.url} "
            f"(probe: {status}; None means the page fixture's init script did not run)"
        ) from None


def screenshot(page, name: str, *, full_page: bool = True, for_docs: bool | None = None) -> Path:
    """Save a PNG of the page as `<name>.png` and return its path.

    Into <repo>/docs/screenshots/ when BULK_UPLOAD_SCREENSHOTS=1 (to update the docs), else into
    this pytest session's tmp dir. for_docs=False always uses the tmp dir (failure shots).
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "screenshot"
    if for_docs is None:
        for_docs = harness_settings().screenshots_for_docs
    if for_docs:
        directory = SCREENSHOTS_DIR
    elif _screenshot_tmp_dir is not None:
        directory = _screenshot_tmp_dir
    else:  # used outside the fixtures
        import tempfile

        directory = Path(tempfile.gettempdir()) / "bulk-upload-screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{safe}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> tuple[list[dict], str]:
    """Run axe-core (bundled by axe-playwright-python: no network) on the page.

    Returns the violations of the given impacts and a readable report of them.
    """
    from axe_playwright_python.sync_playwright import Axe

    response = Axe().run(page, options={"resultTypes": ["violations"]}).response
    found = [v for v in response["violations"] if not impacts or v["impact"] in impacts]
    version = response.get("testEngine", {}).get("version", "?")
    lines = [f"axe-core {version}: {len(found)} violation(s) of impact {', '.join(impacts) or 'any'}"]
    for v in found:
        targets = "; ".join(", ".join(map(str, n["target"])) for n in v["nodes"][:5])
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} node(s): {targets}]")
    return found, "\n".join(lines)


def sign_in_with_token(page, server: AppServer, path: str = "/users") -> None:
    """Production mode has no demo sign-in: open the app with a dashboard token, as the dashboard
    does; the tab stays signed in (its state is on the server) for the rest of the test."""
    page.goto(f"{path}?token={e2e_token(*demo_admin_ids(server))}")
    page.locator("#sign-in-checked").wait_for(state="attached")
    page.wait_for_function("() => !new URLSearchParams(window.location.search).has('token')")


# Installed by a page's init script: queue {name, payload} in window.__rewrites and the next event
# the page sends goes out as that one, with the page's own token (tests/e2e/test_attacks.py).
REWRITER = """
(() => {
  window.__sent = [];
  window.__rewrites = [];
  const install = () => {
    const hooks = window.__reflex_otel;
    if (!hooks || hooks.__rewriter) return;
    const before = hooks.onEventSend;
    hooks.onEventSend = function (event) {
      const r = window.__rewrites.shift();
      if (r) { event.name = r.name; event.payload = r.payload; }
      window.__sent.push({ name: event.name, payload: event.payload });
      return before?.apply(this, arguments);
    };
    hooks.__rewriter = true;
  };
  install();
  setInterval(install, 50);
})();
"""


def record_frames(page) -> list[str]:
    """Every websocket frame the page receives from now on (a list that fills as they arrive)."""
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    return frames
