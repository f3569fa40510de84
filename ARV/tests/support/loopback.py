"""What the fake third-party servers share: a real HTTP server on a free loopback port,
served from a daemon thread (`LoopbackServer`), and a quiet request handler with the
helpers their endpoints answer through (`LoopbackHandler`, `JsonHandler`).

A fake subclasses `LoopbackServer` and says, in `handler()`, which request handler serves
it; `start()`/`stop()` or `with fake:` run it, and `origin` is where it listens.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

# stop() waits up to one poll interval for the serving loop to notice.
POLL_INTERVAL_SECONDS = 0.05


class LoopbackServer:
    """A server's lifecycle on 127.0.0.1. Not a dataclass itself: a dataclass fake built on
    it keeps its own fields (and its constructor) as they were."""

    _server: ThreadingHTTPServer | None = None

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class that serves this fake."""
        raise NotImplementedError

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:{port}`: where the fake listens."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL_SECONDS},
            daemon=True,
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class LoopbackHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, with the request read as the fakes record it."""

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def lowered_headers(self) -> dict[str, str]:
        """The request's headers, names lower-cased."""
        return {name.lower(): value for name, value in self.headers.items()}

    def log_message(self, format: str, *args: Any) -> None:
        pass


class JsonHandler(LoopbackHandler):
    """Answers GET and POST with the (status, JSON body) that `answer()` returns."""

    content_type = "application/json"

    def answer(self) -> tuple[int, Any]:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.send_json(*self.answer())

    def do_POST(self) -> None:
        self.send_json(*self.answer())

    def send_json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", self.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout under test)
