"""A location's recipient lists and the daily digest (issue 19): they follow the shop's delivery
mode as the shop's own lists do, so in a digest shop each location's lists get one message a day
listing that location's alerts only (one line per product there), never another place's, and an
address on several lists gets one message. Real SMTP server, both databases."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from modules import create_app
from modules.delivery.digest import heard_by_address
from modules.delivery.messages import AlertItem
from modules.delivery.recipients import Target
from modules.extensions import db
from modules.timeutil import utcnow
from tests.support.app import base_config
from tests.support.deliveries import configure, deliveries, delivery_config, dispatcher

TZ = "Asia/Tokyo"
OWNER = "owner@cornershop.example"
UPTOWN = "uptown@cornershop.example"
DOWNTOWN = "downtown@cornershop.example"
ROOM = "room@cornershop.example"


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


def next_digest_at():
    """A digest time two hours from now, shop-local, and the UTC instant it falls on."""
    local = (datetime.now(timezone.utc) + timedelta(hours=2)).astimezone(ZoneInfo(TZ)).replace(second=0, microsecond=0)
    return local.strftime("%H:%M"), local.astimezone(timezone.utc).replace(tzinfo=None)


def place(shop, name, kind="store"):
    response = shop.post("/api/locations", json={"name": name, "kind": kind})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def change(shop, product, location, delta, reason="sale"):
    response = shop.post(f"/api/products/{product['id']}/stock",
                         json={"reason": reason, "delta": delta, "location_id": location["id"]})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def listen(shop, location, *emails):
    response = shop.put(f"/api/locations/{location['id']}/recipients", json={"email_recipients": list(emails)})
    assert response.status_code == 200, response.get_json()


def lines(mail):
    """The alert lines of a digest's plain text (each names its place in a shop of several)."""
    return sorted(line.strip("-• ").strip() for line in mail.part("text/plain").splitlines()
                  if " at Downtown" in line or " at Uptown" in line or " at Back room" in line)


