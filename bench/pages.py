"""The pages that must not grow with the shop (issue 18): the dashboard, the products list (every tab,
every sort column, a search, a deep page), the product page, /api/products and /notifications, each
under wrk with 8 signed-in connections against the real app (`python app.py`, waitress), beside a
hello-world Flask app on the same waitress in the same run. On SQLite and on PostgreSQL (a throwaway
cluster).

    python bench/pages.py                       # one shop of 100,000 products, 30 sales each (3M movements)
    python bench/pages.py --quick --db sqlite   # 2,000 products, 1 s per page: a smoke run

The shop is bulk-loaded like bench/monitor_scan.py's (monitor_data.load: INSERT ... SELECT over a
number series), with the forecast on (3 days), every 50th product muted, and one monitor cycle run
so that the bell, the dashboard's lists and its alerts chart have rows. Prints p50 and p99 per page,
the p50 ratio to hello-world, one request's time alone, and whether each page meets the target
(p50 < 100 ms, p99 < 300 ms). `--no-forecast` measures the shop with the forecast off.
Needs Debian's `wrk`.
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
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from bench.monitor_data import Shape, bench_config, load, migrate, set_forecast  # noqa: E402
from bench.served import wait_for  # noqa: E402
from modules import create_app  # noqa: E402
from modules.alerts.monitor import run_cycle  # noqa: E402
from modules.extensions import db  # noqa: E402
from tests.support.postgres import TemporaryCluster, free_port  # noqa: E402

EMAIL, PASSWORD = "owner1@bench.test", "bench-password-2026"  # monitor_data.load's first shop owner
P50_TARGET, P99_TARGET = 100.0, 300.0  # ms, at 8 connections
HELLO = textwrap.dedent("""
    import sys
    from flask import Flask
    from waitress import serve
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return "Hello, World!"

    serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, ident="")
""")


def pages(products):
    """(name, path) of every page measured; a product in the middle of the shop, a deep page."""
    middle = products // 2 + 1
    deep = max(1, products // 25 - 10)
    listed = [("dashboard", "/"),
              *[(f"products {tab}", f"/retail/products?stock={tab}") for tab in ("all", "low", "out", "soon", "snoozed")],
              *[(f"products sort={sort} {d}", f"/retail/products?sort={sort}&dir={d}")
                for sort in ("name", "stock", "status") for d in ("asc", "desc")],
              ("products search", "/retail/products?q=duct+12"),
              ("products deep page", f"/retail/products?page={deep}"),
              ("product page", f"/retail/products/{middle}/edit"),
              ("api/products", "/api/products"),
              ("api/products low", "/api/products?stock=low&per_page=100"),
              ("api/products deep", f"/api/products?page={max(1, products // 20 - 10)}"),
              ("notifications", "/notifications")]
    return listed


def build(url, shape, forecast=True):
    """The shop: migrated, loaded, the owner's password set, the forecast on (unless not
    `forecast`), some products muted,
    one monitor cycle run (alerts, the bell's notifications)."""
    migrate(url)
    app = create_app(bench_config(url))
    with app.app_context():
        load(shape)
        set_forecast(shape, forecast)
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE users SET password_hash = :hash WHERE email = :email"),
                         {"hash": generate_password_hash(PASSWORD), "email": EMAIL})
            conn.execute(text("UPDATE products SET muted = TRUE WHERE id % 50 = 7"))
        run_cycle()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
        db.engine.dispose()


