"""``liqbot serve``: the cluster API, the bot's read-only API and the live dashboard over a state folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``serve``."""
    p = sub.add_parser("serve", help="serve the cluster API, the bot's state and a live dashboard (read-only)",
                       description="Serve a state folder read-only: the cluster API (/api/heatmap/{SYMBOL}, /best, "
                                   "/api/stats), the bot's API (/api/bot/...), a live stream (/api/stream) and the "
                                   "dashboard at /. Runs beside a paper or live bot, or alone on a finished run.")
    p.add_argument("--state", type=Path, default=None, help="state folder (default: state_dir)")
    p.add_argument("--store", type=Path, default=None, help="snapshot store (default: STATE/snapshots)")
    p.add_argument("--host", default=None, help="bind address (default: serve.host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: serve.port)")
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``liqbot serve``: check the bind and the state, then serve until interrupted."""
    from bot.errors import ConfigError
    from bot.serve.app import ServeConfig, create_app
    from bot.serve.security import check_bind
    from bot.serve.server import run
    from bot.serve.state import StateReader

    cfg = settings.serve
    host = args.host or cfg.host
    port = cfg.port if args.port is None else args.port
    if not 0 < port < 65536:
        raise ConfigError(f"--port: must be 1-65535, got {port}")
    check_bind(host, cfg.token)
    state = args.state or settings.state_dir
    store = args.store
    if store is not None and not store.is_dir():
        raise ConfigError(f"--store: no such folder: {store}")
    StateReader(state, store, settings.strategies.signal_log).check()  # a missing store: one line, exit 2
    app = create_app(ServeConfig(state_dir=state, store_dir=store, signal_log=settings.strategies.signal_log,
                                 token=cfg.token, cors_origins=tuple(cfg.cors_origins), poll_s=cfg.poll_s,
                                 bias_threshold=settings.clusters.bias_threshold))
    print(f"liqbot serve: http://{host}:{port}/ (state {state}, read-only)", file=sys.stderr)
    run(app, host, port)
    return 0
