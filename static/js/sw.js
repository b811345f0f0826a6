// The service worker (served at /sw.js, scope /): shows each Web Push as a system notification,
// tells open tabs to refresh the bell, sets the app badge where supported, and opens the push's
// page on click. The payload is {title, body, url, kind, level, notification_id} (API.md).
"use strict";

var BELL_CHANNEL = "stockbell-bell";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

// Only this app's own pages are opened: the path of the push's url, on this origin.
function ownUrl(url) {
  try {
    var parsed = new URL(url || "/", self.location.origin);
    return self.location.origin + parsed.pathname + parsed.search + parsed.hash;
  } catch (e) {
    return self.location.origin + "/";
  }
}

function refreshTabs() {
  var message = { type: "refresh" };
  if (typeof BroadcastChannel !== "undefined") {
    var channel = new BroadcastChannel(BELL_CHANNEL);
    channel.postMessage(message);
    channel.close();
  }
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (tabs) {
    tabs.forEach(function (tab) { tab.postMessage(message); });
  });
}

function setBadge() {
  var nav = self.navigator;
  if (!nav || !nav.setAppBadge) return Promise.resolve();
  var init = { credentials: "same-origin", headers: { "Accept": "application/json" } };
  return fetch("/api/notifications/unread-count", init)
    .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then(function (d) { return d.count > 0 ? nav.setAppBadge(d.count) : nav.clearAppBadge(); })
    .catch(function () { return nav.setAppBadge(); });  // signed out or offline: a plain dot
}

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  var url = ownUrl(data.url);
  var shown = self.registration.showNotification(data.title || "Stockbell", {
    body: data.body || "",
    data: { url: url },
    tag: data.notification_id ? "stockbell-" + data.notification_id : "stockbell-" + (data.kind || "alert"),
    icon: "/static/icons/icon-192.png",
    renotify: true
  });
  event.waitUntil(Promise.all([shown, refreshTabs(), setBadge()]));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = ownUrl(event.notification.data && event.notification.data.url);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (tabs) {
    for (var i = 0; i < tabs.length; i++) {
      if (tabs[i].url === url && "focus" in tabs[i]) return tabs[i].focus();
    }
    return self.clients.openWindow(url);
  }));
});
