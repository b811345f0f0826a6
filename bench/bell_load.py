"""The bell under load: wrk with 32 connections against GET /api/notifications/unread-count of the
real app (`python app.py`, waitress; the plain Flask route), and in the same run against a
hello-world Flask app on the same waitress settings and against the bell's list
(GET /api/notifications?limit=10); 100,000 notifications in the table, half of them the polling
user's, 1,000 of those unread (`--unread`). On SQLite and on PostgreSQL (a throwaway cluster).

    python bench/bell_load.py [--seconds 10] [--connections 32] [--unread 1000 [50000]] [--db sqlite|postgres|both]

Prints requests per second, p50 and p99 latency for each, the ratio unread-count / hello-world,
and the browsers one web process serves at the bell's polling policy (one poll per 30 s per
browser, from its one polling tab). `--unread 1000 50000` measures both in one run and prints
how much dearer 50,000 unread are (issue 18: the count bounded, within 1.5x). Needs Debian's
`wrk` (apt-get install wrk).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from modules import create_app  # noqa: E402
from modules.auth import service  # noqa: E402
from modules.extensions import db  # noqa: E402
from modules.notifications.models import Notification  # noqa: E402
from modules.notifications.service import UNREAD_CAP  # noqa: E402
from modules.timeutil import utcnow  # noqa: E402
from bench.served import wait_for  # noqa: E402
from tests.support.postgres import TemporaryCluster, free_port  # noqa: E402

EMAIL, PASSWORD = "bell@bench.example", "bench-password-2026"
POLL_SECONDS = 30  # static/js/bell.js: a visible tab's poll interval (hidden: 300)
HELLO = textwrap.dedent("""
    import sys
    from flask import Flask, jsonify
    from waitress import serve
    app = Flask(__name__)

    @app.get("/api/notifications/unread-count")
    def count():
        return jsonify({"count": 1000})

    serve(app, host="127.0.0.1", port=int(sys.argv[1]), ident="")
""")


def load(url, total, unread):
    """A migrated database with two shops' users; `total` notifications, `unread` of them the bench user's."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEED_DEMO": False, "STOCK_MONITOR_ENABLED": False,
                      "DELIVERY_ENABLED": False, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        _, user = service.create_shop("Bell Shop", EMAIL, PASSWORD, "UTC")
        _, other = service.create_shop("Other Shop", "other@bench.example", PASSWORD, "UTC")
        db.session.commit()
        now = utcnow()
        rows = []
        for n in range(total):
            mine = n % 2 == 0
            rows.append({"client_id": (user if mine else other).client_id, "user_id": (user if mine else other).id,
                         "type": "alert", "kind": "low", "level": "low", "message": f"Low Stock Alert: Item {n}",
                         "action_url": "/retail/products?stock=low", "is_read": not (mine and n < unread * 2),
                         "created_at": now})
            if len(rows) == 5000:
                db.session.execute(insert(Notification), rows)
                rows = []
        if rows:
            db.session.execute(insert(Notification), rows)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does to a table that just grew: statistics for the planner, and the
            # visibility map that lets the count read the index alone.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE notifications")
        db.engine.dispose()


def session_cookie(base):
    request = urllib.request.Request(base + "/api/auth/login", data=json.dumps(
        {"email": EMAIL, "password": PASSWORD}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        # Every cookie the sign-in sets (the session is not always the first: a device cookie too).
        return "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie"))


def wrk(url, seconds, connections, cookie=None):
    """(requests/s, p50 ms, p99 ms, non-2xx) from one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(p):
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return rate, percentile(50), percentile(99), int(errors.group(1)) if errors else 0


def serve(url, port):
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SEED_DEMO": "0", "STOCK_MONITOR_ENABLED": "0",
           "DELIVERY_ENABLED": "0", "HOST": "127.0.0.1", "PORT": str(port)}
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def run(label, urls, args):
    """`urls`: {unread: database url}. Every database gets its app; the targets run back to back."""
    ports = {unread: free_port() for unread in urls}
    hello_port = free_port()
    procs = [serve(url, ports[unread]) for unread, url in urls.items()]
    procs.append(subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL))
    targets = [("hello-world", f"http://127.0.0.1:{hello_port}/api/notifications/unread-count", None)]
    try:
        wait_for(targets[0][1])
        for unread, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/health")
            cookie = session_cookie(base)
            request = urllib.request.Request(base + "/api/notifications/unread-count", headers={"Cookie": cookie})
            with urllib.request.urlopen(request) as response:
                counted = json.loads(response.read())["count"]
            assert counted == min(unread, UNREAD_CAP), "the bench user should have its unread"
            suffix = f" ({unread:,})" if len(urls) > 1 else ""
            targets += [("unread-count" + suffix, base + "/api/notifications/unread-count", cookie),
                        ("list" + suffix, base + "/api/notifications?limit=10", cookie)]
        results = {}
        for name, url, cookie in targets:
            wrk(url, 2, args.connections, cookie)
            results[name] = wrk(url, args.seconds, args.connections, cookie)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
    unread = ", ".join(f"{n:,}" for n in urls)
    print(f"\n{label}: {args.total:,} notifications, {unread} unread for the user, "
          f"{args.connections} connections, {args.seconds} s each")
    for name, (rate, p50, p99, errors) in results.items():
        print(f"  {name:21} {rate:8.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   non-2xx {errors}")
    first = next(name for name in results if name.startswith("unread-count"))
    ratio = results[first][0] / results["hello-world"][0]
    print(f"  ratio                 {ratio:8.2f} x hello-world ({first})")
    tabs = results[first][0] * POLL_SECONDS
    print(f"  capacity              {tabs:8.0f} browsers with the bell open per web process, polls alone "
          f"(req/s x {POLL_SECONDS} s: one polling tab per browser, however many tabs it has)")
    if len(urls) > 1:
        low, high = min(urls), max(urls)
        for what in ("unread-count", "list"):
            a, b = results[f"{what} ({low:,})"], results[f"{what} ({high:,})"]
            print(f"  {high:,} against {low:,} unread, {what}: {a[0] / b[0]:.2f}x the time per request "
                  f"(req/s), {b[2] / a[2]:.2f}x the p99")
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--unread", type=int, nargs="+", default=[1_000],
                        help="the user's unread notifications; several: a database for each, measured in one run")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="stockbell-bell-") as tmp:
            urls = {unread: f"sqlite:///{Path(tmp) / f'bell-{unread}.db'}" for unread in args.unread}
            for unread, url in urls.items():
                load(url, args.total, unread)
            run("SQLite", urls, args)
    if args.db in ("postgres", "both"):
        cluster = TemporaryCluster().start()
        try:
            urls = {}
            for unread in args.unread:
                cluster.execute(f"CREATE DATABASE bell_{unread}")
                urls[unread] = cluster.url(f"bell_{unread}")
                load(urls[unread], args.total, unread)
            run("PostgreSQL", urls, args)
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
