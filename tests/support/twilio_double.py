"""A local HTTP double of Twilio's Messages resource, for the real Twilio SDK to talk to (through
TWILIO_API_BASE). It records every form it gets and answers like Twilio: 201 with a message
resource, 400 with error 21211 for numbers it is told are invalid, and 429 or 500 on demand."""
import base64
import json
import logging
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

log = logging.getLogger(__name__)
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Messages\.json$")
ERRORS = {
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


class TwilioDouble:
    def __init__(self, account_sid="AC" + "0" * 32, auth_token="test-token"):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests = []  # every form received, answered or not
        self.sent = []  # the forms answered 201
        self.fail_next = []  # statuses to answer, in order, before answering normally again
        self.invalid = set()  # "To" values answered 400 / 21211
        self.failure_headers = {}  # headers of a forced failure's answer (e.g. Retry-After)
        self.next_sids = []  # the sids to give the next accepted messages (else random ones)
        self.lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                double._handle(self)

            def log_message(self, format, *args):
                log.debug("twilio double: " + format, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="twilio-double",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def receipt(self, form, status, error_code=None, forge=False):
        """The status callback Twilio makes for a message it accepted: (path, form, headers),
        signed with the auth token over the StatusCallback URL it was given (or forged)."""
        from urllib.parse import urlsplit

        from twilio.request_validator import RequestValidator

        callback = form["StatusCallback"]
        params = {"MessageSid": form["_sid"], "MessageStatus": status, "AccountSid": self.account_sid,
                  "To": form["To"], "From": form["From"]}
        if error_code:
            params["ErrorCode"] = str(error_code)
        token = "not-the-token" if forge else self.auth_token
        signature = RequestValidator(token).compute_signature(callback, params)
        return urlsplit(callback).path, params, {"X-Twilio-Signature": signature}

    def messages(self, to=None):
        with self.lock:
            return [f for f in self.sent if to is None or f["To"] == to]

    # --- answering --------------------------------------------------------------------------

    def _handle(self, request):
        length = int(request.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(request.rfile.read(length).decode()).items()}
        match = MESSAGES_PATH.match(request.path)
        if not match:
            return self._reply(request, 404, {"code": 20404, "message": "The requested resource was not found",
                                              "status": 404})
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        with self.lock:
            self.requests.append(form)
            forced = self.fail_next.pop(0) if self.fail_next else None
        if request.headers.get("Authorization") != expected or match.group(1) != self.account_sid:
            forced = 401
        if forced:
            code, text = ERRORS.get(forced, (forced, "Error"))
            return self._reply(request, forced, {"code": code, "message": text, "status": forced,
                                                 "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                               self.failure_headers)
        if form.get("To") in self.invalid:
            return self._reply(request, 400, {
                "code": 21211, "message": f"The 'To' number {form['To']} is not a valid phone number.",
                "status": 400, "more_info": "https://www.twilio.com/docs/errors/21211"})
        with self.lock:
            sid = self.next_sids.pop(0) if self.next_sids else "SM" + uuid.uuid4().hex
            form["_sid"] = sid
            self.sent.append(form)
        return self._reply(request, 201, {
            "sid": sid, "account_sid": self.account_sid, "to": form.get("To"), "from": form.get("From"),
            "body": form.get("Body"), "status": "queued", "num_segments": "1", "direction": "outbound-api",
            "api_version": "2010-04-01", "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        })

    @staticmethod
    def _reply(request, status, body, headers=None):
        data = json.dumps(body).encode()
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
