"""Alert latency: the time from a stock change's answer to its message at a local double (Web Push
through a push-service double that verifies VAPID and decrypts, SMS through the Twilio double,
email through a real SMTP server), per priority, p50 and p99. The real app
serves (`python app.py`); on SQLite its dispatcher runs in process, on PostgreSQL (a throwaway
cluster) the web process only serves and `flask --app app workers run` sends, in its own process.

    python bench/alert_latency.py [--db sqlite|postgres|both] [--samples 30] [--all-priorities]

By default only `out` (critical) is timed, with DELIVERY_COALESCE_SECONDS=60 as in production: it
must skip that wait (target: p99 < 1 s). --all-priorities also times `low` (important) and
`restocked` (normal) with short windows (--coalesce 3, --normal-batch 6) to show the timeline.
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from bench.served import wait_for  # noqa: E402
from modules import create_app  # noqa: E402
from modules.auth import service  # noqa: E402
from modules.extensions import db  # noqa: E402
from tests.support.postgres import TemporaryCluster, find_bindir, free_port  # noqa: E402
from tests.support.push_double import PushDouble  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402
from tests.support.twilio_double import TwilioDouble  # noqa: E402

EMAIL, PASSWORD = "latency@bench.example", "bench-password-2026"
SMS, MAIL = "+14155552671", "owner@bench.example"


def prepare(url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEED_DEMO": False, "STOCK_MONITOR_ENABLED": False,
                      "DELIVERY_ENABLED": False, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        service.create_shop("Latency Shop", EMAIL, PASSWORD, "UTC")
        db.session.commit()
        db.engine.dispose()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Shop:
    """The bench's shop over HTTP, signed in as its owner."""

    def __init__(self, base):
        self.base, self.http = base, requests.Session()
        answer = self.http.post(base + "/api/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30)
        answer.raise_for_status()
        self.http.headers["X-CSRFToken"] = answer.json()["csrf_token"]

    def post(self, path, body):
        answer = self.http.post(self.base + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()


def arrival(found, started, timeout):
    """Seconds from `started` until found() is true (polled every 2 ms), or None."""
    while time.perf_counter() - started < timeout:
        if found():
            return time.perf_counter() - started
        time.sleep(0.002)
    return None


def time_kind(shop, twilio, smtp, push, n, kind, timeout):
    """One stock change raising `kind` on a product of its own; (push, sms, email seconds)."""
    name = f"{kind.capitalize()} {n}"
    product = shop.post("/api/products", {"name": name, "stock": 10})
    if kind == "restocked":
        shop.post(f"/api/products/{product['id']}/stock", {"quantity": 2, "reason": "count"})
        time.sleep(0.05)
    quantity = {"out": 0, "low": 2, "restocked": 40}[kind]
    shop.post(f"/api/products/{product['id']}/stock", {"quantity": quantity, "reason": "count"})
    started = time.perf_counter()
    word = {"out": "Out of Stock", "low": "Low Stock Alert", "restocked": "Back in Stock"}[kind]

    def in_sms():
        return any(name in f["Body"] and (word in f["Body"] or "need attention" in f["Body"])
                   for f in twilio.messages(SMS))

    def in_mail():
        return any(name in m.part("text/plain") for m in smtp.messages())

    def in_push():
        return any(p.payload and name in p.payload.get("body", "") for p in push.received())

    return arrival(in_push, started, timeout), arrival(in_sms, started, timeout), arrival(in_mail, started, timeout)


def run(label, url, args, kinds):
    prepare(url)
    with SmtpServer() as smtp:
        twilio = TwilioDouble().start()
        port = free_port()
        push = PushDouble("mailto:bench@127.0.0.1").start()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SEED_DEMO": "0", "HOST": "127.0.0.1",
               "PORT": str(port), "STOCK_MONITOR_ENABLED": "0", "LOG_LEVEL": "WARNING",
               "PUBLIC_URL": f"http://127.0.0.1:{port}", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port),
               "MAIL_DEFAULT_SENDER": "alerts@bench.example", "TWILIO_ACCOUNT_SID": twilio.account_sid,
               "TWILIO_AUTH_TOKEN": twilio.auth_token, "TWILIO_SMS_FROM": "+15005550006",
               "TWILIO_API_BASE": twilio.url, "DELIVERY_COALESCE_SECONDS": str(args.coalesce),
               "DELIVERY_NORMAL_BATCH_SECONDS": str(args.normal_batch), "DELIVERY_POLL_SECONDS": "5",
               "SIGNUP_PER_ADDRESS_PER_HOUR": "1000", "WEBHOOK_ALLOW_PRIVATE": "1",
               "VAPID_SUBJECT": "mailto:bench@127.0.0.1"}
        split = url.startswith("postgresql")
        procs = [subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**env, "DELIVERY_ENABLED": "0"}
                                  if split else env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        if split:
            procs.append(subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "workers", "run"], cwd=ROOT,
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/health")
            shop = Shop(base)
            shop.post("/api/notifications/settings", {"sms_enabled": True, "sms_numbers": [SMS], "email_enabled": True,
                                                      "email_recipients": [MAIL], "notify_restocked": True})
            shop.post("/api/me/push-subscriptions", push.subscription())
            time.sleep(2)  # the worker process is up and listening
            for n in range(2):  # warm-up, not timed: the first statements of each process are compiled
                time_kind(shop, twilio, smtp, push, f"warm-up {n}", "out", 30)
            results = {}
            for kind, samples in kinds:
                wait = {"out": 0, "low": args.coalesce, "restocked": args.normal_batch}[kind]
                timings = [time_kind(shop, twilio, smtp, push, n, kind, wait + 30) for n in range(samples)]
                results[kind] = timings
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
            twilio.stop()
            push.stop()
    where = "worker in its own process" if split else "dispatcher in process"
    print(f"\n{label} ({where}; DELIVERY_COALESCE_SECONDS={args.coalesce:g}, "
          f"DELIVERY_NORMAL_BATCH_SECONDS={args.normal_batch:g})")
    priority = {"out": "critical", "low": "important", "restocked": "normal"}
    for kind, timings in results.items():
        for channel, column in (("push", 0), ("sms", 1), ("email", 2)):
            values = [t[column] for t in timings if t[column] is not None]
            lost = len(timings) - len(values)
            if not values:
                print(f"  {kind:10} {priority[kind]:9} {channel:5}  no message arrived")
                continue
            print(f"  {kind:10} {priority[kind]:9} {channel:5}  n={len(values):3}  p50 {statistics.median(values):7.3f} s"
                  f"  p99 {percentile(values, 99):7.3f} s  max {max(values):7.3f} s" + (f"  missing {lost}" if lost else ""))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--all-priorities", action="store_true")
    parser.add_argument("--coalesce", type=float, default=None)
    parser.add_argument("--normal-batch", type=float, default=None)
    args = parser.parse_args(argv)
    args.coalesce = args.coalesce if args.coalesce is not None else (3 if args.all_priorities else 60)
    args.normal_batch = args.normal_batch if args.normal_batch is not None else (6 if args.all_priorities else 300)
    kinds = [("out", args.samples)] + ([("low", 5), ("restocked", 5)] if args.all_priorities else [])
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("SQLite", f"sqlite:///{tmp}/latency.db", args, kinds)
    if args.db in ("postgres", "both"):
        if not find_bindir():
            raise SystemExit("PostgreSQL server binaries not found (set PG_BINDIR)")
        cluster = TemporaryCluster().start()
        try:
            cluster.execute("CREATE DATABASE latency")
            run("PostgreSQL", cluster.url("latency"), args, kinds)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
