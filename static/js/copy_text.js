// Copy buttons: <button data-copy-target="element-id" data-copied-label="Copied"> copies the
// text of that element to the clipboard and says so on the button for a moment. Served from
// the portal's own static files (CSP script-src 'self'); no inline script on the page.
(function () {
  "use strict";

  function copied(button) {
    var label = button.textContent;
    button.textContent = button.dataset.copiedLabel || "Copied";
    window.setTimeout(function () {
      button.textContent = label;
    }, 2000);
  }

  function fallback(text) {
    // Older browsers, or a page not served over HTTPS: a hidden text area and execCommand.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    var done = false;
    try {
      done = document.execCommand("copy");
    } catch (error) {
      done = false;
    }
    document.body.removeChild(area);
    return done;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var source = document.getElementById(button.dataset.copyTarget);
    if (!source) {
      return;
    }
    var text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          copied(button);
        },
        function () {
          if (fallback(text)) {
            copied(button);
          }
        }
      );
    } else if (fallback(text)) {
      copied(button);
    }
  });
})();
