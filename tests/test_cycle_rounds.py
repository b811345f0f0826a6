"""The cycle's rounds over its new alerts (alerts.service.CHUNK) and the id lists they pass from
one statement to the next (dialect.id_in: one parameter, an array on PostgreSQL, JSON on SQLite),
on SQLite and PostgreSQL: every new alert gets its episode, its bell notification and its outbox
rows exactly once, however the alerts fall into rounds."""
import pytest
from sqlalchemy import func, select

from modules.alerts import service
from modules.alerts.models import StockAlert
from modules.alerts.monitor import run_cycle
from modules.delivery.models import Delivery
from modules.dialect import id_in
from modules.extensions import db
from modules.notifications.models import Notification
from modules.retail.models import Product
from tests.support.deliveries import configure, delivery_config
from tests.support.shops import set_stock_behind_the_apps_back

MAILS = ["owner@cornershop.example", "buyer@cornershop.example"]


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


def per_alert(model, column):
    """{alert log id: rows of `model` pointing at it}."""
    return dict(db.session.execute(select(column, func.count()).select_from(model).group_by(column)).all())


def test_id_in_takes_more_ids_than_a_statement_may_bind(app, shop):
    ids = [shop.add_product(f"P{i}")["id"] for i in range(3)]
    # more ids than SQLite binds parameters (32,766 by default; Debian's and Python's builds 250,000)
    many = list(range(10**6, 10**6 + 300_000)) + ids
    found = db.session.execute(select(Product.id).where(id_in(Product.id, many))).scalars().all()
    assert sorted(found) == sorted(ids)
    assert db.session.execute(select(Product.id).where(id_in(Product.id, ids[1:2]))).scalars().all() == ids[1:2]
    assert db.session.execute(select(Product.id).where(id_in(Product.id, []))).all() == []


@pytest.mark.parametrize("rounds_of", [3, 7, service.CHUNK])
def test_each_new_alert_is_written_once_whatever_the_rounds(app, shop, monkeypatch, rounds_of):
    configure(shop, email_enabled=True, email_recipients=MAILS)
    staff = shop.add_user("staff@cornershop.example", role="manager")
    ids = [shop.add_product(f"P{i}", stock=100)["id"] for i in range(7)]
    set_stock_behind_the_apps_back(ids[:6], 1)  # six low
    set_stock_behind_the_apps_back(ids[6], 0)  # one out
    db.session.commit()
    monkeypatch.setattr(service, "CHUNK", rounds_of)

    new = run_cycle()

    assert sorted(a.product_id for a in new) == sorted(ids)
    assert sorted(a.kind for a in new) == ["low"] * 6 + ["out"]
    logged = {a.log_id for a in new}
    assert len(logged) == 7
    assert per_alert(Notification, Notification.alert_log_id) == {log_id: 2 for log_id in logged}  # owner, manager
    assert {n.user_id for n in db.session.execute(select(Notification)).scalars()} == {shop.user["id"], staff.user["id"]}
    assert per_alert(Delivery, Delivery.alert_log_id) == {log_id: len(MAILS) for log_id in logged}
    open_places = db.session.execute(select(StockAlert.product_id).where(StockAlert.resolved_at.is_(None))).scalars()
    assert sorted(open_places) == sorted(ids)

    assert run_cycle() == []  # the same day: nothing new, nothing written twice
    assert sum(per_alert(Notification, Notification.alert_log_id).values()) == 14
    assert sum(per_alert(Delivery, Delivery.alert_log_id).values()) == 14
