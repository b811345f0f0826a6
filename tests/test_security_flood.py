"""A sign-in flood is refused, not queued, by the server `python app.py` runs (modules/serving.py):
when every password-check slot is taken, waitress's own thread answers a sign-in or sign-up 429
the moment it has read it, with the gate's very answer, without the app, a worker thread or the
database; the connection stays usable and answers stay in order. Speed is measured in
bench/signin_flood.py, not here."""
import json
import socket
import threading

import pytest
from waitress import wasyncore

from modules.auth import gate
from modules.auth.gate import EarlyRefusals, SignInGate, Slots
from modules.serving import bind
from tests.support.app import statements_of

SIGN_IN = "/api/auth/login"


@pytest.fixture
def served(app):
    """The app behind app.py's waitress (its settings, its early refusals) on a free port; the
    app's WSGI calls are counted in `served.calls`."""
    app.config.update(HOST="127.0.0.1", PORT=0)
    calls = []
    inner = app.wsgi_app

    def counted(environ, start_response):
        calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        return inner(environ, start_response)

    app.wsgi_app = counted
    connections = {}
    server = bind(app, connections)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    server.calls = calls
    yield server
    wasyncore.close_all(connections)
    thread.join(10)
    server.task_dispatcher.shutdown(timeout=2)


@pytest.fixture
def busy(app):
    """Every password-check slot taken, as by sign-ins under way."""
    slots = app.extensions["login_hash_slots"]
    before = slots.taken
    while slots.acquire(blocking=False):
        pass
    yield slots
    while slots.taken > before:  # a test may have given one back
        slots.release()


def request_bytes(method, path, body=None, **headers):
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", "Host: stockbell.test", f"Content-Length: {len(data)}",
             *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]
    if body is not None:
        lines.append("Content-Type: application/json")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def read_answer(stream):
    """(status, headers with lower-case names, body) of the next answer on `stream`; None at its end."""
    status_line = stream.readline()
    if not status_line:
        return None
    headers = {}
    for line in iter(stream.readline, b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, stream.read(int(headers.get("content-length", 0)))


def connect(server):
    sock = socket.create_connection(("127.0.0.1", server.effective_port), timeout=10)
    return sock, sock.makefile("rb")


def test_a_busy_sign_in_is_answered_by_the_servers_own_thread_without_the_app_or_the_database(app, shop, served,
                                                                                                 busy):
    sock, stream = connect(served)
    with sock, stream:
        def refused():
            sock.sendall(request_bytes("POST", SIGN_IN, {"email": shop.email, "password": shop.password}))
            return read_answer(stream)

        answers = []
        statements = statements_of(app, lambda: answers.append(refused()))
        status, headers, body = answers[0]
        assert status == 429 and headers["retry-after"] == "1"
        assert json.loads(body) == {"error": "The server is busy checking passwords; try again in a moment.",
                                    "details": {}}
        gate_headers, gate_body = SignInGate(app, None).answers[SIGN_IN]
        assert body == gate_body
        assert {name.lower(): value for name, value in gate_headers}.items() <= headers.items()
        assert headers["cache-control"] == "no-store" and "date" in headers
        assert served.calls == [] and statements == []  # neither the app nor the database saw it
        # The connection goes on: another request on it is the app's, and the sign-in gets in once a
        # slot is free.
        sock.sendall(request_bytes("GET", "/api/auth/me"))
        assert read_answer(stream)[0] == 401
        busy.release()
        assert refused()[0] == 200
        assert served.calls == [("GET", "/api/auth/me"), ("POST", SIGN_IN)]


def test_every_gated_path_is_refused_early_and_other_posts_are_not(app, shop, served, busy):
    sock, stream = connect(served)
    with sock, stream:
        for path in ("/api/auth/login", "/login", "/api/auth/register", "/register"):
            sock.sendall(request_bytes("POST", path, {}))
            status, headers, body = read_answer(stream)
            assert status == 429 and headers["retry-after"] == "1", path
            assert (b"busy" in body) and headers["content-type"].startswith(
                "application/json" if path.startswith("/api/") else "text/html"), path
        assert served.calls == []
        sock.sendall(request_bytes("POST", "/api/auth/logout", {}))
        assert read_answer(stream)[0] != 429
        assert served.calls == [("POST", "/api/auth/logout")]


def test_pipelined_requests_are_answered_in_order(app, shop, served, busy):
    sock, stream = connect(served)
    with sock, stream:
        sock.sendall(request_bytes("GET", "/api/auth/me") + request_bytes("POST", SIGN_IN, {"email": shop.email})
                     + request_bytes("GET", "/api/auth/me") + request_bytes("POST", SIGN_IN, {"email": shop.email}))
        assert [read_answer(stream)[0] for _ in range(4)] == [401, 429, 401, 429]
    assert served.calls == [("GET", "/api/auth/me")] * 2


def test_a_busy_sign_in_that_closes_its_connection_is_the_gates_to_refuse(app, shop, served, busy):
    sock, stream = connect(served)
    with sock, stream:
        sock.sendall(request_bytes("POST", SIGN_IN, {"email": shop.email, "password": shop.password},
                                   Connection="close"))
        status, headers, _ = read_answer(stream)
        assert status == 429 and headers["retry-after"] == "1" and headers["connection"] == "close"
        assert read_answer(stream) is None  # closed, as asked
    assert served.calls == [("POST", SIGN_IN)]


def test_slots_are_taken_without_waiting_and_looked_at_without_taking():
    slots = Slots(2)
    assert slots.acquire() and not slots.full
    assert slots.acquire() and slots.full
    assert not slots.acquire(blocking=False) and slots.taken == 2
    slots.release()
    assert not slots.full
    with pytest.raises(ValueError):
        slots.acquire(blocking=True)
    slots.release()
    with pytest.raises(ValueError):
        slots.release()


class Dispatcher:
    """Waitress's task dispatcher as EarlyRefusals reads it: threads at work, tasks waiting."""

    def __init__(self, active_count, waiting=0):
        self.active_count = active_count
        self.queue = [object()] * waiting


def pauses_taken(monkeypatch, dispatcher, checks_under_way):
    """The sleeps of EarlyRefusals over three refusals: a first, one within its turn, one long after."""
    pauses = []
    monkeypatch.setattr(gate.time, "sleep", pauses.append)
    slots = Slots(2)
    for _ in range(checks_under_way):
        slots.acquire()
    refusals = EarlyRefusals(dispatcher, slots)
    for now in (100.0, 100.0 + gate.PAUSE + gate.TURN / 2, 200.0):
        refusals.make_way(now)
    return pauses


def test_refusals_pause_for_the_requests_being_served(monkeypatch):
    # A page at work beside the password check, or one waiting for a thread: a pause per turn.
    assert pauses_taken(monkeypatch, Dispatcher(active_count=2), checks_under_way=1) == [gate.PAUSE] * 2
    assert pauses_taken(monkeypatch, Dispatcher(active_count=1, waiting=1), checks_under_way=1) == [gate.PAUSE] * 2


def test_refusals_run_flat_out_when_only_password_checks_are_at_work(monkeypatch):
    assert pauses_taken(monkeypatch, Dispatcher(active_count=2), checks_under_way=2) == []
    assert pauses_taken(monkeypatch, Dispatcher(active_count=0), checks_under_way=0) == []
