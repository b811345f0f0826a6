// The notification bell: polls the unread count every 30 s while the tab is visible, at once when
// the tab regains focus, and lists the latest notifications when opened. No server push: waitress
// has few threads, and a poll of an indexed count is cheap.
(function () {
  "use strict";
  var POLL_MS = 30000;
  var bell = document.getElementById("bell");
  if (!bell) return;
  var button = document.getElementById("bell-button");
  var badge = document.getElementById("bell-badge");
  var menu = document.getElementById("bell-menu");
  var list = document.getElementById("bell-list");
  var readAll = document.getElementById("bell-read-all");
  var api = bell.getAttribute("data-api");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var timer = null;

  var canSnooze = bell.getAttribute("data-can-snooze") === "1";
  var LEVELS = { out: "Out", low: "Low", warning: "Soon", ok: "Back" };
  var SNOOZES = [["Snooze 1 day", { days: 1 }], ["1 week", { days: 7 }], ["Mute", { forever: true }]];

  function request(method, url, body) {
    var init = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      init.headers["X-CSRFToken"] = csrf;
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body || {});
    }
    return fetch(url, init).then(function (r) {
      if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function showCount(count) {
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    bell.setAttribute("data-unread", String(count));
  }

  function refreshCount() {
    return request("GET", api + "/unread-count").then(function (d) { showCount(d.count); }).catch(function () {});
  }

  function timeAgo(iso) {
    var seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    // Older than a day: the date in the shop's time zone, as the pages show it.
    return new Date(iso).toLocaleDateString(undefined, { timeZone: bell.getAttribute("data-timezone") || "UTC" });
  }

  function open(item) {
    var go = function () { window.location.href = item.action_url || "/notifications"; };
    if (item.is_read) { go(); return; }
    request("POST", api + "/" + item.id + "/read").then(go, go);
  }

  function render(items) {
    list.textContent = "";
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "muted";
      empty.textContent = "Nothing yet: you will see low-stock alerts here.";
      list.appendChild(empty);
      return;
    }
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.className = "bell-item level-" + item.level + (item.is_read ? "" : " unread");
      li.setAttribute("data-id", item.id);
      var link = document.createElement("a");
      link.href = item.action_url || "/notifications";
      var level = document.createElement("span");
      level.className = "badge badge-" + item.level;
      level.textContent = item.badge || LEVELS[item.level] || item.level;
      var text = document.createElement("span");
      text.className = "bell-text";
      text.textContent = item.message; // textContent: product names are never parsed as HTML
      var when = document.createElement("time");
      when.dateTime = item.created_at;
      when.textContent = timeAgo(item.created_at);
      when.title = shopTime(item.created_at);
      link.appendChild(level);
      link.appendChild(text);
      link.appendChild(when);
      link.addEventListener("click", function (e) { e.preventDefault(); open(item); });
      li.appendChild(link);
      if (canSnooze && item.product_id) li.appendChild(snoozeControls(item));
      list.appendChild(li);
    });
  }

  function shopTime(iso) {  // in the shop's time zone, like the pages, not the browser's
    var zone = bell.getAttribute("data-timezone") || "UTC";
    return new Date(iso).toLocaleString(undefined, { timeZone: zone, dateStyle: "medium", timeStyle: "short" }) +
      " (" + zone + ")";
  }

  function snoozeControls(item) {
    var box = document.createElement("div");
    box.className = "snooze bell-snooze";
    SNOOZES.forEach(function (choice) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "link";
      b.textContent = choice[0];
      b.addEventListener("click", function (e) {
        e.stopPropagation();
        request("POST", "/api/products/" + item.product_id + "/snooze", choice[1]).then(function (p) {
          box.textContent = p.muted ? "Muted" : "Snoozed until " + shopTime(p.snoozed_until);
        }, function () { box.textContent = "Could not snooze; try again."; });
      });
      box.appendChild(b);
    });
    return box;
  }

  function loadList() {
    return request("GET", api + "?limit=10").then(function (d) {
      render(d.items);
      showCount(d.unread_count);
    }).catch(function () {});
  }

  function toggle(show) {
    menu.hidden = !show;
    button.setAttribute("aria-expanded", String(show));
    if (show) loadList();
  }

  function markAllRead() {
    return request("POST", api + "/read-all").then(function () {
      showCount(0);
      Array.prototype.forEach.call(document.querySelectorAll(".unread"), function (el) { el.classList.remove("unread"); });
    }).catch(function () {});
  }

  function schedule() {
    clearInterval(timer);
    timer = null;
    if (document.visibilityState === "visible") timer = setInterval(refreshCount, POLL_MS);
  }

  button.addEventListener("click", function (e) { e.stopPropagation(); toggle(menu.hidden); });
  readAll.addEventListener("click", function (e) { e.stopPropagation(); markAllRead(); });
  menu.addEventListener("click", function (e) { e.stopPropagation(); });
  document.addEventListener("click", function () { if (!menu.hidden) toggle(false); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !menu.hidden) toggle(false); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refreshCount();
    schedule();
  });
  window.addEventListener("focus", refreshCount);
  Array.prototype.forEach.call(document.querySelectorAll("[data-bell-read-all]"), function (el) {
    el.addEventListener("click", markAllRead);
  });
  Array.prototype.forEach.call(document.querySelectorAll("a[data-notification-id]"), function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      open({ id: a.getAttribute("data-notification-id"), action_url: a.getAttribute("href"),
             is_read: !a.parentNode.classList.contains("unread") });
    });
  });
  window.stockbellBell = { refresh: refreshCount };
  schedule();
})();
