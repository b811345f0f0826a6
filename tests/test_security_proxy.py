"""The app behind real nginx, with the repository's own configuration (deploy/nginx.conf) and
TRUSTED_PROXIES=1: a hundred slow, never-finished uploads do not keep a new client's sign-in from
answering within 2 s (nginx holds them, waitress never sees them), and the throttle and the
sign-up limit key on the address nginx forwards, which a client cannot spoof."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.postgres import free_port
from tests.support.process import ROOT, read_until, start

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SITE = ROOT / "deploy" / "nginx.conf"


@pytest.fixture
def nginx_binary():
    if NGINX is None:
        if os.environ.get("CI"):
            pytest.fail("CI but no nginx (apt-get install nginx)")
        pytest.skip("nginx not installed (apt-get install nginx); the proxy test is skipped")
    return NGINX


def run_nginx(binary, workdir: Path, listen_port, app_port):
    """The repository's site file with this test's ports, inside a minimal main configuration."""
    site = SITE.read_text()
    assert "server 127.0.0.1:8000;" in site and "listen 80;" in site
    site = (site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
            .replace("listen 80;", f"listen 127.0.0.1:{listen_port};").replace("listen [::]:80;", ""))
    (workdir / "site.conf").write_text(site)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"  {kind}_temp_path {workdir / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                          "scgi"))
    (workdir / "main.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} warn;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{\n  access_log off;\n{temp}  include {workdir / 'site.conf'};\n}}\n")
    proc = subprocess.Popen([binary, "-p", str(workdir), "-c", str(workdir / "main.conf"),
                             "-e", str(workdir / "error.log")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", listen_port), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.stdout.read().decode() + (workdir / "error.log").read_text())
            time.sleep(0.05)
    raise AssertionError("nginx did not start")


class Client:
    """One client machine: its own source address on the loopback network."""

    def __init__(self, port, address):
        self.port, self.address = port, address

    def post(self, path, body, headers=None, timeout=10):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                                source_address=(self.address, 0))
        try:
            connection.request("POST", path, json.dumps(body).encode(),
                               {"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def slow_uploads(port, count, stop):
    """`count` uploads that send their headers, then a byte every second, and never finish."""
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"POST /api/products/import HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 10000000\r\n"
                  b"Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n")
        sockets.append(s)

    def trickle():
        while not stop.wait(1.0):
            for s in sockets:
                try:
                    s.sendall(b"a")
                except OSError:
                    pass
        for s in sockets:
            s.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    return sockets, thread


def test_behind_nginx_slow_uploads_do_not_starve_sign_in_and_the_throttle_sees_the_client(
        nginx_binary, database_url, tmp_path):
    app_port, nginx_port = free_port(), free_port()
    app = start(database_url, app_port, SEED_DEMO="0", STOCK_MONITOR_ENABLED="0", DELIVERY_ENABLED="0",
                TRUSTED_PROXIES="1", LOGIN_ADDRESS_MAX_FAILURES="3", SIGNUP_PER_ADDRESS_PER_HOUR="2",
                WAITRESS_CONNECTION_LIMIT="50")
    nginx = None
    stop = threading.Event()
    try:
        read_until(app, r"serving on")
        nginx = run_nginx(nginx_binary, tmp_path, nginx_port, app_port)
        owner = Client(nginx_port, "127.0.0.2")
        status, _ = owner.post("/api/auth/register", {"shop_name": "Proxied", "email": "owner@example.com",
                                                      "password": "shop-password-123"})
        assert status == 201

        # A hundred slow uploads (more than waitress's 50 connections here), then a new client.
        sockets, trickler = slow_uploads(nginx_port, 100, stop)
        time.sleep(1.5)
        newcomer = Client(nginx_port, "127.0.0.9")
        started = time.monotonic()
        status, _ = newcomer.post("/api/auth/login", {"email": "owner@example.com", "password": "shop-password-123"})
        took = time.monotonic() - started
        assert status == 200 and took < 2.0, (status, took)
        assert len(sockets) == 100

        # The throttle keys on the address nginx forwards: 127.0.0.3 fails three times (any
        # accounts), then waits even with the right password and a spoofed X-Forwarded-For ...
        stranger = Client(nginx_port, "127.0.0.3")
        for n in range(3):
            assert stranger.post("/api/auth/login", {"email": f"guess{n}@example.com", "password": "x"})[0] == 401
        right = {"email": "owner@example.com", "password": "shop-password-123"}
        assert stranger.post("/api/auth/login", right)[0] == 429
        assert stranger.post("/api/auth/login", right, {"X-Forwarded-For": "198.51.100.77"})[0] == 429
        # ... while everyone else behind the same nginx signs in.
        engine = create_engine(database_url)
        with engine.connect() as connection:
            addresses = dict(connection.execute(text(
                "SELECT key, failures FROM login_attempts WHERE kind = 'address'")).all())
        engine.dispose()
        assert addresses == {"127.0.0.3": 3}
        assert Client(nginx_port, "127.0.0.4").post("/api/auth/login", right)[0] == 200

        # Sign-ups are counted per forwarded address too (127.0.0.2 made the shop above).
        second = {"shop_name": "Second", "email": "second@example.com", "password": "shop-password-123"}
        assert owner.post("/api/auth/register", second)[0] == 201
        third = {**second, "email": "third@example.com"}
        assert owner.post("/api/auth/register", third)[0] == 429
        assert Client(nginx_port, "127.0.0.5").post("/api/auth/register", third)[0] == 201
    finally:
        stop.set()
        if nginx is not None:
            nginx.send_signal(signal.SIGQUIT)
            try:
                nginx.wait(10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=30)


def test_waitress_closes_an_idle_connection_after_its_channel_timeout(database_url):
    """Waitress's own limit, from the configuration (WAITRESS_CHANNEL_TIMEOUT): a connection that
    sends nothing is closed, not kept for waitress's default two minutes."""
    port = free_port()
    app = start(database_url, port, SEED_DEMO="0", STOCK_MONITOR_ENABLED="0", DELIVERY_ENABLED="0",
                WAITRESS_CHANNEL_TIMEOUT="2")
    try:
        read_until(app, r"serving on")
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.monotonic()
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        assert idle.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 8
        idle.close()
    finally:
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=30)
