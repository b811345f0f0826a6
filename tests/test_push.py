"""Web Push, as API.md's "Push and priority" promises it: each device of a person is a subscription
(their own: another's id is a 404), an alert reaches a local push service that verifies the VAPID
JWT and decrypts the payload, `Urgency` follows the kind's priority, a 404/410 removes the
subscription, a 429's Retry-After is honoured, the person's kinds apply; and the app installs
(manifest, service worker at /sw.js). On SQLite and PostgreSQL."""
import base64
import json
import os
import struct
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from modules.config import load_config
from modules.delivery import messages
from modules.delivery.channels.push import MAX_PAYLOAD_BYTES, payload, urgency
from modules.delivery.models import Recipient
from modules.extensions import db
from modules.notifications.models import Notification
from modules.timeutil import utcnow
from tests.support.deliveries import PUSH_SUBJECT, delivery_config, delivery_rows, dispatcher, make_low
from tests.support.push_double import unb64url

SUBJECT = PUSH_SUBJECT
ROOT = Path(__file__).resolve().parent.parent
KEY = ec.generate_private_key(ec.SECP256R1())  # this module's VAPID key, given as config
KEY_PEM = KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
KEY_POINT = KEY.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@pytest.fixture
def app_config(smtp_server, twilio, push_service):
    # A backoff of 1 s: only the push service's asked wait can hold a retry back for longer.
    return delivery_config(smtp_server, twilio, WEBHOOK_ALLOW_PRIVATE=True, VAPID_PRIVATE_KEY=KEY_PEM,
                           VAPID_SUBJECT=SUBJECT, DELIVERY_BACKOFF_SECONDS=1, PUSH_TIMEOUT=5)


def subscribe(person, push_service):
    subscription = push_service.subscription()
    answer = person.post("/api/me/push-subscriptions", json=subscription)
    assert answer.status_code == 201, answer.get_json()
    return subscription, answer.get_json()["id"]


def sell_to(shop, name, stock_after):
    return make_low(shop, name, stock=10, delta=stock_after - 10)


def push_rows():
    return db.session.execute(select(func.count()).select_from(Recipient).where(Recipient.channel == "push")).scalar()


# --- the key and the subscriptions --------------------------------------------------------------

def test_the_key_is_the_uncompressed_p256_point_of_the_servers_vapid_key(client, shop):
    assert client.get("/api/push/key").status_code == 401
    key = shop.get("/api/push/key").get_json()["public_key"]
    assert "=" not in key and unb64url(key) == KEY_POINT and KEY_POINT[0] == 4 and len(KEY_POINT) == 65


def test_an_unreadable_key_is_said_and_holds_the_pushes_back(app, shop, push_service):
    subscribe(shop, push_service)
    app.config["VAPID_PRIVATE_KEY"] = "not a key"
    answer = shop.get("/api/push/key")
    assert answer.status_code == 503 and "VAPID key cannot be read" in answer.get_json()["error"]
    sell_to(shop, "Oat Milk", 0)
    assert dispatcher(app).run_once()["failed"] == 1  # kept for when the key is mended
    assert push_service.received() == []
    assert "VAPID key cannot be read" in delivery_rows(channel="push")[0].last_error


def test_a_device_subscribes_once_lists_and_stops(shop, push_service):
    subscription, sub_id = subscribe(shop, push_service)
    again = shop.post("/api/me/push-subscriptions", json=subscription)
    assert again.status_code == 200 and again.get_json() == {"id": sub_id}
    [item] = shop.get("/api/me/push-subscriptions").get_json()["items"]
    assert item["id"] == sub_id and item["endpoint_host"] == "127.0.0.1" and item["created_at"].endswith("+00:00")
    row = db.session.get(Recipient, sub_id)
    assert (row.user_id, row.mode, row.enabled) == (shop.user["id"], "instant", True)
    assert json.loads(row.address)["endpoint"] == subscription["endpoint"]
    assert shop.delete(f"/api/me/push-subscriptions/{sub_id}").status_code == 204
    assert shop.get("/api/me/push-subscriptions").get_json()["items"] == []
    assert shop.delete(f"/api/me/push-subscriptions/{sub_id}").status_code == 404
    audit = [(e["action"], e["changes"]) for e in shop.get("/api/audit").get_json()["items"]]
    assert audit[:2] == [("push_subscription.delete", {"device": ["127.0.0.1", None]}),
                         ("push_subscription.add", {"device": [None, "127.0.0.1"]})]