@pytest.fixture
def stores(make_shop):
    """A Tokyo shop of Downtown (the default) and Uptown, each with its own email list and Milk,
    Bread at Downtown only, and a stock room whose list hears nothing today."""
    shop = make_shop("Corner Shop", timezone=TZ)
    [downtown] = [loc for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"]]
    assert shop.patch(f"/api/locations/{downtown['id']}", json={"name": "Downtown"}).status_code == 200
    uptown, room = place(shop, "Uptown"), place(shop, "Back room", "stockroom")
    milk = shop.add_product("Milk", stock=40, category="Dairy")
    bread = shop.add_product("Bread", stock=20)
    change(shop, milk, uptown, 10, "delivery")
    change(shop, milk, room, 50, "delivery")
    return shop, downtown, uptown, room, milk, bread


def test_a_digest_shops_location_lists_get_their_own_locations_digest(app, stores, smtp_server):
    shop, downtown, uptown, room, milk, bread = stores
    digest_time, due = next_digest_at()
    configure(shop, email_enabled=True, email_recipients=[OWNER], delivery_mode="digest", digest_time=digest_time)
    listen(shop, uptown, UPTOWN)
    listen(shop, downtown, DOWNTOWN)
    listen(shop, room, ROOM)
    change(shop, milk, uptown, -8)  # Uptown 2: low
    change(shop, bread, downtown, -20)  # Downtown 0: out
    change(shop, milk, downtown, -37)  # Downtown 3: low

    # Nothing leaves one by one: a location's list is in the shop's digest mode.
    worker = dispatcher(app)
    assert worker.run_once(now=utcnow())["digests"] == 0
    assert deliveries(shop) == []

    assert worker.run_once(now=due + timedelta(seconds=30)) == {"digests": 1, "claimed": 3, "sent": 3}
    [owner] = smtp_server.messages(to=OWNER)
    assert lines(owner) == ["Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown",
                            "Low Stock Alert: Milk - Only 3 remaining (Dairy) at Downtown",
                            "Out of Stock: Bread (Uncategorized) at Downtown"]
    [up] = smtp_server.messages(to=UPTOWN)
    assert lines(up) == ["Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown"]
    assert "Downtown" not in up.part("text/plain") and "Bread" not in up.part("text/plain")
    [down] = smtp_server.messages(to=DOWNTOWN)
    assert lines(down) == ["Low Stock Alert: Milk - Only 3 remaining (Dairy) at Downtown",
                           "Out of Stock: Bread (Uncategorized) at Downtown"]
    assert "Uptown" not in down.part("text/plain")
    assert smtp_server.messages(to=ROOM) == []  # nothing alerted in the stock room
    assert len(smtp_server.messages()) == 3

    # The next day with nothing new: nothing more.
    assert worker.run_once(now=due + timedelta(days=1, seconds=30))["claimed"] == 0


def test_an_instant_shops_location_lists_hear_at_once_and_get_no_digest(app, stores, smtp_server):
    shop, downtown, uptown, room, milk, bread = stores
    digest_time, due = next_digest_at()
    configure(shop, digest_time=digest_time)  # instant, the default
    listen(shop, uptown, UPTOWN)
    change(shop, milk, uptown, -8)
    worker = dispatcher(app)
    assert worker.run_once(now=utcnow())["sent"] == 1
    [mail] = smtp_server.messages()
    assert mail.rcpt_tos == [UPTOWN] and "Milk" in mail.subject
    assert worker.run_once(now=due + timedelta(seconds=30)) == {"digests": 0, "claimed": 0}
    assert len(smtp_server.messages()) == 1


def test_an_address_on_several_lists_gets_one_digest_listing_what_each_hears(app, stores, smtp_server):
    shop, downtown, uptown, room, milk, bread = stores
    digest_time, due = next_digest_at()
    configure(shop, delivery_mode="digest", digest_time=digest_time)
    listen(shop, uptown, "both@cornershop.example", UPTOWN)
    listen(shop, downtown, "Both@cornershop.example")  # the same mailbox, spelt otherwise
    listen(shop, room, UPTOWN)
    change(shop, milk, uptown, -8)  # Uptown 2: low
    change(shop, bread, downtown, -20)  # Downtown 0: out
    # A person's own digest address that is also on a location's list: one message, theirs and the place's.
    person = shop.add_user("clerk@cornershop.example", "staff")
    response = person.patch("/api/me/preferences", json={"email": {"enabled": True, "address": UPTOWN,
                                                                   "mode": "digest"}})
    assert response.status_code == 200, response.get_json()

    dispatcher(app).run_once(now=due + timedelta(seconds=30))
    [both] = smtp_server.messages(to="both@cornershop.example") + smtp_server.messages(to="Both@cornershop.example")
    assert lines(both) == ["Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown",
                           "Out of Stock: Bread (Uncategorized) at Downtown"]
    [up] = smtp_server.messages(to=UPTOWN)  # Uptown's list, the stock room's and the clerk's own
    assert "Bread" in up.part("text/plain") and "Milk" in up.part("text/plain")
    assert len(smtp_server.messages()) == 2


def test_which_lines_each_address_hears():
    """The rule, without a database: a location's list hears its place only, the shop's list every
    place, a person their kinds; one entry per address whatever its spelling."""
    uptown = {"id": 2, "name": "Uptown"}
    downtown = {"id": 1, "name": "Downtown"}
    milk_up = AlertItem("Milk", None, 2, 5, "low", location=uptown)
    bread_down = AlertItem("Bread", None, 0, 5, "out", location=downtown)
    forecast_down = AlertItem("Eggs", None, 9, 5, "forecast", location=downtown)
    items = [milk_up, bread_down, forecast_down]
    targets = [Target(1, "email", "up@x.example", "digest", None, location_id=2),
               Target(1, "email", "shop@x.example", "digest", None),
               Target(1, "email", "down@x.example", "digest", None, location_id=1),
               Target(1, "email", "DOWN@x.example", "digest", ",out,", user_id=7, role="staff"),
               Target(1, "sms", "+14155552671", "digest", ",forecast,", user_id=8, role="manager"),
               Target(1, "email", "room@x.example", "digest", None, location_id=3)]
    assert heard_by_address(targets, items) == {
        ("email", "up@x.example"): (milk_up,),
        ("email", "shop@x.example"): (milk_up, bread_down, forecast_down),
        ("email", "down@x.example"): (bread_down, forecast_down),
        ("sms", "+14155552671"): (forecast_down,),
    }


def test_0016d_makes_location_lists_follow_the_shops_mode_and_back(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0015l")
        for statement in (
            "INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) "
            "VALUES (1, 'Old Shop', 'UTC', false, '2026-11-01 08:00:00')",
            "INSERT INTO recipients (client_id, channel, address, enabled, mode, location_id, created_at) VALUES "
            "(1, 'email', 'up@old.example', true, 'instant', 7, '2026-11-01 08:00:00'), "
            "(1, 'email', 'shop@old.example', true, NULL, NULL, '2026-11-01 08:00:00')",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        modes = "SELECT address, mode FROM recipients ORDER BY address"
        upgrade(revision="0016d")
        assert [tuple(r) for r in db.session.execute(text(modes))] == [("shop@old.example", None),
                                                                       ("up@old.example", None)]
        db.session.commit()
        downgrade(revision="0015l")
        assert [tuple(r) for r in db.session.execute(text(modes))] == [("shop@old.example", None),
                                                                       ("up@old.example", "instant")]
        db.session.commit()
        upgrade()
        db.session.remove()
        db.engine.dispose()


MANAGER = "manager@cornershop.example"


@pytest.mark.parametrize("mode", ["instant", "digest"])
def test_a_person_limited_to_a_place_hears_only_its_alerts_on_their_own_address(app, stores, smtp_server, mode):
    """API "People at a place": such a user hears only their locations' alerts, by their own
    email as in the bell, whether it leaves at once or in the day's digest."""
    shop, downtown, uptown, room, milk, bread = stores
    digest_time, due = next_digest_at()
    configure(shop, digest_time=digest_time)
    manager = shop.add_user(MANAGER, role="manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]}).status_code == 200
    own = manager.patch("/api/me/preferences", json={"email": {"enabled": True, "address": MANAGER, "mode": mode}})
    assert own.status_code == 200, own.get_json()
    change(shop, milk, uptown, -8)  # Uptown 2: low
    change(shop, bread, downtown, -20)  # Downtown 0: out
    worker = dispatcher(app)
    worker.run_once(now=utcnow())
    worker.run_once(now=due + timedelta(seconds=30))
    mails = smtp_server.messages(to=MANAGER)
    assert mails, "the manager hears Uptown's alert"
    text = "\n".join(m.part("text/plain") for m in mails)
    assert "Milk" in text and "Uptown" in text
    assert "Bread" not in text and "Downtown" not in text
    bell = [n["message"] for n in manager.get("/api/notifications").get_json()["items"]]
    assert bell == ["Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown"]
