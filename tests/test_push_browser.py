"""The installable back office in a real browser (Debian's chromium through Playwright, the app
served by waitress), on SQLite and PostgreSQL: the service worker registers at scope /, and the
push an alert sends (decrypted by the local push service) delivered through the DevTools protocol
shows a system notification and tells the open tab to refresh its bell; "Notify this device".
Headless chromium has no push service: its PushManager.subscribe() fails ("Registration failed -
permission denied") even with the permission granted, so one test stands a double in for the
browser's PushManager and another checks that the real failure is told to the user.
On failure every open page is saved to test-artifacts/."""
import json
import re
import time

import pytest
from sqlalchemy import func, select

pytest.register_assert_rewrite("tests.support.browser")

from tests.support.browser import (  # noqa: E402
    LiveServer,
    expect,
    failed,
    save_artifacts,
    watch_console,
)

from modules.delivery.models import Recipient  # noqa: E402
from modules.extensions import db  # noqa: E402
from tests.support.deliveries import PUSH_SUBJECT, dispatcher, make_low  # noqa: E402
from tests.support.push_double import unb64url  # noqa: E402

SUBJECT = PUSH_SUBJECT

# Records what reaches the page: the service worker's message, the BroadcastChannel the bell
# listens on, and push.js's "stockbell:refresh" event.
LISTEN = """() => {
  window.__heard = [];
  navigator.serviceWorker.addEventListener("message", e => window.__heard.push("client:" + e.data.type));
  new BroadcastChannel("stockbell-bell").onmessage = e => window.__heard.push("broadcast:" + e.data.type);
  document.addEventListener("stockbell:refresh", () => window.__heard.push("event:refresh"));
}"""
NOTIFICATIONS = """() => navigator.serviceWorker.ready
  .then(r => r.getNotifications())
  .then(list => list.map(n => ({title: n.title, body: n.body, url: n.data && n.data.url, tag: n.tag})))"""


@pytest.fixture
def app_config():
    return {"WEBHOOK_ALLOW_PRIVATE": True, "VAPID_SUBJECT": SUBJECT, "DELIVERY_COALESCE_SECONDS": 0}


@pytest.fixture
def live_server(browser, app):
    server = LiveServer(app)
    app.config["PUBLIC_URL"] = server.url  # links in pushes point at this server
    server.start()
    yield server
    server.stop()


@pytest.fixture
def signed_in(browser, live_server, shop, request):
    """A page of the shop's owner, signed in, in a context allowed to show notifications."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.grant_permissions(["notifications"], origin=live_server.url)
    page = context.new_page()
    console = watch_console(page)
    page.goto("/login")
    page.get_by_label("Email").fill(shop.email)
    page.get_by_label("Password").fill(shop.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    yield page
    if failed(request.node):
        save_artifacts(request.node, [(page, console)], request.config.rootpath / "test-artifacts")
    context.close()


def notifications_shown(page, timeout=10):
    """The service worker's notifications, once it has shown any (showNotification is async)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = page.evaluate(NOTIFICATIONS)
        if shown or time.monotonic() > deadline:
            return shown
        page.wait_for_timeout(50)


def deliver_push(page, origin, data, attempts=3):
    """Hand `data` to the page's service worker as a push service would (DevTools'
    ServiceWorker.deliverPushMessage), until it has shown a notification: a push delivered while
    Chromium is still reporting the registration is sometimes dropped, so it is given again (the
    notification's tag is the same: still one). Returns the notifications shown."""
    scope = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
    for _ in range(attempts):
        cdp = page.context.new_cdp_session(page)
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": origin, "data": json.dumps(data),
                                                       "registrationId": registration_id(cdp, page, scope)})
        shown = notifications_shown(page, timeout=4)
        cdp.detach()
        if shown:
            return shown
    return []


def registration_id(cdp, page, scope):
    """The service worker registration of `scope`, as the DevTools protocol names it."""
    found = {}
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: found.update({r["scopeURL"]: r["registrationId"] for r in event["registrations"]
                                       if not r.get("isDeleted")}))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while scope not in found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert scope in found, found
    return found[scope]


