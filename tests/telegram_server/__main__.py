"""``python -m tests.telegram_server --dir ./loopback``: the loopback playground (see
``playground.py``). Serves on 127.0.0.1 until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from .playground import serve


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.telegram_server",
        description=(
            "Run the loopback MTProto test server with a small synthetic world (an account, a "
            "public and a private channel, photos posted as you watch) and write a monitor "
            "config for it into --dir. Listens on 127.0.0.1 only."
        ),
    )
    parser.add_argument(
        "--dir", required=True, type=Path, help="folder for the config, key, hash list, store"
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: OS-chosen)")
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between posts to @demo_feed"
    )
    parser.add_argument(
        "--posts", type=int, default=None, help="stop posting after N posts (keep serving)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the server's work")
    return parser


async def _main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # no add_signal_handler on Windows
            loop.add_signal_handler(sig, stop.set)
    pg = await serve(args.dir, args.port, args.interval, args.posts, stop=stop)
    print(f"Stopped after {len(pg.live_posts)} live post(s).", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.interval <= 0:
        _parser().error("--interval must be greater than 0")
    if args.posts is not None and args.posts < 0:
        _parser().error("--posts must be 0 or more")
    if not 0 <= args.port <= 65535:
        _parser().error("--port must be between 0 and 65535")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_main(args))
    except ValueError as exc:  # an unusable --dir
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port is taken
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a second Ctrl-C, or a platform without signal handlers
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
