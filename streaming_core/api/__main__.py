"""`python -m streaming_core.api`: the SSE API and its browser client on uvicorn (`make api`).

Configuration comes from the environment (STREAMING_BACKEND, API_*, ...); only where to listen
is given here. The default address is loopback: expose it deliberately, behind a proxy.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from streaming_core.api.serving import DEFAULT_APP, serve


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streaming_core.api", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    parser.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    parser.add_argument("--app", default=DEFAULT_APP, help="an app factory, module:function")
    options = parser.parse_args(argv)
    serve(uvicorn.Config(options.app, factory=True, host=options.host, port=options.port, log_level=options.log_level))


if __name__ == "__main__":
    main()
