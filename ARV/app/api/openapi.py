"""The OpenAPI document, made for client generators: short stable operation ids, and every
status a route can answer documented with the error codes behind it.

Routes and dependencies declare what they raise with `@raises(...)`. `install_openapi`
makes the app's document give each operation the errors of its endpoint and of every
dependency it uses (the sign-in dependency brings 401, the company context 403 and 404, a
rate limit 429 and 503), 400 `malformed_request` when it takes a JSON or form body, and
422 everywhere: every request's path, query and headers are checked for text the
database cannot store.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from app.core.exceptions import AppError, MalformedRequestError, ValidationFailedError
from app.schemas.common import ErrorResponse

# Every app's document holds the envelope's schema: `create_app` documents it for 422.
ERROR_SCHEMA = f"#/components/schemas/{ErrorResponse.__name__}"

ERRORS_ATTRIBUTE = "__declared_errors__"
# `openapi_extra` of a route that reads its raw body as a stream: the document says what a
# JSON body parameter would have said, that the body is bytes.
BINARY_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The bytes, as they are.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}

Declaring = TypeVar("Declaring", bound=Callable[..., Any])


def raises(*errors: type[AppError]) -> Callable[[Declaring], Declaring]:
    """Declares, for the OpenAPI document, the errors a route or a dependency may raise
    (a class dependency declares them on the class)."""

    def declare(function: Declaring) -> Declaring:
        setattr(function, ERRORS_ATTRIBUTE, (*declared_errors(function), *errors))
        return function

    return declare


def declared_errors(call: object) -> tuple[type[AppError], ...]:
    errors: tuple[type[AppError], ...] = getattr(call, ERRORS_ATTRIBUTE, ())
    return errors


def operation_id(route: APIRoute) -> str:
    """`<tag>_<function>`, e.g. `videos_reencode_rendition`; `_head` for a HEAD twin."""
    parts = [str(route.tags[0]).replace("-", "_")] if route.tags else []
    parts.append(route.name)
    if route.methods == {"HEAD"}:
        parts.append("head")
    return "_".join(parts)


def install_openapi(app: FastAPI) -> None:
    """Makes `app.openapi()` (and `/openapi.json`) document every route's errors."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI; adding the same responses again is a no-op
        for route in iter_route_contexts(app.routes):
            if isinstance(route.original_route, APIRoute) and route.include_in_schema:
                operations = document["paths"][route.path_format]
                for method in route.methods or ():
                    operation = operations[method.lower()]
                    errors = error_responses(route_errors(route))
                    operation["responses"] = dict(
                        sorted({**operation["responses"], **errors}.items())
                    )
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def route_errors(route: RouteContext) -> list[type[AppError]]:
    errors: list[type[AppError]] = [ValidationFailedError]
    if route.body_field is not None:
        errors.append(MalformedRequestError)
    errors += declared_errors(route.endpoint)
    for dependant in _dependants(route.dependant):
        errors += declared_errors(dependant.call)
    return errors


def error_responses(errors: Iterable[type[AppError]]) -> dict[str, dict[str, Any]]:
    """One response per status, its description listing each code it may carry."""
    by_status: dict[int, dict[str, type[AppError]]] = {}
    for error in errors:
        by_status.setdefault(int(error.status), {}).setdefault(error.code, error)
    return {
        str(status): {
            "description": "\n".join(
                f"- `{code}`: {error.meaning()}" for code, error in sorted(codes.items())
            ),
            "content": {"application/json": {"schema": {"$ref": ERROR_SCHEMA}}},
        }
        for status, codes in sorted(by_status.items())
    }


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependants(dependency)