def test_another_persons_subscription_is_a_404(shop, other_shop, push_service):
    _, sub_id = subscribe(shop, push_service)
    staff = shop.add_user("staff@cornershop.example")
    for someone in (staff, other_shop):
        assert someone.get("/api/me/push-subscriptions").get_json()["items"] == []
        assert someone.delete(f"/api/me/push-subscriptions/{sub_id}").status_code == 404
    assert db.session.get(Recipient, sub_id) is not None


def _bad_bodies(push_service):
    good = push_service.subscription()
    keys = good["keys"]
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).rstrip(b"=").decode()
    return {
        "no keys": {"endpoint": good["endpoint"]},
        "no endpoint": {"keys": keys},
        "endpoint not a URL": {**good, "endpoint": "push service"},
        "endpoint a number": {**good, "endpoint": 42},
        "ftp endpoint": {**good, "endpoint": "ftp://127.0.0.1/push/x"},
        "p256dh not base64url": {**good, "keys": {**keys, "p256dh": "not base64!"}},
        "p256dh off the curve": {**good, "keys": {**keys, "p256dh": off_curve}},
        "auth too short": {**good, "keys": {**keys, "auth": "AAAA"}},
        "extra key": {**good, "keys": {**keys, "extra": "x"}},
        "unknown field": {**good, "device": "phone"},
        "expirationTime text": {**good, "expirationTime": "soon"},
        "too long": {**good, "endpoint": good["endpoint"] + "/" + "a" * 400},
    }


def test_bad_subscriptions_are_refused_and_nothing_is_written(app, shop, push_service):
    for what, body in _bad_bodies(push_service).items():
        answer = shop.post("/api/me/push-subscriptions", json=body)
        assert answer.status_code == 400, what
        assert answer.get_json()["details"], what
    assert shop.post("/api/me/push-subscriptions", data="x", headers={"Content-Type": "text/plain"}).status_code == 415
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False  # then only https, and never this host's own network
    answer = shop.post("/api/me/push-subscriptions", json=push_service.subscription())
    assert answer.status_code == 400 and "endpoint" in answer.get_json()["details"]
    assert push_rows() == 0


# --- sending ------------------------------------------------------------------------------------

def test_an_empty_shelf_reaches_the_phone_verified_decrypted_and_urgent(app, shop, push_service):
    subscription, _ = subscribe(shop, push_service)
    product = sell_to(shop, "Oat Milk", 0)["product"]
    assert dispatcher(app).run_once()["sent"] == 1
    [push] = push_service.received(subscription)
    assert push.error is None and push.vapid_key == shop.get("/api/push/key").get_json()["public_key"]
    assert push.claims["sub"] == SUBJECT and push.claims["aud"] == push_service.url
    assert push.headers["Urgency"] == "high" and push.headers["TTL"] == "86400"
    bell_id = db.session.execute(select(Notification.id).where(Notification.user_id == shop.user["id"])).scalar_one()
    assert push.payload == {
        "title": "Out of stock: Oat Milk at Corner Shop", "body": push.payload["body"],
        "url": f"http://stockbell.test/retail/products/{product['id']}/edit", "kind": "out", "level": "out",
        "notification_id": bell_id}
    assert "Oat Milk" in push.payload["body"] and "out of stock" in push.payload["body"].lower()


def test_a_low_shelf_is_normal_urgency(app, shop, push_service):
    subscription, _ = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 2)
    assert dispatcher(app).run_once()["sent"] == 1
    [push] = push_service.received(subscription)
    assert push.error is None and push.headers["Urgency"] == "normal"
    assert (push.payload["kind"], push.payload["level"]) == ("low", "low")


