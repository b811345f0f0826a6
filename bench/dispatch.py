"""Benchmark of the delivery dispatcher: N due email deliveries sent to a local aiosmtpd server;
with --mixed, N emails, N SMS (the real Twilio SDK against a local double) and N signed webhooks.

    python bench/dispatch.py [--count 2000] [--batch-size 200] [--mixed] [--postgres | --database-url URL]

Prints messages per second (email alone and all channels) and how many SMTP connections were
opened (one per batch is the aim). Every message's fate is recorded as soon as it is known.
The database is a fresh SQLite file by default (or a throwaway PostgreSQL cluster with
--postgres), migrated like the app's.
"""
import argparse
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from modules import create_app  # noqa: E402
from modules.auth.models import Client  # noqa: E402
from modules.extensions import db  # noqa: E402
from modules.delivery import messages  # noqa: E402
from modules.delivery.dispatcher import Dispatcher  # noqa: E402
from modules.delivery.models import Recipient  # noqa: E402
from modules.delivery.outbox import add_deliveries, message_row  # noqa: E402
from modules.timeutil import utcnow  # noqa: E402
from tests.support.postgres import TemporaryCluster, free_port  # noqa: E402
from tests.support.http_double import HttpDouble  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402
from tests.support.twilio_double import TwilioDouble  # noqa: E402


def serve_smtp(port, ready, stop, results):
    """The SMTP server in its own process, as a real one would be: it must not share our GIL."""
    with SmtpServer(port, keep=False) as server:
        ready.set()
        stop.wait()
        results.put((server.count, server.connections))


def build_app(database_url, smtp_port, extra=None):
    return create_app({**(extra or {}),
        "SQLALCHEMY_DATABASE_URI": database_url, "SEED_DEMO": False, "STOCK_MONITOR_ENABLED": False,
        "DELIVERY_ENABLED": False, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None, "MAIL_SUPPRESS_SEND": False,
        "PUBLIC_URL": "http://stockbell.bench", "LOG_LEVEL": "WARNING", "SHOP_DAILY_MESSAGE_CAP": 10**9,
        "DELIVERY_COALESCE_SECONDS": 0, "WEBHOOK_ALLOW_PRIVATE": True,
    })


def queue(count, channels, webhook_url=None):
    """One shop and `count` due deliveries per channel, each a distinct alert message."""
    shop = Client(name="Bench Shop", timezone="UTC")
    db.session.add(shop)
    db.session.flush()
    if webhook_url:
        db.session.add(Recipient(client_id=shop.id, channel="webhook", address=webhook_url, secret="b" * 64,
                                 created_at=utcnow()))
    now = utcnow()
    rows = []
    for i in range(count):
        item = messages.AlertItem(f"Product {i:05d}", "Bench", i % 5, 5, product_id=i + 1, sku=f"SKU-{i}")
        notice = messages.Notice("alerts", shop.id, shop.name, (item,), created_at=now.isoformat())
        address = {"email": f"buyer{i}@bench.example", "sms": f"+1415555{i % 10000:04d}", "webhook": webhook_url}
        for channel in channels:
            rows.append(message_row(shop.id, f"bench:{i}", channel, address[channel], notice, now))
    add_deliveries(rows)
    db.session.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster (needs initdb)")
    parser.add_argument("--mixed", action="store_true", help="also N SMS (Twilio double) and N webhooks")
    args = parser.parse_args()
    cluster = None
    if args.postgres:
        cluster = TemporaryCluster().start()
        args.database_url = cluster.url()
    try:
        run(args)
    finally:
        if cluster is not None:
            cluster.stop()


def run(args):
    logging.basicConfig(level=logging.WARNING)

    port = free_port()
    ready, stop, results = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
    smtp = multiprocessing.Process(target=serve_smtp, args=(port, ready, stop, results), daemon=True)
    smtp.start()
    if not ready.wait(30):
        raise SystemExit("the SMTP server did not start")
    twilio = TwilioDouble().start() if args.mixed else None
    hook = HttpDouble().start() if args.mixed else None
    extra = {}
    if twilio:
        extra = {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
                 "TWILIO_SMS_FROM": "+15005550006", "TWILIO_API_BASE": twilio.url}
    channels = ("email", "sms", "webhook") if args.mixed else ("email",)
    with tempfile.TemporaryDirectory(prefix="stockbell-bench-") as tmp:
        app = build_app(args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}", port, extra)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            queue(args.count, channels, hook.url + "/hook" if hook else None)
        dispatcher = Dispatcher(app, batch_size=args.batch_size)
        batches = 0
        started = time.perf_counter()
        while True:
            counts = dispatcher.run_once()
            if counts is None:
                raise SystemExit(f"dispatch failed: {dispatcher.last_error}")
            if not counts["claimed"]:
                break
            batches += 1
        elapsed = time.perf_counter() - started
        if twilio:
            twilio.stop()
            hook.stop()
        stop.set()
        received, connections = results.get(timeout=30)
        smtp.join(10)
        print(f"database:          {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}")
        print(f"messages sent:     {dispatcher.totals['sent']} (SMTP server received {received}, "
              f"failed {dispatcher.totals['failed']}, dead {dispatcher.totals['dead']})")
        print(f"elapsed:           {elapsed:.2f} s")
        total = received + (len(twilio.messages()) + len(hook.posts) if twilio else 0)
        if twilio:
            print(f"SMS accepted:      {len(twilio.messages())}; webhooks received: {len(hook.posts)}")
        print(f"messages/second:   {total / elapsed:.0f} (all channels)")
        print(f"batches:           {batches} of up to {args.batch_size}")
        print(f"SMTP connections:  {connections}")
        with app.app_context():
            db.engine.dispose()
        if total != args.count * len(channels):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
