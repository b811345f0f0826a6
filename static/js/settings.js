// "Send a test message" buttons on the settings page: POST /api/notifications/test per channel.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  Array.prototype.forEach.call(document.querySelectorAll("[data-test-channel]"), function (button) {
    var channel = button.getAttribute("data-test-channel");
    var out = document.querySelector('[data-test-result="' + channel + '"]');
    button.addEventListener("click", function () {
      out.textContent = "Queuing…";
      fetch("/api/notifications/test", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
        body: JSON.stringify({ channel: channel })
      }).then(function (r) {
        return r.json().then(function (d) {
          out.textContent = r.ok ? "Queued " + d.queued + " test message(s); see Deliveries for their fate."
                                 : (d.details && d.details.channel) || d.error;
        });
      }).catch(function () { out.textContent = "Could not reach the server."; });
    });
  });
})();
