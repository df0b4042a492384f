// A service page that is waiting (payment, set-up) follows its service: it asks the status
// endpoint now and then and reloads when the status changes, so the details appear without
// a click. It stops once the endpoint says the status is final (active, failed, ...), and
// waits longer between questions the longer it waits (3 s up to 30 s), pausing while hidden.
(function () {
  "use strict";
  var poll = document.querySelector("[data-status-url]");
  if (!poll) {
    return;
  }
  var url = poll.dataset.statusUrl;
  var shown = poll.dataset.status;
  var delay = (parseFloat(poll.dataset.interval) || 3) * 1000;
  var longest = 30000;

  function later() {
    window.setTimeout(ask, delay);
    delay = Math.min(delay * 1.5, longest);
  }

  function ask() {
    if (document.hidden) {
      document.addEventListener("visibilitychange", ask, { once: true });
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 404 || response.redirected) {
          return null; // gone, or logged out: nothing more to follow here
        }
        return response.ok ? response.json() : { status: shown, final: false };
      })
      .then(function (answer) {
        if (answer === null) {
          return;
        }
        if (answer.status !== shown) {
          window.location.reload();
        } else if (!answer.final) {
          later();
        }
      })
      .catch(later); // the network blinked: try again later
  }

  later();
})();
