"""Benchmark of the delivery dispatcher: N due email deliveries sent to a local aiosmtpd server.

    python bench/dispatch.py [--count 2000] [--batch-size 200] [--postgres | --database-url URL]

Prints messages per second and how many SMTP connections were opened (one per batch is the aim).
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
from modules.delivery.outbox import add_deliveries, message_row  # noqa: E402
from modules.timeutil import utcnow  # noqa: E402
from tests.support.postgres import TemporaryCluster, free_port  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402


def serve_smtp(port, ready, stop, results):
    """The SMTP server in its own process, as a real one would be: it must not share our GIL."""
    with SmtpServer(port, keep=False) as server:
        ready.set()
        stop.wait()
        results.put((server.count, server.connections))


def build_app(database_url, smtp_port):
    return create_app({
        "SQLALCHEMY_DATABASE_URI": database_url, "SEED_DEMO": False, "STOCK_MONITOR_ENABLED": False,
        "DELIVERY_ENABLED": False, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None, "MAIL_SUPPRESS_SEND": False,
        "PUBLIC_URL": "http://stockbell.bench", "LOG_LEVEL": "WARNING",
    })


def queue(count):
    """One shop and `count` due email deliveries, each a distinct alert message."""
    shop = Client(name="Bench Shop", timezone="UTC")
    db.session.add(shop)
    db.session.flush()
    now = utcnow()
    rows = []
    for i in range(count):
        item = messages.AlertItem(f"Product {i:05d}", "Bench", i % 5, 5)
        message = messages.alert_message(shop.name, item, "http://stockbell.bench")
        rows.append(message_row(shop.id, f"bench:{i}", "email", f"buyer{i}@bench.example", message, now))
    add_deliveries(rows)
    db.session.commit()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster (needs initdb)")
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
    with tempfile.TemporaryDirectory(prefix="stockbell-bench-") as tmp:
        app = build_app(args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}", port)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            queue(args.count)
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
        stop.set()
        received, connections = results.get(timeout=30)
        smtp.join(10)
        print(f"database:          {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}")
        print(f"messages sent:     {dispatcher.totals['sent']} (SMTP server received {received}, "
              f"failed {dispatcher.totals['failed']}, dead {dispatcher.totals['dead']})")
        print(f"elapsed:           {elapsed:.2f} s")
        print(f"messages/second:   {received / elapsed:.0f}")
        print(f"batches:           {batches} of up to {args.batch_size}")
        print(f"SMTP connections:  {connections}")
        with app.app_context():
            db.engine.dispose()
        if received != args.count:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
