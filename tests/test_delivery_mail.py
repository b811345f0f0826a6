"""Mail a shop can trust, against a real SMTP server (aiosmtpd, with and without SMTPUTF8): one
row's failure is that row's, never the batch's or another shop's; non-ASCII addresses, emoji
names and CR/LF in a name each end in one delivered message or one clearly failed row; the
headers and the one-click unsubscribe of RFC 8058."""
import email
import email.policy
import re

import pytest
from sqlalchemy import update

from modules.extensions import db
from modules.retail.models import Product
from tests.support.deliveries import configure, deliveries, delivery_config, delivery_rows, dispatcher, later, make_low
from tests.support.smtp import SmtpServer

ZOE = "zoë@bücher.example"


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


@pytest.fixture
def utf8_server():
    with SmtpServer(smtputf8=True) as server:
        yield server


def drain(app, times=4):
    """Run the dispatcher as it would run over the next hours: every retry falls due."""
    for n in range(times):
        dispatcher(app).run_once(now=later(3600 * (n + 1)))


def test_a_bad_row_of_one_shop_between_good_rows_of_another_costs_nobody_a_duplicate(
        app, make_shop, smtp_server):
    shop_a, shop_b = make_shop("Alpha Shop"), make_shop("Beta Books")
    configure(shop_a, email_enabled=True, email_recipients=["one@alpha.example", "two@alpha.example"])
    configure(shop_b, email_enabled=True, email_recipients=[ZOE])
    make_low(shop_a, "Apples")
    make_low(shop_b, "Atlas")  # its row sits between shop A's rows in the outbox
    make_low(shop_a, "Bananas")
    assert [r.client_id for r in delivery_rows()] == [shop_a.client["id"]] * 2 + [shop_b.client["id"]] + \
        [shop_a.client["id"]] * 2

    drain(app)

    for address in ("one@alpha.example", "two@alpha.example"):
        subjects = sorted(m.subject for m in smtp_server.messages(to=address))
        assert subjects == ["Low stock: Apples at Alpha Shop", "Low stock: Bananas at Alpha Shop"]
    assert len(smtp_server.messages()) == 4  # nothing twice, nothing to shop B's address
    assert {d["status"] for d in deliveries(shop_a)} == {"sent"}
    [dead] = deliveries(shop_b)
    assert dead["status"] == "dead" and dead["attempts"] == 1
    assert "does not accept addresses with non-ASCII characters" in dead["last_error"]


def test_a_non_ascii_mailbox_goes_out_with_smtputf8_when_the_server_offers_it(app, shop, utf8_server):
    app.extensions["mail"].port = utf8_server.port  # Flask-Mail read its settings when the app was made
    configure(shop, email_enabled=True, email_recipients=[ZOE, "owner@bücher.example"])
    make_low(shop, "Atlas")
    assert dispatcher(app).run_once()["sent"] == 2, [(d["recipient"], d["last_error"]) for d in deliveries(shop)]
    [international] = utf8_server.messages(to="zoë@xn--bcher-kva.example")
    assert "SMTPUTF8" in international.mail_options
    assert str(international.message["To"]) == "zoë@xn--bcher-kva.example"
    # An ASCII mailbox at an international domain needs no SMTPUTF8: its domain goes as IDNA.
    [plain] = utf8_server.messages(to="owner@xn--bcher-kva.example")
    assert "SMTPUTF8" not in plain.mail_options


