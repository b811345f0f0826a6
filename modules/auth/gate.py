"""The password-check slots and the two places that refuse a sign-in when they are all taken:
`SignInGate`, a WSGI layer in front of Flask, and `EarlyRefusals`, waitress's own thread answering
as soon as it has read the request. Either way the answer is the same 429, made once at start-up,
and a flood is refused, not queued: it never waits for a thread, a session or the database."""
import os
import threading
import time

from waitress.channel import ClientDisconnected
from waitress.utilities import build_http_date

from ..access import log_request
from ..headers import SECURITY_HEADERS

SLOT_KEY = "stockbell.hash_slot"  # in the WSGI environ: this request holds a password-check slot
BUSY = "The server is busy checking passwords; try again in a moment."
GATED = frozenset({("POST", "/api/auth/login"), ("POST", "/login"),
                   ("POST", "/api/auth/register"), ("POST", "/register")})
GATED_PATHS = frozenset(path for _, path in GATED)
# While other requests are being served, waitress's thread refuses for a turn of TURN seconds, then
# sleeps PAUSE seconds (EarlyRefusals.make_way).
TURN, PAUSE = 0.0002, 0.0005


class Slots:
    """At most `size` password checks at once, taken without waiting (`acquire` answers False when
    all are taken); `full` is read without taking one, so that a look never refuses anyone."""

    def __init__(self, size):
        self.size = size
        self.taken = 0
        self._lock = threading.Lock()

    def acquire(self, blocking=False):
        if blocking:
            raise ValueError("a password-check slot is taken without waiting, or not at all")
        with self._lock:
            if self.taken >= self.size:
                return False
            self.taken += 1
            return True

    def release(self):
        with self._lock:
            if self.taken <= 0:
                raise ValueError("a password-check slot released more often than taken")
            self.taken -= 1

    @property
    def full(self):
        return self.taken >= self.size


def busy_answer(path):
    """The 429 for a sign-in or sign-up at `path` that finds every slot taken: (headers, body)."""
    if path.startswith("/api/"):
        body, kind = b'{"error": "' + BUSY.encode() + b'", "details": {}}\n', "application/json"
    else:
        body = (b"<!doctype html><html lang=\"en\"><title>Busy</title><p>" + BUSY.encode()
                + b" <a href=\"/login\">Back to sign-in</a></p></html>\n")
        kind = "text/html; charset=utf-8"
    return [("Content-Type", kind), ("Content-Length", str(len(body))), *SECURITY_HEADERS.items(),
            ("Cache-Control", "no-store"), ("Retry-After", "1")], body


class SignInGate:
    """WSGI middleware in front of Flask: a sign-in or sign-up (each checks or makes a password
    hash) takes a slot for its whole request, or is answered 429 at once, before any session,
    database or template work."""

    def __init__(self, app, wsgi_app):
        self.slots = app.extensions["login_hash_slots"]
        self.wsgi_app = wsgi_app
        self.answers = {path: busy_answer(path) for path in GATED_PATHS}

    def __call__(self, environ, start_response):
        if (environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")) not in GATED:
            return self.wsgi_app(environ, start_response)
        if not self.slots.acquire(blocking=False):
            started = time.perf_counter()
            headers, body = self.answers[environ["PATH_INFO"]]
            start_response("429 Too Many Requests", list(headers))
            log_request(environ["REQUEST_METHOD"], environ["PATH_INFO"], 429, started)
            return [body]
        environ[SLOT_KEY] = True
        try:  # Flask has run the view (and made the whole answer: these routes stream nothing) when it returns
            return self.wsgi_app(environ, start_response)
        finally:
            self.slots.release()


class EarlyRefusals:
    """Waitress's task dispatcher, wrapped (`serve_refusals_early`). Waitress's thread reads and
    parses every request, then hands it to a worker thread, which builds the WSGI environ, runs the
    app and hands the answer back to be sent: under a flood those hand-overs cost more than the
    refusal. Here a sign-in or sign-up that finds every slot taken is answered by waitress's thread
    itself, the moment it has been read, with the gate's very answer. Anything else, and a refusal
    that would have to close the connection or wait behind a half-read request, goes on to the
    wrapped dispatcher (and so to the gate)."""

    def __init__(self, dispatcher, slots):
        self.dispatcher = dispatcher
        self.slots = slots
        self.answers = {}
        for path in GATED_PATHS:
            headers, body = busy_answer(path)
            lines = "".join(f"{name}: {value}\r\n" for name, value in sorted(headers))
            self.answers[path] = ("HTTP/1.1 429 Too Many Requests\r\n" + lines).encode("latin-1"), body
        self._date = (0, b"")
        self._turn_began = 0.0

    def __getattr__(self, name):  # set_thread_count, shutdown: the wrapped dispatcher's
        return getattr(self.dispatcher, name)

    def add_task(self, channel):
        """Waitress calls this holding the channel's requests_lock, with the request to serve first in
        `channel.requests`, and no task of the channel under way."""
        requests = channel.requests
        while requests and self._refused(channel, requests[0]):
            requests.pop(0).close()
        if requests:
            self.dispatcher.add_task(channel)

    def _refused(self, channel, request):
        if not self.slots.full or request.command != "POST" or request.path not in GATED_PATHS:
            return False
        if (request.error is not None or request.version != "1.1"
                or request.headers.get("CONNECTION", "").lower() == "close"
                or channel.request not in (None, request)):
            return False
        started = time.perf_counter()
        head, body = self.answers[request.path]
        try:
            channel.write_soon(head + b"Date: " + self._http_date() + b"\r\n\r\n" + body)
        except ClientDisconnected:  # nobody left to answer
            return True
        log_request(request.command, request.path, 429, started)
        self.make_way(started)
        return True

    def make_way(self, now):
        """Python runs one thread at a time, and a thread that gave the interpreter up (for the
        database, say) gets it back from a busy one only after that one's switch interval: a flood
        refused flat out would take half the interpreter, or more, from every page being served.
        So while any request other than the password checks is at work or waiting, refusals come
        in turns of TURN seconds, each followed by PAUSE seconds of sleep that leave the
        interpreter (and a core) to the pages; with none, refusals run flat out. A refusal is still
        answered at once: only the reading of the next request waits."""
        if now - self._turn_began < TURN:
            return
        dispatcher = self.dispatcher  # waitress's ThreadedTaskDispatcher: threads at work, tasks waiting
        self._turn_began = now
        if dispatcher.active_count + len(dispatcher.queue) > self.slots.taken:
            time.sleep(PAUSE)
            self._turn_began = now + PAUSE

    def _http_date(self):
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, build_http_date(now).encode("latin-1"))
        return self._date[1]


def serve_refusals_early(app, server):
    """Let `server` (waitress's, from create_server) answer busy sign-ins itself (EarlyRefusals)."""
    server.task_dispatcher = EarlyRefusals(server.task_dispatcher, app.extensions["login_hash_slots"])


def hash_concurrency(config):
    """LOGIN_HASH_CONCURRENCY, or half the cores (a hash keeps one busy); always fewer than the
    server's threads, so that other requests always find one."""
    wanted = config.get("LOGIN_HASH_CONCURRENCY") or (os.cpu_count() or 2) // 2
    return max(1, min(wanted, config.get("WAITRESS_THREADS", 8) - 1))


def init_app(app):
    concurrency = hash_concurrency(app.config)
    app.config["LOGIN_HASH_CONCURRENCY"] = concurrency
    app.extensions["login_hash_slots"] = Slots(concurrency)


def init_gate(app):
    app.wsgi_app = SignInGate(app, app.wsgi_app)
