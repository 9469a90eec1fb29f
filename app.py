"""interestmap app: see which audiences a clip reaches before you post it.

    python app.py                      # the built-in topic atlas, on http://127.0.0.1:7860
    python app.py --index indexes/my-shop --port 7861

Options may also come from the environment: INTERESTMAP_APP_INDEX, INTERESTMAP_APP_HOST,
INTERESTMAP_APP_PORT. The app is a thin layer over the library (interestmap.app_ui).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Run the interestmap app (Gradio).")
    p.add_argument("--index", default=os.environ.get("INTERESTMAP_APP_INDEX") or None,
                   help="folder of a built index to open first (default: the built-in "
                        "topic atlas, built on first run)")
    p.add_argument("--host", default=os.environ.get("INTERESTMAP_APP_HOST", "127.0.0.1"),
                   help="address to listen on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int,
                   default=int(os.environ.get("INTERESTMAP_APP_PORT", "7860")),
                   help="port (default 7860)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from interestmap import app_views
    from interestmap.app_ui import build_app, launch
    from interestmap.errors import InterestmapError

    def say(fraction: float, desc: str = "") -> None:
        print(f"\r{desc} … {fraction:.0%}   ", end="", file=sys.stderr, flush=True)

    try:
        # Open (and on a fresh machine, build) the first index before serving, so the
        # first page shows a map at once.
        app_views.get_index(args.index or app_views.DEFAULT_CHOICE, progress=say)
        print(file=sys.stderr)
        demo = build_app(args.index)
    except InterestmapError as e:
        print(f"\ninterestmap: {e}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"interestmap: listening on {args.host}: anyone who can reach this computer "
              "can use the app and read the maps you open", file=sys.stderr)
    try:
        launch(demo, host=args.host, port=args.port)
    finally:
        app_views.close_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
