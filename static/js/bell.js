// The notification bell: the unread badge, the latest notifications when opened, "mark all read".
//
// One tab of the browser polls for all of them (the tab holding the Web Lock "stockbell-bell";
// when it closes, the next waiting tab takes it over), every 30 s while it is visible and every
// 5 minutes while it is hidden; it sends the last ETag, so an unchanged count is a bodiless 304.
// Every tab hears each answer on the BroadcastChannel "stockbell-bell" as {type: "count", count,
// etag}. A {type: "refresh"} message on that channel (what the service worker posts on a push)
// makes the polling tab ask at once, and so refreshes every tab's bell. A page the user opens or
// comes back to takes over the polling (and asks at once when coming back), and so does a tab
// still in sight when the polling one is hidden. Without Web Locks (a page not served over https)
// every tab is a candidate: whichever tab's timer fires first polls, and the others, hearing its
// answer, wait a whole interval again. No server push through waitress: a push reaches the
// service worker, which posts the refresh.
(function () {
  "use strict";
  var VISIBLE_MS = 30000;
  var HIDDEN_MS = 300000;
  var FRESH_MS = 2000; // a tab shown again asks at once unless an answer came this recently
  var NAME = "stockbell-bell";
  var bell = document.getElementById("bell");
  if (!bell) return;
  var button = document.getElementById("bell-button");
  var badge = document.getElementById("bell-badge");
  var menu = document.getElementById("bell-menu");
  var list = document.getElementById("bell-list");
  var readAll = document.getElementById("bell-read-all");
  var api = bell.getAttribute("data-api");
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(NAME) : null;
  var locks = channel && navigator.locks ? navigator.locks : null;
  var leading = !locks; // without locks every tab is a candidate
  var jitter = locks ? 0 : 0.1; // candidates' timers drift apart, so one of them fires first
  var timer = null;
  var line = null; // this tab's one request for the lock, waiting or held
  var etag = null; // of the last answer, and the count it tagged
  var etagCount = 0;
  var heardAt = 0;

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

  function heard(count, tag) {
    showCount(count);
    etag = tag;
    etagCount = count;
    heardAt = Date.now();
  }

  function tell(count) {
    if (channel) channel.postMessage({ type: "count", count: count, etag: etag });
  }

  function refreshCount() {
    var headers = { "Accept": "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    return fetch(api + "/unread-count", { credentials: "same-origin", cache: "no-store", headers: headers })
      .then(function (r) {
        if (r.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (r.status === 304) return { count: etagCount, etag: etag };
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json().then(function (d) { return { count: d.count, etag: r.headers.get("ETag") }; });
      })
      .then(function (answer) {
        heard(answer.count, answer.etag);
        tell(answer.count);
      })
      .catch(function () {});
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
      if (item.suggestion) li.appendChild(transferOffer(item));
      if (canSnooze && item.product_id) li.appendChild(snoozeControls(item));
      list.appendChild(li);
    });
  }

  // Transfer before you buy: "Downtown can spare 35", and when this reader may move it, the
  // transfer form filled in with the quantity that brings this place back above its threshold.
  function transferOffer(item) {
    var box = document.createElement("div");
    box.className = "bell-transfer";
    var from = item.suggestion.from_location.name;
    var note = document.createElement("span");
    note.textContent = from + " can spare " + item.suggestion.spare; // textContent: names are never HTML
    box.appendChild(note);
    var t = item.transfer;
    if (t) {
      var go = document.createElement("a");
      go.className = "transfer-link";
      go.href = "/retail/transfers?" + new URLSearchParams({
        product_id: t.product_id, from_location_id: t.from_location_id, to_location_id: t.to_location_id,
        quantity: t.quantity
      }).toString();
      go.textContent = "Transfer " + t.quantity + " from " + from;
      box.appendChild(document.createTextNode(" "));
      box.appendChild(go);
    }
    return box;
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
      heard(0, null);
      tell(0);
      Array.prototype.forEach.call(document.querySelectorAll(".unread"), function (el) { el.classList.remove("unread"); });
    }).catch(function () {});
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (!leading) return;
    var wait = document.visibilityState === "visible" ? VISIBLE_MS : HIDDEN_MS;
    timer = setTimeout(tick, wait * (1 + jitter * Math.random()));
  }

  function tick() {
    schedule(); // the next poll is due an interval from now, whenever this answer comes
    refreshCount();
  }

  function lead(steal) {
    if (leading || (line && (line.steal || !steal))) return; // holding, or already asking
    if (line) line.controller.abort(); // waiting in line, but the user is here: take it now
    var mine = { steal: steal, controller: new AbortController() };
    line = mine;
    locks.request(NAME, steal ? { steal: true } : { signal: mine.controller.signal }, function () {
      if (line !== mine) return;
      leading = true;
      schedule();
      return new Promise(function () {}); // held until the tab closes, or another tab steals it
    }).catch(function (error) {
      if (line !== mine) return; // given up for a newer request of this tab
      line = null;
      leading = false;
      if (error && error.name === "AbortError") { // stolen: wait in line again
        schedule();
        lead(false);
      } else { // locks refused here: a candidate, as without them
        locks = null;
        leading = true;
        jitter = 0.1;
        schedule();
      }
    });
  }

  function comeBack() {
    if (document.visibilityState !== "visible") {
      schedule();
      // A tab the user still sees (another window) polls at the visible pace in its stead.
      if (leading && locks) channel.postMessage({ type: "hidden" });
      return;
    }
    if (Date.now() - heardAt > FRESH_MS) refreshCount();
    if (locks && !leading) lead(true); else schedule();
  }

  if (channel) {
    channel.addEventListener("message", function (e) {
      var message = e.data || {};
      if (message.type === "count") {
        heard(message.count, message.etag);
        schedule(); // someone just asked: the leader waits a whole interval again
      } else if (message.type === "hidden") {
        if (locks && !leading && document.visibilityState === "visible") lead(true);
      } else if (message.type === "refresh") {
        if (!menu.hidden) loadList();
        if (locks) {
          if (leading) refreshCount();
        } else { // candidates: the first to ask answers for all
          var before = heardAt;
          setTimeout(function () { if (heardAt === before) refreshCount(); }, Math.random() * 300);
        }
      }
    });
  }

  button.addEventListener("click", function (e) { e.stopPropagation(); toggle(menu.hidden); });
  readAll.addEventListener("click", function (e) { e.stopPropagation(); markAllRead(); });
  menu.addEventListener("click", function (e) { e.stopPropagation(); });
  document.addEventListener("click", function () { if (!menu.hidden) toggle(false); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && !menu.hidden) toggle(false); });
  document.addEventListener("visibilitychange", comeBack);
  window.addEventListener("focus", comeBack);
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
  if (locks) lead(document.visibilityState === "visible"); else schedule(); // the page in sight polls
})();