def test_an_emoji_name_keeps_every_line_short_and_the_subject_intact(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example"])
    name = "Erdbeeren 🍓 " * 12 + "Zoë's Bücher — 日本語"
    make_low(shop, name[:120])
    assert dispatcher(app).run_once()["sent"] == 1
    [mail] = smtp_server.messages()
    assert max(len(line) for line in mail.raw.split(b"\r\n")) <= 998
    assert b"Content-Transfer-Encoding: quoted-printable" in mail.raw
    parsed = email.message_from_bytes(mail.raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == f"Low stock: {' '.join(name[:120].split())} at Corner Shop"
    assert name[:120].strip() in mail.part("text/plain")


def test_cr_lf_in_a_product_name_cannot_add_a_header_or_a_recipient(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example"])
    product = shop.add_product("Oat Milk", stock=10)
    # A name stored before names were checked: written directly, as an old row would be.
    db.session.execute(update(Product).where(Product.id == product["id"])
                       .values(name="Oat Milk\r\nBcc: thief@evil.example\r\nX-Evil: 1"))
    db.session.commit()
    assert shop.post(f"/api/products/{product['id']}/stock", json={"delta": -8, "reason": "sale"}).status_code == 200
    assert dispatcher(app).run_once()["sent"] == 1
    [mail] = smtp_server.messages()
    assert mail.rcpt_tos == ["owner@cornershop.example"]
    assert mail.message["Bcc"] is None and mail.message["X-Evil"] is None
    assert str(mail.message["Subject"]) == "Low stock: Oat Milk Bcc: thief@evil.example X-Evil: 1 at Corner Shop"


def test_alert_mail_is_marked_automatic_with_a_one_click_unsubscribe(app, client, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example", "buyer@cornershop.example"])
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once()
    mail = smtp_server.messages(to="buyer@cornershop.example")[0].message
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(mail["From"]) == "alerts@stockbell.test" and mail["Message-ID"].endswith("@stockbell.test>")
    link = re.fullmatch(r"<(http://stockbell\.test(/unsubscribe/[^>]+))>", str(mail["List-Unsubscribe"]).strip()).group(2)
    assert link in mail.get_body(preferencelist=("plain",)).get_content()

    # The mail client's one-click POST: no session, no CSRF token.
    answer = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "buyer@cornershop.example gets no more alert emails" in answer.get_data(
        as_text=True)
    make_low(shop, "Rye Bread")
    dispatcher(app).run_once()
    assert [m.subject for m in smtp_server.messages(to="buyer@cornershop.example")] == [
        "Low stock: Oat Milk at Corner Shop"]
    assert len(smtp_server.messages(to="owner@cornershop.example")) == 2
    page = shop.get("/settings/notifications").get_data(as_text=True)
    assert "Opted out" in page and "buyer@cornershop.example" in page


def test_an_unsubscribed_address_gets_no_mail_that_was_waiting(app, client, shop, smtp_server):
    """One click stops alerts to that address: a mail queued before it (gathering company) too."""
    app.config["DELIVERY_COALESCE_SECONDS"] = 60
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example", "buyer@cornershop.example"])
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once(now=later(61))
    mail = smtp_server.messages(to="buyer@cornershop.example")[0].message
    link = str(mail["List-Unsubscribe"]).strip().strip("<>").removeprefix("http://stockbell.test")
    make_low(shop, "Rye Bread")  # waits up to 60 s for others
    assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    outcome = dispatcher(app).run_once(now=later(61))
    assert (outcome.get("sent", 0), outcome.get("dead", 0)) == (1, 1)
    assert [m.subject for m in smtp_server.messages(to="buyer@cornershop.example")] == [
        "Low stock: Oat Milk at Corner Shop"]
    assert len(smtp_server.messages(to="owner@cornershop.example")) == 2


def test_a_forged_or_altered_unsubscribe_link_changes_nothing(app, client, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example"])
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once()
    link = str(smtp_server.messages()[0].message["List-Unsubscribe"]).strip().strip("<>").removeprefix("http://stockbell.test")
    assert client.post(link[:-3] + "xyz").status_code == 404
    assert client.post("/unsubscribe/not-a-token").status_code == 404
    make_low(shop, "Rye Bread")
    dispatcher(app).run_once()
    assert len(smtp_server.messages(to="owner@cornershop.example")) == 2


def test_the_settings_page_warns_on_save_about_an_address_only_smtputf8_servers_take(app, shop):
    response = shop.post("/settings/notifications", data={
        "csrf_token": shop.csrf, "low_stock_enabled": "1", "low_stock_threshold": "5", "timezone": "UTC",
        "email_enabled": "1", "email_recipients": f"owner@cornershop.example\n{ZOE}", "delivery_mode": "instant",
        "digest_time": "09:00"}, follow_redirects=True)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Notification settings saved." in page
    assert f"{ZOE} has characters outside ASCII before the @" in page
    assert "owner@cornershop.example has characters" not in page


def test_a_forecast_alert_names_its_days_left_sku_and_product_link(app):
    from modules.delivery import messages

    item = messages.AlertItem("Oat Milk", "Dairy", 12, 5, kind="forecast", days_left=3, product_id=7, sku="OAT-1")
    notice = messages.Notice("alerts", 1, "Corner Shop", (item,))
    text, html = messages.email_bodies(notice, "http://stockbell.test", "owner@cornershop.example")
    assert notice.subject == "Running low: Oat Milk at Corner Shop"
    assert "Running Low: Oat Milk - about 3 days left (Dairy)" in text and "Days left: about 3" in text
    assert "SKU: OAT-1" in text and "http://stockbell.test/retail/products/7/edit" in text
    assert '<a href="http://stockbell.test/retail/products/7/edit">Oat Milk</a>' in html


def test_an_instant_mail_says_its_stock_is_of_the_moment_the_alert_was_raised(app, make_shop, smtp_server):
    from modules.timeutil import shop_time

    shop = make_shop("Kiwi Shop", timezone="Pacific/Auckland")
    configure(shop, email_enabled=True, email_recipients=["owner@kiwi.example"])
    product = make_low(shop, "Feijoa", stock=10, delta=-8)["product"]  # the alert, at 2
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -1, "reason": "sale"})  # 1 before it leaves
    raised = shop_time(delivery_rows()[0].created_at, "Pacific/Auckland")
    assert dispatcher(app).run_once(now=later(600))["sent"] == 1
    [mail] = smtp_server.messages()
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d NZ[DS]T", raised)
    assert f"Stock: 2 when the alert was raised, at {raised}" in text
    assert "Low Stock Alert: Feijoa - Only 2 remaining (Uncategorized)" in text  # the contract's words, unchanged
    assert "Stock when raised" in html and f"<td>{raised}</td><td align=right>2</td>" in html


def test_an_out_of_stock_item_reads_out_of_stock_not_about_0_days_left(app):
    from modules.delivery import messages

    item = messages.AlertItem("Oat Milk", "Dairy", 0, 5, kind="out", days_left=0, product_id=7)
    text, html = messages.email_bodies(messages.Notice("alerts", 1, "Corner Shop", (item,)),
                                       "http://stockbell.test", "owner@cornershop.example")
    assert "Days left" not in text and "\n  Out of stock\n" in text
    assert "<td align=right>Out of stock</td></tr>" in html and ">0</td></tr>" not in html


def test_a_person_deactivated_gets_no_mail_that_was_waiting_for_them(app, shop, smtp_server):
    """A deactivated person hears nothing more on their own address: not even a mail queued for
    them before (gathering company), while the shop's list still gets its own."""
    app.config["DELIVERY_COALESCE_SECONDS"] = 60
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example"])
    staff = shop.add_user("sam@cornershop.example")
    own = staff.patch("/api/me/preferences", json={"email": {"enabled": True, "address": "sam@home.example"}})
    assert own.status_code == 200, own.get_json()
    make_low(shop, "Oat Milk")  # waits up to 60 s for others
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"active": False}).status_code == 200
    outcome = dispatcher(app).run_once(now=later(61))
    assert (outcome.get("sent", 0), outcome.get("dead", 0)) == (1, 1)
    assert smtp_server.messages(to="sam@home.example") == []
    assert len(smtp_server.messages(to="owner@cornershop.example")) == 1
