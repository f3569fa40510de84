"""The route template a request matched, for logs and metric labels."""

from starlette.routing import BaseRoute
from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"


def route_template(scope: Scope) -> str:
    # The router stores the matched route in the scope; raw paths would explode label
    # cardinality (one series per video id), so anything unmatched shares one label.
    route: BaseRoute | None = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ROUTE
