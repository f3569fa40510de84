"""The route template a request matched, for logs and metric labels."""

from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    # Raw paths would explode label cardinality (one series per video id), so requests are
    # labelled by template, and anything unmatched shares one label.
    route: BaseRoute | None = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    app = scope.get("app")
    # Keyed by identity: routes define __eq__ and are unhashable; they live as long as the app.
    cache: dict[int, str] = _cache_of(app)
    if id(route) not in cache:
        cache[id(route)] = _full_template(app, route)
    return cache[id(route)]


def _cache_of(app: Any) -> dict[int, str]:
    state = getattr(app, "state", None)
    if state is None:
        return {}
    if not hasattr(state, "route_templates"):
        state.route_templates = {}
    cache: dict[int, str] = state.route_templates
    return cache


def _full_template(app: Any, route: BaseRoute) -> str:
    # A route inside an included router knows only its own path; the application's route
    # contexts carry the full one, prefixes included.
    for context in iter_route_contexts(getattr(app, "routes", [])):
        if context.original_route is route and context.path_format:
            return context.path_format
    return getattr(route, "path", None) or UNMATCHED_ROUTE