def test_an_alerts_push_shows_a_notification_and_refreshes_the_open_tab(app, shop, push_service, signed_in,
                                                                       live_server):
    page = signed_in
    scope = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == live_server.url + "/"
    page.evaluate(LISTEN)
    assert page.evaluate(NOTIFICATIONS) == []
    # The app sends the alert's push to the local push service, which decrypts it...
    assert shop.post("/api/me/push-subscriptions", json=push_service.subscription()).status_code == 201
    product = make_low(shop, "Oat Milk", stock=10, delta=-10)["product"]
    assert dispatcher(app).run_once()["sent"] == 1
    [push] = push_service.received()
    assert push.error is None and push.payload["kind"] == "out"
    # ...and hands it to the browser, as a push service would.
    [shown] = deliver_push(page, live_server.url, push.payload)
    # (the bell's own tabs talk on that channel too: its counts are not what this test is about)
    page.wait_for_function("() => window.__heard.filter(h => h.endsWith(':refresh')).length >= 3")
    heard = [h for h in page.evaluate("() => window.__heard") if h.endswith(":refresh")]
    assert sorted(set(heard)) == ["broadcast:refresh", "client:refresh", "event:refresh"]
    assert shown == {"title": "Out of stock: Oat Milk at Corner Shop", "body": push.payload["body"],
                     "tag": f"stockbell-{push.payload['notification_id']}",
                     "url": f"{live_server.url}/retail/products/{product['id']}/edit"}


def test_a_push_opens_only_this_apps_own_pages(signed_in, live_server):
    page = signed_in
    [shown] = deliver_push(page, live_server.url, {
        "title": "Stock", "body": "Low", "url": "https://evil.example/retail/products?stock=low",
        "kind": "low", "level": "low", "notification_id": None})
    assert (shown["url"], shown["tag"]) == (live_server.url + "/retail/products?stock=low", "stockbell-low")


# PushManager as a browser with a push service gives it: the subscription the local push service made.
FAKE_PUSH_MANAGER = """(subscription) => {
  let current = null;
  PushManager.prototype.subscribe = function (options) {
    window.__applicationServerKey = Array.from(new Uint8Array(options.applicationServerKey));
    current = {endpoint: subscription.endpoint, toJSON: () => subscription,
               unsubscribe: () => { current = null; return Promise.resolve(true); }};
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
}"""


def test_notify_this_device_subscribes_and_stop_removes_it(shop, push_service, signed_in):
    page = signed_in
    page.add_init_script(f"({FAKE_PUSH_MANAGER})({json.dumps(push_service.subscription())})")
    page.goto("/settings/preferences")
    status = page.locator("#push-status")
    expect(status).to_have_text("This device is not notified.")
    page.get_by_role("button", name="Notify this device").click()
    expect(status).to_have_text("This device is notified of your alerts.")
    [item] = shop.get("/api/me/push-subscriptions").get_json()["items"]
    assert item["endpoint_host"] == "127.0.0.1"
    key = shop.get("/api/push/key").get_json()["public_key"]
    assert bytes(page.evaluate("() => window.__applicationServerKey")) == unb64url(key)
    page.get_by_role("button", name="Stop notifying this device").click()
    expect(status).to_have_text("This device is not notified.")
    expect(page.get_by_role("button", name="Notify this device")).to_be_visible()
    assert shop.get("/api/me/push-subscriptions").get_json()["items"] == []


def test_without_a_push_service_the_page_says_so_and_saves_nothing(signed_in):
    page = signed_in
    page.goto("/settings/preferences")
    expect(page.get_by_role("button", name="Stop notifying this device")).to_be_hidden()
    page.get_by_role("button", name="Notify this device").click()
    expect(page.locator("#push-status")).to_have_text(re.compile(r"^This device could not be subscribed: .+"))
    expect(page.get_by_role("button", name="Notify this device")).to_be_enabled()
    assert db.session.execute(select(func.count()).select_from(Recipient)).scalar() == 0


def test_a_push_updates_the_bell_of_every_open_tab_at_once(app, shop, push_service, signed_in, live_server):
    """Three tabs of one browser, none due to poll for 30 s: the push's refresh reaches all three."""
    first = signed_in
    tabs = [first] + [first.context.new_page() for _ in range(2)]
    for tab in tabs[1:]:
        tab.goto("/")
    for tab in tabs:
        expect(tab.locator("#bell-badge")).to_be_hidden()  # nothing unread yet
    assert shop.post("/api/me/push-subscriptions", json=push_service.subscription()).status_code == 201
    make_low(shop, "Oat Milk", stock=10, delta=-10)
    assert dispatcher(app).run_once()["sent"] == 1
    [push] = push_service.received()
    assert deliver_push(first, live_server.url, push.payload)
    for tab in tabs:
        expect(tab.locator("#bell-badge")).to_have_text("1", timeout=5_000)
