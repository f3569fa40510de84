"""The app's route table, as the generated suites walk it."""

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts


def api_routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """(full path, methods, dependant) of every APIRoute of `app`.

    Since FastAPI 0.16x `include_router` leaves one `_IncludedRouter` entry in `app.routes`
    instead of copying the routes; `iter_route_contexts` (what the OpenAPI generator uses)
    resolves each route with its full path and the dependencies of every router it is
    included through. The suites fail if this ever finds nothing.
    """
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path is not None:
            yield context.path, set(context.methods or ()), context.dependant