def test_each_device_of_a_person_hears_it(app, shop, push_service):
    phone, _ = subscribe(shop, push_service)
    laptop, _ = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 0)
    assert dispatcher(app).run_once()["sent"] == 2
    assert len(push_service.received(phone)) == 1 and len(push_service.received(laptop)) == 1


def test_a_gone_subscription_is_removed(app, shop, push_service):
    push_service.answers = [(410, {})]
    subscription, sub_id = subscribe(shop, push_service)
    kept, kept_id = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 0)
    outcome = dispatcher(app).run_once()
    assert (outcome["dead"], outcome["sent"]) == (1, 1)
    assert [i["id"] for i in shop.get("/api/me/push-subscriptions").get_json()["items"]] == [kept_id]
    assert db.session.get(Recipient, sub_id) is None
    sell_to(shop, "Rice", 0)
    assert dispatcher(app).run_once()["sent"] == 1
    assert len(push_service.received(subscription)) == 1 and len(push_service.received(kept)) == 2


def test_a_device_that_stops_being_notified_hears_nothing_that_was_waiting(app, shop, push_service):
    """Stop notifying this device: a low alert still gathering company is not pushed to it later."""
    app.config["DELIVERY_COALESCE_SECONDS"] = 60
    subscription, sub_id = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 2)  # low: waits up to 60 s for others
    assert shop.delete(f"/api/me/push-subscriptions/{sub_id}").status_code == 204
    outcome = dispatcher(app).run_once(now=utcnow() + timedelta(seconds=61))
    assert (outcome["claimed"], outcome.get("sent", 0), outcome.get("dead", 0)) == (1, 0, 1)
    assert push_service.received(subscription) == []
    [row] = delivery_rows(channel="push")
    assert row.status == "dead" and "no longer" in row.last_error


def test_a_429_with_retry_after_6_is_not_retried_within_5_seconds(app, shop, push_service):
    push_service.answers = [(429, {"Retry-After": "6"})]
    subscription, sub_id = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 0)
    start = utcnow()
    assert dispatcher(app).run_once(now=start)["failed"] == 1
    [row] = delivery_rows(channel="push")
    assert row.next_attempt_at >= start + timedelta(seconds=6)
    assert dispatcher(app).run_once(now=start + timedelta(seconds=5))["claimed"] == 0
    assert dispatcher(app).run_once(now=start + timedelta(seconds=7))["sent"] == 1
    assert len(push_service.received(subscription)) == 2 and db.session.get(Recipient, sub_id) is not None


def test_a_server_error_is_retried_and_a_bad_request_is_not(app, shop, push_service):
    push_service.answers = [(500, {}), (400, {})]
    subscribe(shop, push_service)
    subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 0)
    outcome = dispatcher(app).run_once()
    assert (outcome["failed"], outcome["dead"]) == (1, 1)
    assert push_rows() == 2  # only a 404 or 410 removes a subscription


def test_a_push_service_that_hangs_is_given_up_at_the_timeout_and_retried(app, shop, push_service):
    app.config["PUSH_TIMEOUT"] = 0.5
    push_service.answers = [(201, {}, 3)]
    subscription, _ = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 0)
    start = utcnow()
    assert dispatcher(app).run_once(now=start)["failed"] == 1
    [row] = delivery_rows(channel="push")
    assert "could not be reached (ReadTimeout)" in row.last_error
    assert dispatcher(app).run_once(now=start + timedelta(seconds=2))["sent"] == 1
    assert len(push_service.received(subscription)) == 2


def test_a_person_whose_kinds_exclude_low_hears_no_push_for_low(app, shop, push_service):
    subscription, _ = subscribe(shop, push_service)
    assert shop.patch("/api/me/preferences", json={"kinds": ["out"]}).status_code == 200
    sell_to(shop, "Oat Milk", 2)
    assert dispatcher(app).run_once()["claimed"] == 0
    sell_to(shop, "Rice", 0)
    assert dispatcher(app).run_once()["sent"] == 1
    [push] = push_service.received(subscription)
    assert push.payload["kind"] == "out"


