"""`python app.py` as a newcomer runs it: migrate, seed the demo shop, print its login once,
serve, and stop cleanly on SIGTERM."""
import re
import signal
import urllib.request
from http.cookiejar import CookieJar
from urllib.parse import urlencode

from tests.support.postgres import free_port
from tests.support.process import read_until, start


def test_python_app_py_serves_the_demo_shop_and_stops_on_sigterm(database_url, tmp_path):
    port = free_port()
    proc = start(database_url, port)
    try:
        login, _ = read_until(proc, r"Log in at \S+ as (\S+) with password (\S+)")
        read_until(proc, r"serving on")
        base = f"http://127.0.0.1:{port}"
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login_page = opener.open(base + "/login")
        assert login_page.headers.get("Server") is None  # no banner
        page = login_page.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urlencode({"csrf_token": token, "email": login.group(1), "password": login.group(2)}).encode()
        dashboard = opener.open(base + "/login", data=form).read().decode()  # follows the redirect
        assert "Demo Corner Shop" in dashboard and "What needs attention" in dashboard
        products = opener.open(base + "/retail/products").read().decode()
        assert products.count("badge-out") == 1 and products.count("badge-low") >= 2
        bell = opener.open(base + "/api/notifications/unread-count").read().decode()
        assert '"count":' in bell and '"count": 0' not in bell and '"count":0' not in bell
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "stopped" in output


def test_second_start_prints_no_new_login(database_url):
    port = free_port()
    first = start(database_url, port)
    read_until(first, r"serving on")
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    second = start(database_url, port)
    _, seen = read_until(second, r"serving on")
    second.send_signal(signal.SIGTERM)
    second.communicate(timeout=30)
    assert not any("Log in at" in line for line in seen)
