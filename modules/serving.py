"""Waitress as `python app.py` runs it: its limits, its port bound with one clear line when taken,
and busy sign-ins answered by its own thread (auth.gate.EarlyRefusals)."""
import errno
import logging

from waitress import create_server

from .auth.gate import serve_refusals_early

log = logging.getLogger("stockbell")


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
        server = create_server(app, map=connections, host=host, port=port, **server_settings(app.config))
    except OSError as e:
        reason = "already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e)).lower()
        log.error("cannot listen on %s:%s (%s): stop the other server or set PORT to another port", host, port,
                  reason)
        return None
    serve_refusals_early(app, server)
    return server
