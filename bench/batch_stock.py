"""A till's batches through the HTTP API: 100 batches of 1,000 stock changes (5% of them taking
a product across its threshold, so each batch raises 50 alerts) to `POST /api/stock/batch` of
the real app (`python app.py`, waitress), on SQLite and on PostgreSQL (a throwaway cluster).

    python bench/batch_stock.py [--batches 100] [--size 1000] [--db sqlite|postgres|both]

Prints changes per second and the median and slowest time of one batch with its alerts
(target: one batch of 1,000 in under 1 s).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from modules import create_app  # noqa: E402
from modules.auth import service  # noqa: E402
from modules.extensions import db  # noqa: E402
from modules.retail.models import Product  # noqa: E402
from modules.timeutil import utcnow  # noqa: E402
from bench.served import wait_for  # noqa: E402
from tests.support.postgres import TemporaryCluster, free_port  # noqa: E402

EMAIL, PASSWORD = "till@bench.example", "bench-password-2026"
CROSSING = 0.05


def load(url, batches, size):
    """One shop: `size` products with plenty of stock, and one fresh product per crossing change
    (stock 6, the shop's threshold 5: one sale makes it low). Returns (plenty ids, crossing ids)."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEED_DEMO": False, "STOCK_MONITOR_ENABLED": False,
                      "DELIVERY_ENABLED": False, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    crossing = int(size * CROSSING)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        client, _ = service.create_shop("Till Shop", EMAIL, PASSWORD, "UTC")
        db.session.commit()
        now = utcnow()
        rows = [{"client_id": client.id, "name": f"Plenty {n:05d}", "sku": f"P{n:05d}", "stock": 10_000_000,
                 "active": True, "created_at": now, "updated_at": now} for n in range(size - crossing)]
        rows += [{"client_id": client.id, "name": f"Edge {n:05d}", "sku": f"E{n:05d}", "stock": 6, "active": True,
                  "created_at": now, "updated_at": now} for n in range(crossing * batches)]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(Product), rows[start:start + 5000])
        db.session.commit()
        ids = db.session.execute(select(Product.id, Product.sku).order_by(Product.id)).all()
        db.engine.dispose()
    plenty = [i for i, sku in ids if sku.startswith("P")]
    edge = [i for i, sku in ids if sku.startswith("E")]
    return plenty, edge


class Till:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.csrf = self.post("/api/auth/login", {"email": EMAIL, "password": PASSWORD})["csrf_token"]

    def post(self, path, body, headers=None):
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST", headers={
            "Content-Type": "application/json", "X-CSRFToken": getattr(self, "csrf", ""), **(headers or {})})
        with self.opener.open(request, timeout=120) as response:
            return json.loads(response.read())



def run(label, url, args):
    plenty, edge = load(url, args.batches, args.size)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SEED_DEMO": "0", "STOCK_MONITOR_ENABLED": "0",
           "DELIVERY_ENABLED": "0", "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    times, alerts = [], 0
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/health")
        till = Till(base)
        crossing = len(edge) // args.batches
        for n in range(args.batches):
            changes = [{"product_id": pid, "delta": -1, "reason": "sale"} for pid in plenty]
            changes += [{"product_id": pid, "delta": -1, "reason": "sale"}
                        for pid in edge[n * crossing:(n + 1) * crossing]]
            started = time.perf_counter()
            answer = till.post("/api/stock/batch", {"changes": changes}, {"Idempotency-Key": f"bench-{n}"})
            times.append(time.perf_counter() - started)
            assert answer["applied"] == len(changes), answer
            alerts += len(answer["alerts"])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)
    total = sum(times)
    print(f"\n{label}: {args.batches} batches of {args.size:,} changes ({int(args.size * CROSSING)} crossing a threshold)")
    print(f"  changes/second      {args.batches * args.size / total:10.0f}")
    print(f"  one batch, median   {statistics.median(times) * 1000:10.0f} ms")
    print(f"  one batch, slowest  {max(times) * 1000:10.0f} ms   (target: under 1,000 ms)")
    print(f"  alerts raised       {alerts:10d}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="stockbell-batch-") as tmp:
            run("SQLite", f"sqlite:///{Path(tmp) / 'batch.db'}", args)
    if args.db in ("postgres", "both"):
        cluster = TemporaryCluster().start()
        try:
            run("PostgreSQL", cluster.url(), args)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
