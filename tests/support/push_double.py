"""A local push service (the double of FCM's or Mozilla's): it hands out subscriptions whose keys
it made (a P-256 key pair and an auth secret, as a browser would), and for every POST it verifies
the VAPID JWT (ES256 over the key in `k`, `aud` its own origin, `exp` in the future and within
24 h, `sub`) and decrypts the aes128gcm body with `http_ece`, then answers with a chosen status.
A push whose VAPID does not verify is refused with 401, as real push services do."""
import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from requests.structures import CaseInsensitiveDict
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidError(Exception):
    pass


def verify_vapid(authorization, audience, subject):
    """The JWT's claims and the signer's key (base64url) of an `Authorization: vapid t=..., k=...`
    header, or VapidError saying what is wrong."""
    scheme, _, params = (authorization or "").partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"not a vapid Authorization header: {authorization!r}")
    parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
    token, key = parts.get("t"), parts.get("k")
    if not token or not key:
        raise VapidError("t= or k= missing")
    header, claims, signature = token.split(".")
    if json.loads(unb64url(header)) != {"typ": "JWT", "alg": "ES256"}:
        raise VapidError(f"JWT header {unb64url(header)!r}")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    if len(raw) != 64:
        raise VapidError("ES256 signature is not 64 bytes (r || s)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise VapidError("bad ES256 signature") from None
    claims = json.loads(unb64url(claims))
    now = time.time()
    if claims.get("aud") != audience:
        raise VapidError(f"aud {claims.get('aud')!r}, expected {audience!r}")
    if not now < int(claims.get("exp", 0)) <= now + 86400:
        raise VapidError(f"exp {claims.get('exp')!r} not within the next 24 h")
    if claims.get("sub") != subject:
        raise VapidError(f"sub {claims.get('sub')!r}, expected {subject!r}")
    return claims, key


@dataclass
class Push:
    """One POST the service received, checked and decrypted."""

    path: str
    headers: CaseInsensitiveDict  # as HTTP reads them: any case
    claims: dict | None = None
    vapid_key: str | None = None
    error: str | None = None
    payload: dict | None = field(default=None)


class PushDouble:
    def __init__(self, subject):
        self.subject = subject  # the VAPID `sub` the server must sign
        self.pushes = []
        self.answers = []  # (status, headers[, seconds to wait first]) to give, in order, before the default 201
        self.keys = {}  # path -> (private key, auth secret)
        self.lock = threading.Lock()
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def subscription(self):
        """A new subscription as `PushSubscription.toJSON()` gives it; the double keeps its keys."""
        private = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        path = f"/push/{secrets.token_urlsafe(12)}"
        self.keys[path] = (private, auth)
        point = private.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.url + path, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(auth)}}

    def received(self, subscription=None):
        """The pushes received (to one subscription when given), oldest first."""
        with self.lock:
            pushes = list(self.pushes)
        if subscription is None:
            return pushes
        path = subscription["endpoint"][len(self.url):]
        return [p for p in pushes if p.path == path]

    def _check(self, path, headers, body):
        push = Push(path, headers)
        try:
            push.claims, push.vapid_key = verify_vapid(headers.get("Authorization"), self.url, self.subject)
        except (VapidError, ValueError, KeyError) as e:
            push.error = f"VAPID: {e}"
            return push
        if path not in self.keys:
            push.error = "unknown subscription"
            return push
        if headers.get("Content-Encoding") != "aes128gcm":
            push.error = f"Content-Encoding {headers.get('Content-Encoding')!r}"
            return push
        private, auth = self.keys[path]
        try:
            push.payload = json.loads(http_ece.decrypt(body, private_key=private, auth_secret=auth,
                                                       version="aes128gcm"))
        except (http_ece.ECEException, ValueError) as e:
            push.error = f"decrypt: {e}"
        return push

    def start(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                push = double._check(self.path, CaseInsensitiveDict(self.headers.items()), body)
                delay = ()
                with double.lock:
                    double.pushes.append(push)
                    if push.error and push.error.startswith("VAPID"):
                        status, headers = 401, {}
                    elif double.answers:
                        status, headers, *delay = double.answers.pop(0)
                    else:
                        status, headers = 201, {"Location": f"{double.url}/m/{len(double.pushes)}"}
                if delay:
                    time.sleep(delay[0])  # a service that hangs: the sender's timeout must end it
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
