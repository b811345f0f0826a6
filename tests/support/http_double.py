"""A local HTTP server that records every POST and answers with a chosen status: the double of
a Slack incoming webhook, Telegram's Bot API and a shop's webhook receiver."""
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Posted:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class HttpDouble:
    def __init__(self):
        self.posts = []
        self.answers = []  # (status, body) or (status, body, headers) to give, in order, before the default
        self.default = (200, b"ok")
        self.lock = threading.Lock()
        self._server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self):
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with double.lock:
                    double.posts.append(Posted(self.path, dict(self.headers), body))
                    status, answer, *headers = double.answers.pop(0) if double.answers else double.default
                if callable(answer):
                    answer = answer(body)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
