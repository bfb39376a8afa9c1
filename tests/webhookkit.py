"""The team's chat webhook on loopback, for the handoff and watch stories: every POST it got."""

from __future__ import annotations

import http.server
import json
import threading


class Hook(http.server.BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class Webhook:
    """The team's chat webhook on loopback: every POST it got."""

    def __init__(self) -> None:
        Hook.posts = []
        self.posts = Hook.posts
        self._server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/hook"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
