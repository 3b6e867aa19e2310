"""One API worker process: `python -m streaming_core.api.worker --port 8000`.

Many workers share one port with SO_REUSEPORT (the kernel spreads new connections over them), so
each is a plain process: killing one leaves the others serving, and nothing is sticky, since every
guarantee lives in the shared stores (RUN_STORE_URL, SESSION_SERVICE_URI). `--private-port` adds a
port only this worker listens on, for tests and operators who must reach one worker.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn

from streaming_core.api.serving import DEFAULT_APP, serve


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--private-port", type=int, default=None)
    parser.add_argument("--app", default=DEFAULT_APP, help="an app factory, module:function")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    sockets = [listen(args.host, args.port, reuse_port=True)]
    if args.private_port:
        sockets.append(listen(args.host, args.private_port, reuse_port=False))
    config = uvicorn.Config(args.app, factory=True, log_level=args.log_level, timeout_graceful_shutdown=5)
    serve(config, sockets)


if __name__ == "__main__":
    main()
