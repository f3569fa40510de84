"""The API as the viewer manifest bench serves it: the product's app, plus one route that
exists only here, `GET /bench/constant`, answering constant JSON through the same middleware
(`uvicorn bench.viewer_manifest_app:create_bench_app --factory`).

Its body is the file BENCH_CONSTANT_BODY_FILE names, read on the first request (the bench
writes the manifest's own bytes there first), so both endpoints send the same bytes."""

import os

import anyio
from fastapi import FastAPI, Response

from app.main import create_app

CONSTANT_PATH = "/bench/constant"


def create_bench_app() -> FastAPI:
    app = create_app()
    source = anyio.Path(os.environ["BENCH_CONSTANT_BODY_FILE"])
    body: list[bytes] = []

    @app.get(CONSTANT_PATH, include_in_schema=False)
    async def constant() -> Response:
        if not body:
            body.append(await source.read_bytes())
        return Response(body[0], media_type="application/json")

    return app
