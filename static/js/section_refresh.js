// A service page's self-service section follows the actions run from it: when the action
// status box (#action-status, swapped in by htmx) settles as succeeded, each element marked
// data-refresh-on-success (with an id) is fetched again from the page and swapped in place,
// so live figures (state, usage, the new key) and the forms' one-time click keys are fresh
// without a reload. The page is asked without ?op=, so a shown-once secret is not taken.
(function () {
  "use strict";

  document.body.addEventListener("htmx:afterSettle", function (event) {
    var box = event.target;
    if (!box || box.id !== "action-status" || box.dataset.status !== "succeeded") {
      return;
    }
    if (!window.htmx) {
      return;
    }
    document.querySelectorAll("[data-refresh-on-success][id]").forEach(function (section) {
      var selector = "#" + section.id;
      window.htmx.ajax("GET", window.location.pathname, {
        target: selector,
        select: selector,
        swap: "outerHTML",
      });
    });
  });
})();
