"""The bell's poll, answered before Flask: `GET /api/notifications/unread-count` comes from every
open tab every 30 seconds, so it is answered by a WSGI layer in front of the app with what the
answer needs and nothing more: the session cookie verified with the app's own signer, and one
statement on a pooled DBAPI connection that checks the session is live (user active, session
version current) and counts the user's unread notifications on their index
(`service.LIVE_SESSION`). The answer carries the same body and headers as the Flask route's.

Anything else takes the usual path through Flask, unchanged: another path or method, a query
string, a bearer token, no session cookie, a cookie that does not verify or names nobody live
(the route then answers 401, or signs in from the remember cookie), and any failure here (the
route then answers, and logs a database failure, the usual way)."""
import threading
import time
from datetime import timedelta

from sqlalchemy import create_engine, event
from werkzeug.http import parse_cookie

from ..access import log_request
from ..auth.sessions import SESSION_KEY, live_user_params, parse_session_id
from ..headers import SECURITY_HEADERS
from ..timeutil import utcnow
from .service import LIVE_SESSION

PATH = "/api/notifications/unread-count"
POOL_SIZE = 4  # waitress's threads
VERIFIED_COOKIES = 4096


class UnreadCountPoll:
    """WSGI middleware: `app.wsgi_app = UnreadCountPoll(app, app.wsgi_app)`."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.ready = None  # decided on the first poll, once the app is configured (see _prepare)
        self._preparing = threading.Lock()
        # Cookies that verified, by their exact text: checking the signature again gives the same
        # answer until the cookie expires, and it cost a third of the poll's time under load.
        # Whether the session is still live is asked of the database on every poll all the same.
        self.verified = {}  # cookie -> (session id, expires at)
        self.headers = [("Content-Type", "application/json"), *SECURITY_HEADERS.items(),
                        ("Cache-Control", "no-store"), ("Vary", "Cookie")]

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET"
                or environ.get("QUERY_STRING") or "HTTP_AUTHORIZATION" in environ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        try:
            count = self._count(environ)
        except Exception:  # noqa: BLE001 -- whatever went wrong here, the route answers instead
            count = None
        if count is None:
            return self.wsgi_app(environ, start_response)
        body = b'{"count":%d}\n' % count
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(body)))])
        log_request("GET", PATH, 200, started)
        return [body]

    def _prepare(self):
        """Everything the poll needs from the configured app, once; `ready` False leaves every
        poll to the route (no secret key to verify cookies with)."""
        from ..extensions import db

        self.cookie_name = self.app.config["SESSION_COOKIE_NAME"]
        self.max_age = int(self.app.permanent_session_lifetime.total_seconds())
        self.signer = self.app.session_interface.get_signing_serializer(self.app)
        with self.app.app_context():
            engine = db.engine
        if engine.dialect.name != "sqlite":
            # Its own small pool of autocommit connections: no ping before each use and no
            # rollback after it (one round trip instead of three). A connection the server
            # dropped fails once; it is thrown away and that poll takes the route, which pings.
            options = self.app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
            own = create_engine(engine.url, connect_args=options.get("connect_args", {}), pool_size=POOL_SIZE,
                                max_overflow=POOL_SIZE, pool_timeout=1, isolation_level="AUTOCOMMIT")
            event.listen(engine, "engine_disposed", lambda _: own.dispose())  # closed with the app's
            engine = own
        self.engine = engine
        # The service's statement, rendered once for this driver (SQLite "?", psycopg "%(name)s").
        compiled = LIVE_SESSION.compile(dialect=engine.dialect)
        self.sql, self.positions = str(compiled), compiled.positiontup if compiled.positional else None
        self.ready = self.signer is not None

    def _session_id(self, environ):
        cookie = parse_cookie(environ).get(self.cookie_name)
        if not cookie:
            return None
        known = self.verified.get(cookie)
        if known is None:
            try:  # Flask's own check: signature, salt and age
                data, signed_at = self.signer.loads(cookie, max_age=self.max_age, return_timestamp=True)
            except Exception:  # noqa: BLE001 -- a bad or expired signature: Flask says so itself
                return None
            if not isinstance(data, dict):
                return None
            # itsdangerous counts whole seconds: too old once more than max_age have passed.
            known = (data.get(SESSION_KEY), signed_at.replace(tzinfo=None) + timedelta(seconds=self.max_age + 1))
            if len(self.verified) >= VERIFIED_COOKIES:
                self.verified.clear()
            self.verified[cookie] = known
        session_id, expires_at = known
        return session_id if utcnow() < expires_at else None

    def _count(self, environ):
        if self.ready is None:
            with self._preparing:
                if self.ready is None:
                    self._prepare()
        if not self.ready:
            return None
        parsed = parse_session_id(self._session_id(environ))
        if parsed is None:
            return None
        params = {**live_user_params(parsed), "read": False}
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self.sql, params if self.positions is None else [params[p] for p in self.positions])
                row = cursor.fetchone()
            finally:
                cursor.close()
        except Exception as error:
            if self.engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
                connection.invalidate()  # dropped by the server: the pool makes a new one
            raise
        finally:
            connection.close()
        return None if row is None else row[1]


def init_app(app):
    app.wsgi_app = UnreadCountPoll(app, app.wsgi_app)
