// react-dropzone's hidden file input takes no props from Reflex: give it an accessible name.
(function () {
  function label() {
    document.querySelectorAll("#users_file input[type=file]:not([aria-label])").forEach(function (input) {
      input.setAttribute("aria-label", "Users file");
    });
  }
  function start() {
    label();
    new MutationObserver(label).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
