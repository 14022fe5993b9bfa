"""The baseline: a bare aiohttp app answering a small fixed JSON on every path and method.

It reads the request body like a real endpoint would and has no middleware, database or session,
so the gap between it and the service is the cost of the service itself.

    python -m bench.baseline --host 127.0.0.1 --port 8090
"""

from __future__ import annotations

import argparse

from aiohttp import web

BODY = b'{"status":"ok"}'


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=BODY, content_type="application/json")


def create_baseline_app() -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(create_baseline_app(), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
