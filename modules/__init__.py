"""The app factory: configuration, extensions, blueprints, error handlers, CLI and workers."""
import logging
import time

from flask import Flask, g, request

from .config import INSTANCE, load_config
from .dialect import engine_options, private_sqlite_file
from .extensions import csrf, db, login_manager, mail, migrate

log = logging.getLogger("stockbell")


def create_app(config=None):
    app = Flask(__name__, root_path=str(INSTANCE.parent), instance_path=str(INSTANCE),
                template_folder="templates", static_folder="static")
    app.config.update(load_config())
    if config:
        app.config.update(config)
    secure_cookies(app.config)
    private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    app.json.sort_keys = False
    configure_logging(app)
    register_extensions(app)
    register_input_checks(app)
    register_headers(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_request_log(app)
    register_template_filters(app)
    register_fast_paths(app)
    register_proxy(app)
    return app


def secure_cookies(config):
    """Cookies only over https when the app is reached over https, unless set explicitly."""
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = config["PUBLIC_URL"].startswith("https://")
    if config.get("REMEMBER_COOKIE_SECURE") is None:
        config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]


def register_template_filters(app):
    from flask_login import current_user

    from .timeutil import shop_time

    @app.template_filter("shop_time")
    def _shop_time(value):
        """An instant (ISO string or naive UTC) in the signed-in shop's time zone."""
        tz = current_user.client.timezone if current_user.is_authenticated else "UTC"
        return shop_time(value, tz)


def configure_logging(app):
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # "stockbell" (the server, the access log) and every module's own logger ("modules.…").
    for name in ("stockbell", "modules"):
        logging.getLogger(name).setLevel(app.config["LOG_LEVEL"])


def register_extensions(app):
    from . import models  # noqa: F401  (every model registered before migrations look)

    db.init_app(app)
    from . import outage

    outage.init_app(app)  # after db.init_app: replaces its session teardown
    migrate.init_app(app, db, directory=str(INSTANCE.parent / "migrations"))
    login_manager.init_app(app)
    mail.init_app(app)
    from .auth import bearer

    bearer.init_app(app)  # before CSRFProtect binds: it replaces its default check
    csrf.init_app(app)
    from .auth import gate

    gate.init_app(app)


def register_input_checks(app):
    """Bounded ids in paths and no unreadable input; after the extensions, so CSRF is checked first."""
    from .validation import init_app

    init_app(app)


def register_headers(app):
    from .headers import init_app

    init_app(app)


def register_blueprints(app):
    from .alerts import bp as alerts_bp
    from .auth import bp as auth_bp
    from .delivery import bp as delivery_bp
    from .health import bp as health_bp
    from .notifications import bp as notifications_bp
    from .purchasing import bp as purchasing_bp
    from .retail import bp as retail_bp

    for bp in (auth_bp, retail_bp, purchasing_bp, alerts_bp, notifications_bp, delivery_bp, health_bp):
        app.register_blueprint(bp)


def register_fast_paths(app):
    """A sign-in that finds every password-check slot taken is refused in front of Flask, at once."""
    from .auth import gate

    gate.init_gate(app)


def register_proxy(app):
    """Behind TRUSTED_PROXIES proxies (nginx), the client's address, scheme and host come from
    their X-Forwarded-* headers (Werkzeug's ProxyFix); with none, those headers are ignored.
    Outermost, so every layer (the throttle's gate, Flask) sees the client."""
    proxies = app.config.get("TRUSTED_PROXIES") or 0
    if proxies > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def register_errorhandlers(app):
    from .errors import init_app

    init_app(app)


def register_commands(app):
    from .cli import init_app

    init_app(app)


def register_request_log(app):
    from .access import log_request

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        if started is not None and not request.path.startswith("/static/"):
            log_request(request.method, request.path, response.status_code, started)
        return response
