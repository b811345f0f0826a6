// Registers the service worker (/sw.js, scope /) on every page, passes its "refresh" messages on
// to the page as a "stockbell:refresh" event, and runs "Notify this device" / "Stop notifying
// this device" on My preferences: subscribe with the server's VAPID key and POST the
// subscription; unsubscribe and DELETE it.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var registered = navigator.serviceWorker.register("/sw.js", { scope: "/" });
  registered.catch(function () {});
  navigator.serviceWorker.addEventListener("message", function (event) {
    if (event.data && event.data.type === "refresh") {
      document.dispatchEvent(new CustomEvent("stockbell:refresh"));
    }
  });

  var box = document.getElementById("push-device");
  if (!box) return;
  var on = document.getElementById("push-on");
  var off = document.getElementById("push-off");
  var status = document.getElementById("push-status");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function say(text) { status.textContent = text; }

  function show(subscribed) {
    on.hidden = subscribed;
    off.hidden = !subscribed;
    say(subscribed ? "This device is notified of your alerts." : "This device is not notified.");
  }

  function request(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      init.headers["X-CSRFToken"] = csrf;
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
    }
    return fetch(url, init).then(function (r) {
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (d) {
          throw new Error(d.error || "HTTP " + r.status);
        });
      }
      return r.status === 204 ? null : r.json();
    });
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function subscribe() {
    on.disabled = true;
    say("Asking this browser…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("notifications are blocked for this site in this browser");
      return Promise.all([navigator.serviceWorker.ready, request("GET", box.getAttribute("data-key-url"))]);
    }).then(function (got) {
      return got[0].pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(got[1].public_key) });
    }).then(function (subscription) {
      return request("POST", box.getAttribute("data-subscriptions-url"), subscription.toJSON());
    }).then(function () { show(true); }).catch(function (error) {
      show(false);
      say("This device could not be subscribed: " + error.message);
    }).then(function () { on.disabled = false; });
  }

  function unsubscribe() {
    off.disabled = true;
    var url = box.getAttribute("data-subscriptions-url");
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      // Posting it again answers its id (the same device is never added twice).
      return request("POST", url, subscription.toJSON()).then(function (d) {
        return request("DELETE", url + "/" + d.id);
      }).then(function () { return subscription.unsubscribe(); });
    }).then(function () { show(false); }).catch(function (error) {
      say("This device could not be unsubscribed: " + error.message);
    }).then(function () { off.disabled = false; });
  }

  if (!("PushManager" in window) || !("Notification" in window)) {
    say("This browser cannot receive push notifications.");
    return;
  }
  on.addEventListener("click", subscribe);
  off.addEventListener("click", unsubscribe);
  navigator.serviceWorker.ready.then(function (registration) {
    return registration.pushManager.getSubscription();
  }).then(function (subscription) { show(!!subscription); }, function () { show(false); });
})();