def test_the_payload_stays_within_3000_bytes_cutting_the_body():
    items = tuple(messages.AlertItem(f"Product {n} " + "\u00e9" * 80, "Dairy", 0, 5, "out", product_id=n)
                  for n in range(60))
    notice = messages.Notice("alerts", 1, "Corner Shop", items, created_at="2026-01-01T00:00:00+00:00")
    data = payload(notice, "https://shop.example")
    decoded = json.loads(data)
    assert MAX_PAYLOAD_BYTES - 100 < len(data) <= MAX_PAYLOAD_BYTES  # cut, not emptied
    assert decoded["body"].endswith("\u2026") and decoded["body"].startswith("Out of Stock: Product 0 ")
    assert (decoded["kind"], decoded["url"]) == ("out", "https://shop.example/retail/products?stock=out")
    low = messages.AlertItem("Rice", None, 2, 5, "low", product_id=1)
    assert urgency(messages.Notice("alerts", 1, "Corner Shop", (low,))) == "normal"
    assert urgency(messages.Notice("alerts", 1, "Corner Shop", (low, items[0]))) == "high"  # a burst with an empty shelf


def test_the_deliveries_show_the_push_service_not_the_keys(app, shop, push_service):
    subscription, _ = subscribe(shop, push_service)
    sell_to(shop, "Oat Milk", 0)
    dispatcher(app).run_once()
    page = shop.get("/notifications/deliveries").get_data(as_text=True)
    [item] = shop.get("/api/notifications/deliveries").get_json()["items"]
    for shown in (page, item["recipient"]):
        assert "127.0.0.1" in shown and subscription["keys"]["auth"] not in shown


def test_push_is_on_no_shop_list_and_no_preferences_form(shop, push_service):
    subscribe(shop, push_service)
    settings = shop.get("/api/notifications/settings").get_json()
    assert not [k for k in settings if k.startswith("push")] and "push" not in settings["channels"]
    assert "push" not in shop.get("/api/me/preferences").get_json()


# --- the VAPID key on disk ----------------------------------------------------------------------

def test_without_a_configured_key_one_is_generated_once_into_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("VAPID_PRIVATE_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY", "x")
    first = load_config(tmp_path / "instance")["VAPID_PRIVATE_KEY"]
    path = tmp_path / "instance" / "vapid_private_key.pem"
    assert path.stat().st_mode & 0o777 == 0o600 and first.startswith("-----BEGIN PRIVATE KEY-----")
    assert load_config(tmp_path / "instance")["VAPID_PRIVATE_KEY"] == first
    monkeypatch.setenv("VAPID_PRIVATE_KEY", KEY_PEM)
    assert load_config(tmp_path / "instance")["VAPID_PRIVATE_KEY"] == KEY_PEM
    assert [p.name for p in (tmp_path / "instance").iterdir() if p.name.startswith(".")] == []


# --- the installable app ------------------------------------------------------------------------

def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_manifest_names_the_app_and_its_icons(client, shop):
    answer = client.get("/manifest.webmanifest")
    assert answer.status_code == 200 and answer.mimetype == "application/manifest+json"
    manifest = json.loads(answer.data)
    assert (manifest["name"], manifest["short_name"], manifest["start_url"], manifest["display"]) == \
        ("Stockbell", "Stockbell", "/", "standalone")
    sizes = {}
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200
        sizes[icon["sizes"]] = png_size(ROOT / icon["src"].lstrip("/"))
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512)}
    assert 'rel="manifest" href="/manifest.webmanifest"' in shop.get("/").get_data(as_text=True)


def test_the_service_worker_is_served_from_the_root_for_scope_slash(client):
    answer = client.get("/sw.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert answer.headers["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in answer.data and os.path.getsize(ROOT / "static/js/sw.js") == len(answer.data)
