"""FakeTelegram served over real HTTP on 127.0.0.1, for testing the bot as a process."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .fake_telegram import FakeTelegram

T = TypeVar("T")


class FakeBotApiServer:
    """A Bot API server on a free local port; ``api_url`` goes in TELEGRAM_API_URL."""

    def __init__(self, telegram_factory: Callable[[], FakeTelegram] = FakeTelegram) -> None:
        self.loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._loop_thread.start()
        self.telegram: FakeTelegram = self.call(lambda: telegram_factory())
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                kind = self.headers.get("Content-Type", "")
                params: dict[str, Any] = json.loads(raw) if "json" in kind else dict(parse_qsl(raw))
                method = self.path.rsplit("/", 1)[-1]
                future = asyncio.run_coroutine_threadsafe(
                    server.telegram.answer(method, params), server.loop
                )
                status, result = future.result(timeout=60)
                body = (
                    {"ok": True, "result": result}
                    if status == 200
                    else {"ok": False, "error_code": status, "description": result or "Bad Gateway"}
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._http_thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._http_thread.start()

    @property
    def api_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the fake's event loop (the fake is not thread-safe) and return it."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(timeout=5)
