"""`flask --app app workers run`: the monitor and the dispatcher in their own process, stopped by
SIGTERM; and the deployment DESIGN.md describes: three web processes with the workers off and one
worker process on one PostgreSQL, every alert once and every delivery once."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.postgres import free_port
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
SECRET = "shared-secret-of-the-test-deployment"


def environment(database_url, **extra):
    return {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "SEED_DEMO": "0",
            "HOST": "127.0.0.1", "PUBLIC_URL": "http://stockbell.test", "PYTHONUNBUFFERED": "1",
            "STOCK_MONITOR_INITIAL_DELAY": "0", "DELIVERY_COALESCE_SECONDS": "0", **{k: str(v) for k, v in extra.items()}}


class Output:
    """Reads a process's output in a thread, so that a full pipe never blocks its logging."""

    def __init__(self, proc):
        self.proc, self.lines, self.lock = proc, [], threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line)

    def text(self):
        with self.lock:
            return "".join(self.lines)

    def wait_for(self, pattern, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return
            if self.proc.poll() is not None and not re.search(pattern, self.text()):
                time.sleep(0.2)
                break
            time.sleep(0.05)
        raise AssertionError(f"never printed {pattern}:\n{self.text()}")


def start_worker(database_url, **extra):
    env = environment(database_url, STOCK_MONITOR_INTERVAL=1, DELIVERY_POLL_SECONDS=0.2, **extra)
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "workers", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def start_web(database_url, port):
    env = environment(database_url, PORT=port, STOCK_MONITOR_ENABLED=0, DELIVERY_ENABLED=0)
    return subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop(proc, output, timeout=15):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=timeout)
    time.sleep(0.2)  # the reader thread takes the last lines
    return proc.returncode, output.text()


def test_the_worker_command_runs_until_sigterm(database_url):
    worker = start_worker(database_url)
    output = Output(worker)
    try:
        output.wait_for(r"workers running: stock-monitor, delivery-dispatcher")
        started = time.monotonic()
        code, text = stop(worker, output)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, text
    assert "workers stopped" in text and time.monotonic() - started < 10


class Browser:
    """A signed-in JSON client that can talk to any of the web processes (one cookie jar)."""

    def __init__(self):
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.csrf = None

    def call(self, base, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf or ""})
        with self.opener.open(request, timeout=30) as response:
            answer = json.loads(response.read() or b"null")
        if isinstance(answer, dict) and "csrf_token" in answer:
            self.csrf = answer["csrf_token"]
        return answer


def test_three_web_processes_and_one_worker_send_every_alert_once(pg_cluster):
    name = f"deploy_{os.getpid()}"
    pg_cluster.execute(f"CREATE DATABASE {name} TEMPLATE stockbell_template")
    url = pg_cluster.url(name)
    mails = ["owner@deploy.example", "buyer@deploy.example"]
    ports = [free_port() for _ in range(3)]
    with SmtpServer() as smtp:
        webs = [start_web(url, port) for port in ports]
        worker = start_worker(url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port,
                              MAIL_DEFAULT_SENDER="alerts@deploy.example")
        outputs = [Output(p) for p in webs + [worker]]
        try:
            for out in outputs[:3]:
                out.wait_for(r"serving on")
            outputs[3].wait_for(r"workers running")
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            browser = Browser()
            browser.call(bases[0], "POST", "/api/auth/register",
                         {"shop_name": "Deploy Shop", "email": "owner@deploy.example", "password": "shop-password-123"})
            browser.call(bases[1], "POST", "/api/notifications/settings",
                         {"email_enabled": True, "email_recipients": mails})
            products = [browser.call(bases[i % 3], "POST", "/api/products", {"name": f"Product {i:02d}", "stock": 20})
                        for i in range(30)]
            for i, product in enumerate(products):  # each goes low through one process, then sells on another
                browser.call(bases[i % 3], "POST", f"/api/products/{product['id']}/stock",
                             {"delta": -16, "reason": "sale"})
                browser.call(bases[(i + 1) % 3], "POST", f"/api/products/{product['id']}/stock",
                             {"delta": -1, "reason": "sale"})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(smtp.messages()) < 60:
                time.sleep(0.2)
            time.sleep(2)  # a few more monitor cycles and dispatcher polls: nothing more may come
            code, output = stop(worker, outputs[3])
            assert code == 0, output
        finally:
            for proc in webs + [worker]:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in webs + [worker]:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        received = [(m.rcpt_tos[0], m.subject) for m in smtp.messages()]
    assert len(received) == 60 and len(set(received)) == 60
    assert {subject for _, subject in received} == {f"Low stock: Product {i:02d} at Deploy Shop" for i in range(30)}
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            assert db.execute(text("SELECT count(*), count(DISTINCT product_id) FROM stock_alert_log")).one() == (30, 30)
            assert db.execute(text("SELECT count(*) FROM notifications")).scalar() == 30
            statuses = db.execute(text("SELECT status, count(*), max(attempts) FROM deliveries GROUP BY status")).all()
            assert [tuple(s) for s in statuses] == [("sent", 60, 1)]
    finally:
        engine.dispose()
    assert re.search(r"workers stopped", output)
