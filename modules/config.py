"""Settings from the environment (and `.env` when present), with the defaults of API.md."""
import os
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _optional_bool(name):
    """True/False when the variable is set, None when it is not (the default is decided later)."""
    value = os.environ.get(name)
    return None if value in (None, "") else _bool(name, False)


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _private_dir(path: Path):
    """instance/ for its owner only (0700): it holds the secret key and the SQLite file."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except OSError:  # not ours to change (a shared mount): leave it
        pass


def _written_once(path: Path, make) -> str:
    """The text in `path`, else `make()` written there once (0600) and returned. Processes started
    together agree: each writes to a private temporary file (O_EXCL, 0600) and links it into
    place, which succeeds for exactly one of them and shows the file whole or not at all; the
    others read the winner's text."""
    _private_dir(path.parent)
    for _ in range(100):
        try:
            existing = path.read_text().strip()
        except FileNotFoundError:
            existing = None
        if existing:
            return existing
        if existing is None:
            value = make()
            temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(value)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(temporary, path)
                return value.strip()
            except FileExistsError:
                pass  # another process won: read its text
            finally:
                os.unlink(temporary)
        else:  # an empty file (left by an older version that crashed mid-write): wait for a writer
            time.sleep(0.01)
    raise RuntimeError(f"{path} exists but stays empty; remove it to generate a new one")


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into instance/ and reused."""
    return os.environ.get("SECRET_KEY") or _written_once(instance / "secret_key", lambda: secrets.token_hex(32))


def _new_p256_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _vapid_private_key(instance: Path) -> str:
    """VAPID_PRIVATE_KEY from the environment (PEM, or base64url DER or raw 32 bytes), else a P-256
    key generated once into instance/vapid_private_key.pem like the secret key: Web Push
    subscriptions are bound to it, so it must outlive restarts."""
    return os.environ.get("VAPID_PRIVATE_KEY") or _written_once(instance / "vapid_private_key.pem", _new_p256_pem)


def load_config(instance: Path = INSTANCE) -> dict:
    """Read the environment once; real environment variables win over `.env`."""
    load_dotenv(ROOT / ".env", override=False)
    host = os.environ.get("HOST", "127.0.0.1")
    port = _int("PORT", 8000)
    _private_dir(instance)
    return {
        "HOST": host,
        "PORT": port,
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance / 'stockbell.db'}"
        ),
        "SEED_DEMO": _bool("SEED_DEMO", True),
        "ALLOW_SIGNUP": _bool("ALLOW_SIGNUP", True),
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
        "STOCK_MONITOR_ENABLED": _bool("STOCK_MONITOR_ENABLED", True),
        "STOCK_MONITOR_INTERVAL": _float("STOCK_MONITOR_INTERVAL", 600),
        "STOCK_MONITOR_INITIAL_DELAY": _float("STOCK_MONITOR_INITIAL_DELAY", 5),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "localhost"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", False),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL", False),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD"),
        # Unset: "Stockbell <stockbell@<PUBLIC_URL's host>>" (see delivery/channels/email.py).
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER"),
        "MAIL_TIMEOUT": _float("MAIL_TIMEOUT", 10),
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN"),
        "TWILIO_WHATSAPP_FROM": os.environ.get("TWILIO_WHATSAPP_FROM"),
        "TWILIO_SMS_FROM": os.environ.get("TWILIO_SMS_FROM"),
        "TWILIO_WHATSAPP_CONTENT_SID": os.environ.get("TWILIO_WHATSAPP_CONTENT_SID"),
        "TWILIO_API_BASE": os.environ.get("TWILIO_API_BASE", "https://api.twilio.com"),
        "TWILIO_TIMEOUT": _float("TWILIO_TIMEOUT", 10),
        "DELIVERY_MAX_ATTEMPTS": _int("DELIVERY_MAX_ATTEMPTS", 8),
        "DELIVERY_BACKOFF_SECONDS": _float("DELIVERY_BACKOFF_SECONDS", 30),
        "DELIVERY_POLL_SECONDS": _float("DELIVERY_POLL_SECONDS", 5),
        "DELIVERY_ENABLED": _bool("DELIVERY_ENABLED", True),
        "DELIVERY_COALESCE_SECONDS": _float("DELIVERY_COALESCE_SECONDS", 60),
        "DELIVERY_NORMAL_BATCH_SECONDS": _float("DELIVERY_NORMAL_BATCH_SECONDS", 300),
        "SHOP_DAILY_MESSAGE_CAP": _int("SHOP_DAILY_MESSAGE_CAP", 500),
        "NOTIFICATION_RETENTION_DAYS": _int("NOTIFICATION_RETENTION_DAYS", 90),
        "DELIVERY_RETENTION_DAYS": _int("DELIVERY_RETENTION_DAYS", 30),
        "TELEGRAM_BOT_TOKEN": os.environ.get("TELEGRAM_BOT_TOKEN"),
        "TELEGRAM_API_BASE": os.environ.get("TELEGRAM_API_BASE", "https://api.telegram.org"),
        "WEBHOOK_ALLOW_PRIVATE": _bool("WEBHOOK_ALLOW_PRIVATE", False),
        "WEBHOOK_TIMEOUT": _float("WEBHOOK_TIMEOUT", 10),
        "VAPID_PRIVATE_KEY": _vapid_private_key(instance),
        # Unset: PUBLIC_URL when it is https, else mailto:stockbell@<its host> (delivery/channels/push.py).
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT") or None,
        "PUSH_TIMEOUT": _float("PUSH_TIMEOUT", 10),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "HEALTH_TOKEN": os.environ.get("HEALTH_TOKEN") or None,
        # Serving: waitress's threads, and how many proxies in front set X-Forwarded-* (ProxyFix).
        "WAITRESS_THREADS": _int("WAITRESS_THREADS", 8),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "WAITRESS_CHANNEL_TIMEOUT": _int("WAITRESS_CHANNEL_TIMEOUT", 30),  # an idle connection closes
        "WAITRESS_CONNECTION_LIMIT": _int("WAITRESS_CONNECTION_LIMIT", 200),
        "WORKER_HEARTBEAT_SECONDS": _float("WORKER_HEARTBEAT_SECONDS", 30),
        "SIGNUP_PER_ADDRESS_PER_HOUR": _int("SIGNUP_PER_ADDRESS_PER_HOUR", 5),
        # Password checks at once per process (sign-ins, sign-ups); more are a 429 at once. 0: half
        # the cores, always fewer than WAITRESS_THREADS.
        "LOGIN_HASH_CONCURRENCY": _int("LOGIN_HASH_CONCURRENCY", 0),
        # None: on when PUBLIC_URL is https (decided in create_app, after any overrides).
        "SESSION_COOKIE_SECURE": _optional_bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_SECURE": _optional_bool("REMEMBER_COOKIE_SECURE"),
        # Fixed, not from the environment.
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "PASSWORD_HASH_METHOD": "scrypt",  # werkzeug's method for new password hashes; tests set a cheap one
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        # After a failure of an account from an address; doubles with each one more, and from the
        # LOGIN_MAX_FAILURES-th on that account from that address waits LOGIN_LOCKOUT_SECONDS, the
        # longest any sign-in waits: never a permanent lock.
        "LOGIN_DELAY_SECONDS": _int("LOGIN_DELAY_SECONDS", 1),
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_LOCKOUT_SECONDS": _int("LOGIN_LOCKOUT_SECONDS", 900),
        # Failures of one account from browsers without its device cookie, any address, before
        # those browsers meet a growing delay (an attack from many addresses).
        "LOGIN_ACCOUNT_FREE_FAILURES": _int("LOGIN_ACCOUNT_FREE_FAILURES", 10),
        # One address (a shop's NAT) may fail this often, any accounts.
        "LOGIN_ADDRESS_MAX_FAILURES": _int("LOGIN_ADDRESS_MAX_FAILURES", 50),
    }
