// Embed mode: the wizard inside the company dashboard's iframe (see README, "Embedding").
// On with ?embed=1 or ?token=... (and for the rest of the tab's session); ?embed=0 turns it off.
// Hides our header, lets the width follow the host, and posts to the parent window - to the
// configured dashboard origin only - {source: "bulk-upload", type, ...}:
//   "ready", "height" {height}, "batch-created" {uploadId, created, failed, total},
//   "batch-finished" {uploadId, created, failed, status} (created, created_with_failures, interrupted, cancelled),
//   "legacy-dashboard" {url} (the host navigates its own top frame; we do not).
// The host may renew the sign-in by posting {source: "bulk-upload-host", type: "renew-token",
// token} to the frame. Once the server has looked at a ?token=, it is removed from the address
// (history, logs and Referer never see it again).
(function () {
  var config = window.__BULK_UPLOAD_EMBED__ || { parentOrigins: [] };
  var params = new URLSearchParams(window.location.search);
  var KEY = "bulkUploadEmbed";
  var on = false;
  try {
    if (params.get("embed") === "0") sessionStorage.removeItem(KEY);
    else if (params.get("embed") === "1" || params.has("token")) sessionStorage.setItem(KEY, "1");
    on = sessionStorage.getItem(KEY) === "1";
  } catch (e) {
    on = params.get("embed") === "1" || params.has("token");
  }
  var framed = window.parent !== window;

  function parentOrigin() {
    var origins = config.parentOrigins || [];
    var seen = "";
    if (window.location.ancestorOrigins && window.location.ancestorOrigins.length) {
      seen = window.location.ancestorOrigins[0];
    } else if (document.referrer) {
      try { seen = new URL(document.referrer).origin; } catch (e) { seen = ""; }
    }
    if (origins.indexOf(seen) >= 0) return seen;
    // One configured origin: the browser delivers only if the parent really is that origin.
    return origins.length === 1 ? origins[0] : null;
  }
  var target = framed ? parentOrigin() : null;

  function post(type, data) {
    if (!target) return false;
    var message = { source: "bulk-upload", type: type };
    for (var k in data || {}) message[k] = data[k];
    window.parent.postMessage(message, target);
    return true;
  }
  window.bulkUploadEmbed = { enabled: on, framed: framed, targetOrigin: target, post: post };

  // The server marks the page (#sign-in-checked) after it spent the token: only then may it go.
  function dropTokenFromAddress() {
    if (!document.getElementById("sign-in-checked")) return false;
    var url = new URL(window.location.href);
    if (url.searchParams.has("token")) {
      url.searchParams.delete("token");
      window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    }
    return true;
  }
  if (params.has("token")) {
    var tokenWatch = new MutationObserver(function () { if (dropTokenFromAddress()) tokenWatch.disconnect(); });
    tokenWatch.observe(document.documentElement, { childList: true, subtree: true });
  }

  window.addEventListener("message", function (event) {
    var msg = event.data;
    if (!framed || !target || event.origin !== target || event.source !== window.parent) return;
    if (!msg || msg.source !== "bulk-upload-host" || msg.type !== "renew-token" || typeof msg.token !== "string") return;
    var form = document.getElementById("renew-sign-in");
    var input = document.getElementById("renew-sign-in-token");
    if (!form || !input) return;
    input.value = msg.token;
    form.requestSubmit();
    window.setTimeout(function () { input.value = ""; }, 0);
  });
  if (!on) return;

  document.documentElement.classList.add("bulk-upload-embed");
  var style = document.createElement("style");
  style.textContent =
    "html.bulk-upload-embed .app-header{display:none!important}" +
    "html.bulk-upload-embed .app-frame{min-height:0!important}" +
    "html.bulk-upload-embed .app-main{max-width:none!important}" +
    "html.bulk-upload-embed,html.bulk-upload-embed body{overflow-y:hidden}";
  document.head.appendChild(style);

  var lastHeight = -1, queued = false;
  function measure() {
    queued = false;
    var frame = document.querySelector(".app-frame");
    var height = Math.ceil(frame ? frame.getBoundingClientRect().height : document.body.scrollHeight);
    if (height > 0 && height !== lastHeight) {
      lastHeight = height;
      post("height", { height: height });
    }
  }
  function schedule() {
    if (!queued) { queued = true; window.requestAnimationFrame(measure); }
  }

  // The legacy dashboard opens in the host's top frame: tell the host, which navigates itself.
  document.addEventListener("click", function (event) {
    var link = event.target && event.target.closest && event.target.closest("#legacy-dashboard-link");
    if (link && framed && post("legacy-dashboard", { url: link.href })) event.preventDefault();
  }, true);

  function start() {
    post("ready", {});
    if (window.ResizeObserver) new ResizeObserver(schedule).observe(document.body);
    new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true, attributes: true });
    window.addEventListener("resize", schedule);
    schedule();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
