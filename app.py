"""python app.py: bring the schema up to date, seed a demo shop on an empty database, start the
monitor and the dispatcher, and serve with waitress until Ctrl-C or SIGTERM."""
import errno
import logging
import signal
import sys

from flask_migrate import upgrade
from waitress import create_server, wasyncore

from modules import create_app
from modules.workers import start_workers, stop_workers

log = logging.getLogger("stockbell")
app = create_app()


def prepare(app):
    """Migrate, then seed the demo shop once; returns the demo login when one was made."""
    from modules.seed import demo_exists, seed_demo

    with app.app_context():
        upgrade()
        if app.config["SEED_DEMO"] and not demo_exists():
            return seed_demo()
    return None


def server_settings(config):
    """Waitress's own limits (README, Running in production): enough threads that password checks
    (LOGIN_HASH_CONCURRENCY, fewer) never take them all, idle connections closed after
    WAITRESS_CHANNEL_TIMEOUT s, a bounded number of connections, and no body past the largest
    the app takes (a 16 MiB import and its multipart wrapping). Slow clients are nginx's to
    absorb: waitress has no timeout for a body that trickles in."""
    return {
        "threads": config["WAITRESS_THREADS"],
        "channel_timeout": config["WAITRESS_CHANNEL_TIMEOUT"],
        "cleanup_interval": max(1, min(10, config["WAITRESS_CHANNEL_TIMEOUT"] // 2)),
        "connection_limit": config["WAITRESS_CONNECTION_LIMIT"],
        "max_request_body_size": 17 * 1024 * 1024,
        "max_request_header_size": 64 * 1024,
        "asyncore_use_poll": True,  # select() stops at 1,024 descriptors
        # X-Forwarded-* are Werkzeug's ProxyFix's to read (TRUSTED_PROXIES); waitress drops them
        # only when no proxy is trusted.
        "clear_untrusted_proxy_headers": not config["TRUSTED_PROXIES"],
        "ident": "",  # no "Server: waitress" banner telling a scanner what to try
    }


def bind(app, connections):
    """The server, its port bound before anything else happens; None (with one line saying why)
    when the port is taken or not ours to use. `connections` becomes waitress's socket map (the
    listener and every client connection), so that SIGTERM can close them all."""
    host, port = app.config["HOST"], app.config["PORT"]
    try:
        return create_server(app, map=connections, host=host, port=port, **server_settings(app.config))
    except OSError as e:
        reason = "already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e)).lower()
        log.error("cannot listen on %s:%s (%s): stop the other server or set PORT to another port", host, port,
                  reason)
        return None


def main():
    # A thread waiting on the database gets the interpreter back within 1 ms of its answer, not 5:
    # under a flood of cheap requests (429s), a page's few queries would each wait a full switch.
    sys.setswitchinterval(0.001)
    connections = {}
    server = bind(app, connections)
    if server is None:
        return 1
    demo = prepare(app)
    if demo:
        # Printed once, on the console of whoever started the app: the only copy of the password.
        print(f"\nDemo shop ready. Log in at {app.config['PUBLIC_URL']}/login as {demo[0]} "
              f"with password {demo[1]}\n", flush=True)
    start_workers(app)

    def _shutdown(signum, frame):
        log.info("signal %s: shutting down", signum)
        # Close the listener and every connection, idle keep-alive ones included: the loop ends
        # when its map is empty (server.close() alone waits for clients to hang up).
        wasyncore.close_all(connections)

    signal.signal(signal.SIGTERM, _shutdown)
    log.info("serving on http://%s:%s", app.config["HOST"], app.config["PORT"])
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    except OSError:
        # server.close() from the signal handler ends the loop with a closed socket.
        pass
    finally:
        # SIGTERM to exit within 2 s, with room to spare on a busy machine: a quarter of a second for
        # the requests under way, as much for the workers.
        server.task_dispatcher.shutdown(timeout=0.25)
        stop_workers(app)
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
