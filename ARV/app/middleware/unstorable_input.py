"""Refuses, with 422 in the error envelope, a request whose path, query string or headers
hold text the database cannot store (see `app.utils.text`), before any route reads them.
Bodies are checked by the request schemas, against the same rule."""

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import validation_error_response
from app.utils.text import unstorable_reason


def _first_problem(scope: Scope) -> dict[str, object] | None:
    candidates: list[tuple[list[str], str]] = [(["path"], scope["path"])]
    query = scope.get("query_string", b"").decode("latin-1")
    # Decoded as Starlette decodes it, so what is checked is what routes receive.
    for name, value in parse_qsl(query, keep_blank_values=True):
        candidates += [(["query", name], name), (["query", name], value)]
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        candidates.append((["header", name], raw_value.decode("latin-1")))
    for location, text in candidates:
        reason = unstorable_reason(text)
        if reason is not None:
            return {"loc": location, "message": f"The value {reason}.", "type": "unstorable_text"}
    return None


class UnstorableInputMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _first_problem(scope)
            if problem is not None:
                await validation_error_response([problem])(scope, receive, send)
                return
        await self.app(scope, receive, send)