def session_cookie(base):
    request = urllib.request.Request(base + "/api/auth/login", data=json.dumps(
        {"email": EMAIL, "password": PASSWORD}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie"))


def wrk(url, seconds, connections, cookie=None):
    """(requests/s, p50 ms, p99 ms, non-2xx) from one wrk run (0 requests/s: none answered in time)."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", url]
    if cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def percentile(p):
        found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if not found:
            return float("nan")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return rate, percentile(50), percentile(99), int(errors.group(1)) if errors else 0


def check(url, cookie):
    """The page answers 200 itself (wrk would count a redirect to the sign-in page as a success);
    behind the requests a run left queued, so it also waits for them."""
    headers = {"Cookie": cookie} if cookie else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=600) as response:
        if response.status != 200 or response.url != url:
            raise SystemExit(f"{url} answered {response.status} at {response.url}")


def serve(url, port):
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SEED_DEMO": "0", "STOCK_MONITOR_ENABLED": "0",
           "DELIVERY_ENABLED": "0", "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def measure(label, url, shape, args, out=print):
    """Serve the shop and hello-world, run wrk against each, report; returns {page: (rate, p50, p99,
    errors, alone)}, `alone` the time of one request with nothing else in flight."""
    port, hello_port = free_port(), free_port()
    procs = [serve(url, port), subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    base = f"http://127.0.0.1:{port}"
    results = {}
    try:
        wait_for(f"http://127.0.0.1:{hello_port}/")
        wait_for(base + "/health")
        cookie = session_cookie(base)
        targets = [("hello-world", f"http://127.0.0.1:{hello_port}/", None)]
        targets += [(name, base + path, cookie) for name, path in pages(shape.products)]
        if args.only:
            targets = [t for t in targets if t[0] == "hello-world" or any(o in t[0] for o in args.only)]
        for name, target, with_cookie in targets[1:]:
            check(target, with_cookie)
        for name, target, with_cookie in targets:
            wrk(target, 1, args.connections, with_cookie)  # warm: connections, caches, the planner
            check(target, with_cookie)  # a slow page's queued requests drained before it is measured
            started = time.perf_counter()
            check(target, with_cookie)
            alone = (time.perf_counter() - started) * 1000  # one request with nothing else in flight
            results[name] = (*wrk(target, args.seconds, args.connections, with_cookie), alone)
            check(target, with_cookie)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
    hello = results["hello-world"][1]
    out(f"\n{label}: {shape.products:,} products, {shape.sale_movements:,} sale movements, "
        f"forecast {'off' if args.no_forecast else 'on'}, "
        f"{args.connections} connections, {args.seconds} s each; load average {os.getloadavg()[0]:.2f}")
    for name, (rate, p50, p99, errors, alone) in results.items():
        verdict = "" if name == "hello-world" else (
            "no answer in time" if not rate else "ok" if p50 < P50_TARGET and p99 < P99_TARGET else "SLOW")
        out(f"  {name:26} {rate:8.1f} req/s  p50 {p50:8.2f} ms  p99 {p99:8.2f} ms  "
            f"x{p50 / hello if hello else float('nan'):7.1f}  alone {alone:7.1f} ms  non-2xx {errors:<4} {verdict}")
    return results


def main(argv=None, out=print):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--movements", type=int, default=30, help="sale movements per product")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--only", nargs="*", help="measure only the pages whose name contains one of these")
    parser.add_argument("--no-forecast", action="store_true",
                        help="the forecast off (forecast_days = 0): no page reads the window's sales")
    parser.add_argument("--quick", action="store_true", help="2,000 products, 5 sales each, 1 s per page")
    args = parser.parse_args(argv)
    if args.quick:
        args.products, args.movements, args.seconds = 2_000, 5, 1
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    shape = Shape(shops=1, products=args.products, low_every=20, movements=args.movements)
    results = {}
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="stockbell-pages-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'pages.db'}"
            build(url, shape, not args.no_forecast)
            results["sqlite"] = measure("SQLite", url, shape, args, out)
    if args.db in ("postgres", "both"):
        cluster = TemporaryCluster().start()
        try:
            cluster.execute("CREATE DATABASE pages")
            url = cluster.url("pages")
            build(url, shape, not args.no_forecast)
            results["postgres"] = measure("PostgreSQL", url, shape, args, out)
        finally:
            cluster.stop()
    return results


if __name__ == "__main__":
    main()
