"""Priority (API.md, "Push and priority"): an out-of-stock alert leaves at once, a low one is
coalesced for DELIVERY_COALESCE_SECONDS, the normal kinds are batched for
DELIVERY_NORMAL_BATCH_SECONDS; and rows due now wake the dispatcher instead of waiting for its poll
(in process after the commit, and across processes by PostgreSQL's NOTIFY)."""
import json
import threading
import time
import psycopg
import pytest

from modules.delivery.dispatcher import Dispatcher
from modules.delivery.wakeup import CHANNEL, Listener
from modules.extensions import db
from tests.support.deliveries import configure, delivery_config, delivery_rows, dispatcher
from tests.support.shops import set_stock_behind_the_apps_back

SMS = "+14155552671"


@pytest.fixture
def app_config(smtp_server, twilio, receiver):
    return delivery_config(smtp_server, twilio, WEBHOOK_ALLOW_PRIVATE=True, DELIVERY_COALESCE_SECONDS=60,
                           DELIVERY_NORMAL_BATCH_SECONDS=300)


def stock(shop, product, quantity):
    response = shop.post(f"/api/products/{product['id']}/stock", json={"quantity": quantity, "reason": "count"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def waits_by_kind():
    """{(channel, kind): seconds from the row's creation to its first attempt}."""
    from modules.alerts.models import StockAlertLog
    kinds = dict(db.session.execute(db.select(StockAlertLog.id, StockAlertLog.kind)).all())
    return {(row.channel, kinds[row.alert_log_id]): round((row.next_attempt_at - row.created_at).total_seconds())
            for row in delivery_rows()}


def test_out_leaves_at_once_low_is_coalesced_the_rest_batched(app, shop, receiver):
    configure(shop, sms_enabled=True, sms_numbers=[SMS], webhook_enabled=True, webhook_url=receiver.url + "/hook",
              notify_restocked=True)
    milk, tea = shop.add_product("Milk", stock=10), shop.add_product("Tea", stock=10)
    stock(shop, milk, 0)  # out
    stock(shop, tea, 3)  # low
    stock(shop, tea, 30)  # back in stock
    assert waits_by_kind() == {
        ("sms", "out"): 0, ("sms", "low"): 60, ("sms", "restocked"): 300,
        # a program wants each event as it happens: the webhook never waits
        ("webhook", "out"): 0, ("webhook", "low"): 0, ("webhook", "restocked"): 0,
    }


def test_an_out_alert_goes_at_once_and_takes_the_waiting_low_one_with_it(app, shop, twilio):
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    milk, tea = shop.add_product("Milk", stock=10), shop.add_product("Tea", stock=10)
    stock(shop, tea, 3)
    assert dispatcher(app).run_once()["claimed"] == 0  # the low one waits for company
    stock(shop, milk, 0)
    assert dispatcher(app).run_once()["sent"] == 2
    [sms] = twilio.messages(SMS)
    assert "2 products need attention (1 out of stock, 1 low)" in sms["Body"]


def test_an_empty_shelf_leaves_before_the_messages_queued_ahead_of_it(app, shop, twilio, receiver):
    """Critical first within a batch: webhook events queued earlier do not hold an out SMS back."""
    configure(shop, webhook_enabled=True, webhook_url=receiver.url + "/hook")
    for n in range(5):
        stock(shop, shop.add_product(f"Tea {n}", stock=10), 3)  # an event each, due now
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    stock(shop, shop.add_product("Milk", stock=10), 0)  # out: an SMS and an event, due now
    heard = {}  # each event's product: how many SMS had left when it reached the webhook

    def hear(body):
        heard[json.loads(body)["product"]["name"]] = len(twilio.messages(SMS))
        return b"ok"

    receiver.default = (200, hear)
    assert dispatcher(app).run_once()["sent"] == 7
    assert {name: heard[name] for name in heard if name != "Milk"} == {f"Tea {n}": 1 for n in range(5)}
    assert set(heard) == {"Milk", *(f"Tea {n}" for n in range(5))}  # Milk's event: critical too


def sms_leaves_at_once(app, twilio, act, what):
    """`act()` with a dispatcher waiting on a 30 s poll: its SMS leaves within 2 s (woken), not
    at the poll."""
    worker = Dispatcher(app, poll_seconds=30)  # its poll alone would take 30 s
    worker.initial_delay = 0
    worker.start()
    try:
        time.sleep(0.3)  # its first (empty) cycle is done: it now waits
        started = time.monotonic()
        act()
        while not twilio.messages(SMS) and time.monotonic() - started < 5:
            time.sleep(0.02)
        assert twilio.messages(SMS), f"the {what} SMS did not leave within 5 s"
        assert time.monotonic() - started < 2
    finally:
        worker.stop()


def test_a_stock_change_that_empties_a_product_wakes_the_dispatcher(app, shop, twilio):
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    milk = shop.add_product("Milk", stock=10)
    sms_leaves_at_once(app, twilio, lambda: stock(shop, milk, 0), "out-of-stock")


def test_a_test_message_wakes_the_dispatcher(app, shop, twilio):
    """A test message is a new outbox row due now: it leaves at once, not at the next poll."""
    configure(shop, sms_enabled=True, sms_numbers=[SMS])

    def send_test():
        assert shop.post("/api/notifications/test", json={"channel": "sms"}).status_code == 202

    sms_leaves_at_once(app, twilio, send_test, "test")


def test_a_low_alert_waits_its_coalescing_time_not_that_and_a_poll(app, shop, twilio):
    """The first of a burst waits at most DELIVERY_COALESCE_SECONDS: the dispatcher's next cycle
    comes when the row falls due, not at its next poll after that."""
    app.config["DELIVERY_COALESCE_SECONDS"] = 3
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    milk = shop.add_product("Milk", stock=10)
    worker = Dispatcher(app, poll_seconds=8)  # polls at 0 and 8 s: a row due at 3.2 s would wait till 8
    worker.initial_delay = 0
    worker.start()
    try:
        time.sleep(0.2)  # its first (empty) cycle is done
        started = time.monotonic()
        stock(shop, milk, 3)  # low: due in 3 s
        while not twilio.messages(SMS) and time.monotonic() - started < 10:
            time.sleep(0.02)
        waited = time.monotonic() - started
        assert twilio.messages(SMS), "the low SMS did not leave within 10 s"
        assert 2.9 <= waited < 6, waited
    finally:
        worker.stop()


def test_a_rolled_back_queue_wakes_nobody(app, shop):
    woken = threading.Event()

    class Probe(Dispatcher):
        def wake(self):
            woken.set()

    probe = Probe(app, poll_seconds=30)
    milk = shop.add_product("Milk", stock=10)
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    from modules.alerts.service import raise_alerts
    set_stock_behind_the_apps_back(milk["id"], 0)
    assert raise_alerts(client_id=shop.client["id"])
    db.session.rollback()
    assert not woken.is_set()
    set_stock_behind_the_apps_back(milk["id"], 0)
    assert raise_alerts(client_id=shop.client["id"])
    db.session.commit()
    assert woken.is_set() and probe is not None


def test_notify_wakes_a_listener_in_another_process(pg_cluster):
    """The LISTEN connection hears a NOTIFY sent by another connection (another process's commit)."""
    from sqlalchemy.engine import make_url
    url = make_url(pg_cluster.url("stockbell_template"))
    heard = threading.Event()
    listener = Listener(None, url, heard.set, timeout=0.2).start()
    try:
        assert listener.listening.wait(5)
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f"NOTIFY {CHANNEL}")
        assert heard.wait(2)
    finally:
        listener.stop()


def test_the_dispatcher_listens_on_postgresql_only(app):
    worker = Dispatcher(app, poll_seconds=30)
    worker.start()
    try:
        on_postgres = db.engine.dialect.name == "postgresql"
        assert (worker.listener is not None) == on_postgres
        if on_postgres:
            assert worker.listener.listening.wait(5)
    finally:
        worker.stop()
    assert worker.listener is None


def test_an_empty_shelf_is_claimed_before_a_backlog_of_retries(app, shop, twilio, receiver):
    """After an outage the outbox holds retries due long ago (more than one claim takes): a new
    row, an out SMS, is claimed first, not after the whole backlog (each claim takes the oldest)."""
    from datetime import timedelta

    from sqlalchemy import update

    from modules.delivery.dispatcher import claim
    from modules.delivery.models import Delivery
    from modules.timeutil import utcnow

    configure(shop, webhook_enabled=True, webhook_url=receiver.url + "/hook")
    for n in range(6):
        stock(shop, shop.add_product(f"Tea {n}", stock=10), 3)  # an event each
    db.session.execute(update(Delivery).values(status="failed", attempts=3,
                                               next_attempt_at=utcnow() - timedelta(hours=1)))
    db.session.commit()  # the backlog: six retries due for an hour
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    stock(shop, shop.add_product("Milk", stock=10), 0)  # out: an SMS and an event, due now
    fresh = {row.id for row in delivery_rows(status="pending")}
    assert len(fresh) == 2
    first = claim(2, utcnow())
    assert {row.id for row in first} == fresh
    assert len(claim(10, utcnow())) == 6  # then the backlog, all of it
