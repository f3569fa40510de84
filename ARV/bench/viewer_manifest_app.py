"""The API as the viewer manifest bench serves it: the product's app, plus two routes that
exist only here, answering constant JSON through the same middleware
(`uvicorn bench.viewer_manifest_app:create_bench_app --factory`):

- `BESIDE_PATH`, first in the viewer router, so FastAPI walks the same route table to reach
  it as to reach the manifest (the baseline of the goal);
- `FIRST_PATH`, the first route of the app: the cheapest route this server can have.

Their body is the file BENCH_CONSTANT_BODY_FILE names, read on the first request (the bench
writes the manifest's own bytes there first), so every endpoint sends the same bytes."""

import os
from collections.abc import Awaitable, Callable

import anyio
from fastapi import APIRouter, FastAPI, Response

from app.api.router import API_V1_PREFIX
from app.api.routes import viewer
from app.main import create_app

BESIDE_ROUTE = "/bench-constant"
BESIDE_PATH = f"{API_V1_PREFIX}{viewer.router.prefix}{BESIDE_ROUTE}"
FIRST_PATH = "/bench/constant"


def create_bench_app() -> FastAPI:
    app = create_app()
    source = anyio.Path(os.environ["BENCH_CONSTANT_BODY_FILE"])
    body: list[bytes] = []

    async def constant() -> Response:
        if not body:
            body.append(await source.read_bytes())
        return Response(body[0], media_type="application/json")

    # The app includes the viewer router by reference: a route put first in it now is
    # matched there, before `/{public_id}` would take the path.
    _add_first(viewer.router, BESIDE_ROUTE, constant)
    _add_first(app.router, FIRST_PATH, constant)
    return app


def _add_first(router: APIRouter, path: str, endpoint: Callable[[], Awaitable[Response]]) -> None:
    router.add_api_route(path, endpoint, methods=["GET"], include_in_schema=False)
    router.routes.insert(0, router.routes.pop())
