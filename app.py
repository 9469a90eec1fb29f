"""interestmap app: see which audiences a clip reaches before you post it.

    python app.py                      # the built-in topic atlas, on http://127.0.0.1:7860
    python app.py --index indexes/my-shop --port 7861

The same process serves the HTTP API at /v1 (docs at /docs) over the same open index:
this is ``interestmap serve`` with the app's default port. Options may also come from the
environment: GRADIO_SERVER_NAME and GRADIO_SERVER_PORT (Gradio's own), or
INTERESTMAP_APP_INDEX, INTERESTMAP_APP_HOST, INTERESTMAP_APP_PORT. The app is a thin
layer over the library (interestmap.app.blocks).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

APP_PORT = 7860


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the interestmap app (Gradio) and its API.")
    p.add_argument("--index", default=os.environ.get("INTERESTMAP_APP_INDEX") or None,
                   help="folder of a built index to open first (default: the built-in "
                        "topic atlas, built on first run)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME")
                   or os.environ.get("INTERESTMAP_APP_HOST") or "127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int,
                   default=int(os.environ.get("GRADIO_SERVER_PORT")
                               or os.environ.get("INTERESTMAP_APP_PORT") or APP_PORT),
                   help=f"port (default {APP_PORT})")
    p.add_argument("--token", default=None,
                   help="require this bearer token on the API (default "
                        "$INTERESTMAP_API_TOKEN; needed to listen beyond this computer)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from interestmap.errors import InterestmapError
    from interestmap.serve.server import serve

    def say(fraction: float, desc: str = "") -> None:
        print(f"\r{desc} … {fraction:.0%}   ", end="", file=sys.stderr, flush=True)

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"interestmap: listening on {args.host}: anyone who can reach this computer "
              "can use the app and read the maps you open", file=sys.stderr)
    try:
        # Opens (and on a fresh machine, builds) the index before serving, so the first
        # page shows a map at once.
        serve(args.index, host=args.host, port=args.port, token=args.token, progress=say)
    except InterestmapError as e:
        print(f"\ninterestmap: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
