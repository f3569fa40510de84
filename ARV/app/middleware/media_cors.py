"""CORS for media behind signed links: any origin may read them, so a WebAR page served
from another origin can draw a video or marker as a WebGL texture (the browser taints
media from another origin that comes without CORS headers). The signature is the
authorisation and no credentials are involved, hence `*`.

On the paths given, GET and HEAD answers (200, 206, 304 and errors alike) carry
`Access-Control-Allow-Origin: *` and expose the headers a player reads, replacing what the
credentialed CORS layer inside would say; preflights for GET and HEAD (a `Range` that is
not a single `bytes=a-b` or `bytes=a-`, for one) are answered here. Anything else (signed
uploads with PUT) passes to the inner CORS layer unchanged."""

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

READ_METHODS = ("GET", "HEAD")
EXPOSED = "Content-Length, Content-Range, Accept-Ranges, ETag"
PREFLIGHT_MAX_AGE = "86400"
_REPLACED = (
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
)


class MediaCorsMiddleware:
    def __init__(self, app: ASGIApp, *, paths: tuple[str, ...]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.paths):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method == "OPTIONS" and _preflight_for_read(Headers(scope=scope)):
            await _preflight_answer(Headers(scope=scope))(scope, receive, send)
            return
        if method not in READ_METHODS:
            await self.app(scope, receive, send)
            return

        async def open_to_any_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name in _REPLACED:
                    del headers[name]
                headers["Access-Control-Allow-Origin"] = "*"
                headers["Access-Control-Expose-Headers"] = EXPOSED
            await send(message)

        await self.app(scope, receive, open_to_any_origin)


def _preflight_for_read(headers: Headers) -> bool:
    requested = headers.get("access-control-request-method")
    return "origin" in headers and requested in READ_METHODS


def _preflight_answer(headers: Headers) -> Response:
    allowed = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": ", ".join(READ_METHODS),
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    }
    requested_headers = headers.get("access-control-request-headers")
    if requested_headers:
        allowed["Access-Control-Allow-Headers"] = requested_headers
    return Response(status_code=204, headers=allowed)
