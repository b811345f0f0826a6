"""A sign-in flood against the real app (`python app.py`, waitress, TRUSTED_PROXIES=1): 24 clients
in a process of their own (at nice 10: the attackers' CPU is not the server's) post wrong
passwords as fast as they are answered, each request from
another forwarded address, while another client reads GET /api/products (a signed-in manager, 200
products). Prints that client's median latency quiet and under the flood, and the ratio
(target: under 3x), with what the flood got (how many password checks, how many 429s). The quiet
figure is measured before and after the flood, so that drift in the machine's other load counts
on both sides.

    python bench/signin_flood.py [--seconds 10] [--clients 24] [--db sqlite|postgres|both] [--app-only]

Each database is measured twice: the app alone, and (when Debian's nginx is installed, unless
--app-only) with every client, the reader too, going through the repository's deploy/nginx.conf,
each flood client from its own loopback address: the production setting, where nginx answers
most of the flood itself.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402

from bench.served import wait_for  # noqa: E402
from modules import create_app  # noqa: E402
from modules.auth import service  # noqa: E402
from modules.extensions import db  # noqa: E402
from modules.retail import service as retail  # noqa: E402
from tests.support.postgres import TemporaryCluster, free_port  # noqa: E402

EMAIL, PASSWORD = "flood@bench.example", "bench-password-2026"


def load(url, products=200):
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SEED_DEMO": False, "STOCK_MONITOR_ENABLED": False,
                      "DELIVERY_ENABLED": False, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        client, user = service.create_shop("Flood Shop", EMAIL, PASSWORD, "UTC")
        for n in range(products):
            retail.create_product(client.id, user.id, name=f"Product {n:03}", sku=f"P-{n:03}", stock=n % 30)
        db.session.commit()
        db.engine.dispose()


def sign_in(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/api/auth/login", json.dumps({"email": EMAIL, "password": PASSWORD}),
                       {"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.1"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    cookies = [c.split(";", 1)[0] for c in response.msg.get_all("Set-Cookie")]
    connection.close()
    return "; ".join(c for c in cookies if c.startswith("session="))


def latencies(port, cookie, seconds):
    """Milliseconds of each GET /api/products made one after another for `seconds`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        connection.request("GET", "/api/products?per_page=50", headers={"Cookie": cookie})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.01)  # a person's client, not a second flood
    connection.close()
    return times


def flood(port, clients, stop, counts, own_addresses=False):
    """`clients` threads posting wrong passwords, each request from a new forwarded address (with
    `own_addresses`, each client connects from its own loopback address, for a proxy to see)."""
    def one(n):
        rng = random.Random(n)
        connection = None
        seen = Counter()
        source = (f"127.0.{n // 250 + 1}.{n % 250 + 1}", 0) if own_addresses else None
        while not stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=source)
            address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            email = EMAIL if rng.random() < 0.5 else f"user{rng.randrange(10_000)}@bench.example"
            try:
                connection.request("POST", "/api/auth/login",
                                   json.dumps({"email": email, "password": f"guess-{rng.random()}"}),
                                   {"Content-Type": "application/json", "X-Forwarded-For": address})
                response = connection.getresponse()
                response.read()
                seen[response.status] += 1
            except (OSError, http.client.HTTPException):
                seen["error"] += 1
                connection.close()
                connection = None
        for key, value in seen.items():
            counts[str(key)] = counts.get(str(key), 0) + value

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _flood_process(port, clients, seconds, queue, own_addresses):
    # The attackers are other machines: on this one their own CPU must not count against the
    # server, so they run at a lower priority (they still send as fast as they are answered).
    os.nice(10)
    stop = threading.Event()
    counts = {}
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    flood(port, clients, stop, counts, own_addresses)
    queue.put(counts)


def run(label, url, args):
    port = app_port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "SEED_DEMO": "0", "STOCK_MONITOR_ENABLED": "0",
           "DELIVERY_ENABLED": "0", "HOST": "127.0.0.1", "PORT": str(app_port), "TRUSTED_PROXIES": "1",
           "LOG_LEVEL": "WARNING"}
    app = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    nginx = workdir = None
    try:
        wait_for(f"http://127.0.0.1:{app_port}/health")
        if args.via_nginx:
            from tests.test_security_proxy import NGINX, run_nginx

            workdir = tempfile.TemporaryDirectory(prefix="stockbell-nginx-")
            port = free_port()
            nginx = run_nginx(NGINX, Path(workdir.name), port, app_port)
            label += " via nginx"
        cookie = sign_in(port)
        latencies(port, cookie, 2)  # warm up
        quiet = latencies(port, cookie, args.seconds)
        queue = multiprocessing.Queue()
        flooder = multiprocessing.Process(target=_flood_process,
                                          args=(port, args.clients, args.seconds + 3, queue, args.via_nginx))
        flooder.start()
        time.sleep(2)  # the flood at full pace before measuring
        loud = latencies(port, cookie, args.seconds)
        counts = queue.get(timeout=120)
        flooder.join(30)
        quiet += latencies(port, cookie, args.seconds)  # quiet again: the machine's own drift is in both
    finally:
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(15)
            workdir.cleanup()
        app.send_signal(signal.SIGTERM)
        app.wait(15)
    quiet_median, loud_median = statistics.median(quiet), statistics.median(loud)
    ratio = loud_median / quiet_median
    total = sum(counts.values())
    print(f"\n{label}: GET /api/products (50 of 200 products), {args.clients} clients flooding POST /api/auth/login")
    print(f"  quiet        median {quiet_median:7.2f} ms  p90 {statistics.quantiles(quiet, n=10)[-1]:7.2f} ms"
          f"  ({len(quiet)} requests)")
    print(f"  under flood  median {loud_median:7.2f} ms  p90 {statistics.quantiles(loud, n=10)[-1]:7.2f} ms"
          f"  ({len(loud)} requests)")
    print(f"  flood        {total} sign-ins in {args.seconds + 3} s ({total / (args.seconds + 3):.0f}/s): "
          + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"  ratio        {ratio:7.2f} x quiet (target < 3)")
    return ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=24)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--app-only", action="store_true", help="skip the runs through deploy/nginx.conf")
    args = parser.parse_args()
    from tests.test_security_proxy import NGINX

    modes = [False] + ([True] if NGINX and not args.app_only else [])
    if len(modes) == 1 and not args.app_only:
        print("nginx is not installed (apt-get install nginx): the app alone only")
    ratios = {}

    def both_modes(label, url):
        for via_nginx in modes:
            args.via_nginx = via_nginx
            ratios[label + (" via nginx" if via_nginx else "")] = run(label, url, args)

    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="stockbell-flood-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'flood.db'}"
            load(url)
            both_modes("SQLite", url)
    if args.db in ("postgres", "both"):
        cluster = TemporaryCluster().start()
        try:
            load(cluster.url())
            both_modes("PostgreSQL", cluster.url())
        finally:
            cluster.stop()
    print("\nratios (under flood / quiet, target < 3): "
          + ", ".join(f"{label} {ratio:.2f}x" for label, ratio in ratios.items()))


if __name__ == "__main__":
    main()
