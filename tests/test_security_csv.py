"""CSV import with bounded memory: read as a stream, at most 100 bad lines named (then `more`),
every cell through the JSON API's own checks (`²` is a bad number, U+0085 a bad name: 400, never
500), and a 16 MiB hostile file costs a served process under +100 MiB and answers within 5 s."""
import http.client
import json
import signal
import time
import uuid

import pytest

from modules.extensions import db
from modules.retail.models import Product
from tests.support.postgres import free_port
from tests.support.process import read_until, start
from tests.support.csvfiles import HEADER, upload


def product_count():
    db.session.rollback()
    return db.session.execute(db.select(db.func.count()).select_from(Product)).scalar_one()


@pytest.mark.parametrize("column", ["stock", "low_stock_threshold"])
@pytest.mark.parametrize("number", ["²", "①", "1²", "١٢", "1_000", "+5", "1e3", "0x10", "½"])
def test_a_number_cell_that_is_not_a_whole_number_is_a_400(shop, column, number):
    cells = {"stock": "1", "low_stock_threshold": ""}
    cells[column] = number
    response = upload(shop, HEADER + f"Tea,T-1,,{cells['stock']},{cells['low_stock_threshold']},true\n")
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] and column in body["details"]["line 2"]
    assert product_count() == 0


@pytest.mark.parametrize("name", ["Tea\u0085Bags", "Tea\u0085", "Tea\u009b", "Tea\u2028Bags", "Tea\u2029Bags",
                                  "Tea\x07"])
def test_a_name_the_json_api_refuses_the_import_refuses_too(shop, name):
    by_json = shop.post("/api/products", json={"name": name})
    assert by_json.status_code == 400
    by_csv = upload(shop, HEADER + f"{name},T-1,,1,,true\n")
    assert by_csv.status_code == 400
    # The same check (validation.Fields.text) says why.
    assert by_csv.get_json()["details"]["line 2"] == "name: Must not contain control characters or line breaks."
    assert product_count() == 0


def test_at_most_100_bad_lines_are_named_and_the_rest_counted(shop):
    response = upload(shop, HEADER + "".join(f"Tea {n},T-{n},,-1,,true\n" for n in range(250)))
    assert response.status_code == 400
    body = response.get_json()
    assert len(body["details"]) == 100 and body["more"] == 150
    assert list(body["details"])[:2] == ["line 2", "line 3"]
    assert product_count() == 0


def test_a_few_bad_lines_have_no_more(shop):
    body = upload(shop, HEADER + "Tea,T-1,,-1,,true\n").get_json()
    assert "more" not in body and list(body["details"]) == ["line 2"]


def test_a_line_too_long_is_refused_without_reading_on(shop):
    response = upload(shop, HEADER + "," * 100_000 + "\nTea,T-1,,1,,true\n")
    assert response.status_code == 400 and "longer than" in response.get_json()["details"]["line 2"].lower()
    assert product_count() == 0


# --- a served process: memory and time ---------------------------------------------------------

MiB = 1024 * 1024


def vm(pid, field):
    """VmRSS or VmHWM (the peak) of a process, in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


class Served:
    """A signed-in manager of a shop on `python app.py`, speaking plain HTTP."""

    def __init__(self, port):
        self.port = port
        self.cookie = self.csrf = None

    def request(self, method, path, body=b"", headers=None, timeout=60):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            all_headers = {"Cookie": self.cookie or "", "X-CSRFToken": self.csrf or "", **(headers or {})}
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return response.status, response.msg.get_all("Set-Cookie") or [], response.read()
        finally:
            connection.close()

    def register(self):
        status, cookie, body = self.request("POST", "/api/auth/register", json.dumps({
            "shop_name": "Big Import", "email": "big@example.com", "password": "shop-password-123"}).encode(),
            {"Content-Type": "application/json"})
        assert status == 201, body
        self.cookie = next(c.split(";", 1)[0] for c in cookie if c.startswith("session="))
        self.csrf = json.loads(body)["csrf_token"]

    def upload(self, data):
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n"
                f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        status, _, answer = self.request("POST", "/api/products/import", body,
                                         {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status, answer


BAD_LINE = "Tea ²,,,²,①,true\n".encode()
HOSTILE = {
    # The finding's file: millions of one-cell lines, each a bad line.
    "one-cell lines": lambda: HEADER.encode() + b"x\n" * (8 * MiB - len(HEADER) // 2),
    # One line of 16 million empty cells.
    "one huge line": lambda: HEADER.encode() + b"," * (16 * MiB - len(HEADER)),
    # Well-formed lines, each with a number that is not one.
    "bad numbers": lambda: HEADER.encode() + BAD_LINE * ((16 * MiB - len(HEADER)) // len(BAD_LINE)),
    # Multi-byte text that stays within the bounds, with no newline for a long way.
    "long quoted cell": lambda: HEADER.encode() + b'"' + "é".encode() * (8 * MiB - len(HEADER)) + b'"\n',
}


def test_a_16_mib_hostile_file_costs_a_served_process_under_100_mib_and_5_seconds(database_url):
    port = free_port()
    proc = start(database_url, port, SEED_DEMO="0", STOCK_MONITOR_ENABLED="0", DELIVERY_ENABLED="0",
                 SIGNUP_PER_ADDRESS_PER_HOUR="100")
    try:
        read_until(proc, r"serving on")
        served = Served(port)
        served.register()
        # Warm up every code path of an import (a good file and a bad one) before measuring.
        assert served.upload((HEADER + "Tea,T-1,,1,,true\n").encode())[0] == 200
        assert served.upload((HEADER + "Tea,T-2,,-1,,true\n").encode())[0] == 400
        results = {}
        for name, make in HOSTILE.items():
            data = make()
            assert 15 * MiB < len(data) <= 16 * MiB, (name, len(data))
            before = vm(proc.pid, "VmRSS")
            started = time.monotonic()
            status, answer = served.upload(data)
            took = time.monotonic() - started
            grew = vm(proc.pid, "VmHWM") - before
            del data
            body = json.loads(answer)
            results[name] = (status, took, grew // MiB, len(body.get("details", {})), body.get("more"))
            assert status == 400 and body["error"], (name, answer[:300])
            assert len([k for k in body["details"] if k.startswith("line ")]) <= 100, name
            assert took < 5.0, (name, took)
            assert grew < 100 * MiB, (name, grew // MiB)
        assert results["bad numbers"][4] > 0  # counted beyond the hundred named
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    print(results)
