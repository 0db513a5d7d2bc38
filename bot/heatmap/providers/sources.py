"""Heatmap sources the runner trades on: what every remote provider offers, and how they are built.

A :class:`MapSource` reads one provider for one symbol:

- ``fetch_latest(symbol, now)``: the newest snapshot the provider has PUBLISHED by ``now`` (its
  ``ts`` is the provider's publish time), or ``None``;
- ``fetch_history(symbol, start, end, now)``: every snapshot published in ``[start, end]``, from
  the provider's history endpoint (``has_history`` False: the provider has none, so a replay needs
  a store recorded by a live run);
- ``priced(snapshot, price)``: the snapshot with its reference price (a payload without a price,
  Kiyotaka's, gets the market price known at its publish time; the others keep their own).

Publish time is conservative: a Kiyotaka point or a CoinGlass column counts as published when
its interval ENDS (the interval may still be forming before), a Bastion or cluster-API document
at its own ``timestamp``. Each source declares its ``cadence_s`` (how often the provider has
something new) and ``weight`` per request against its :class:`RequestBudget`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable, Protocol

from bot.domain import HeatmapSnapshot, HeatmapSource
from bot.errors import ConfigError
from bot.heatmap.providers.budget import RequestBudget
from bot.retry import RetryPolicy

REMOTE = ("kiyotaka", "coinglass", "bastion", "perp-api", "hyperliquid")
SOURCES = ("synthetic", *REMOTE, "store")


class MapSource(Protocol):
    """One remote heatmap provider (see the module docstring)."""

    kind: HeatmapSource
    cadence_s: float
    weight: float
    budget: RequestBudget
    has_history: bool
    history_chunk: timedelta

    def fetch_latest(self, symbol: str, now: datetime) -> HeatmapSnapshot | None:
        """The newest snapshot published by ``now`` (``ts`` = publish time)."""
        ...

    def fetch_history(self, symbol: str, start: datetime, end: datetime, now: datetime) -> list[HeatmapSnapshot]:
        """Snapshots published in ``[start, end]``, by time (``ts`` = publish time)."""
        ...

    def priced(self, snapshot: HeatmapSnapshot, price: float | None) -> HeatmapSnapshot | None:
        """``snapshot`` with its reference price (``None``: no price known yet)."""
        ...


def coin_of(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC`` (what Kiyotaka, CoinGlass, Bastion and Hyperliquid are asked with)."""
    return symbol.split("/")[0].split(":")[0].upper()


def pair_of(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTCUSDT`` (the cluster API's path symbol)."""
    base, _, rest = symbol.partition("/")
    return (base + rest.split(":")[0]).upper()


def published(snapshot: HeatmapSnapshot, at: datetime, **assumptions: Any) -> HeatmapSnapshot:
    """``snapshot`` stamped with its publish time ``at``; the provider's own time stays in ``provider_ts``."""
    extra = {"provider_ts": snapshot.assumptions.get("provider_ts", snapshot.ts.isoformat()), **assumptions}
    return replace(snapshot, ts=at, assumptions={**snapshot.assumptions, **extra})


def live_policy(settings: Any) -> RetryPolicy:
    """Live polls are tried once: the poller backs off between polls instead of blocking the loop."""
    return RetryPolicy(attempts=1, retry_after_max_s=settings.providers.retry_after_max_s)


def history_policy(settings: Any) -> RetryPolicy:
    """Replay history reads: bounded retries with backoff (``providers.retry_attempts`` ...)."""
    p = settings.providers
    return RetryPolicy(attempts=p.retry_attempts, initial_s=p.backoff_initial_s, max_s=p.backoff_max_s,
                       retry_after_max_s=p.retry_after_max_s)


def make_source(name: str, settings: Any, *, live: bool, sleep: Callable[[float], None]) -> MapSource:
    """The source called ``name`` from ``settings.providers`` (live: single-try polls)."""
    policy = live_policy(settings) if live else history_policy(settings)
    p = settings.providers
    common = {"timeout_s": p.timeout_s, "policy": policy, "sleep": sleep}
    if name == "kiyotaka":
        from bot.heatmap.providers.kiyotaka import Interval, KiyotakaClient, KiyotakaSource
        return KiyotakaSource(KiyotakaClient(p.kiyotaka_base_url, p.kiyotaka_api_key, **common),
                              Interval(p.kiyotaka_interval), RequestBudget(p.kiyotaka_weight_per_min),
                              max_depth=p.kiyotaka_max_depth)
    if name == "coinglass":
        from bot.heatmap.providers.coinglass import CoinglassClient, CoinglassSource, Model
        return CoinglassSource(CoinglassClient(p.coinglass_base_url, p.coinglass_api_key, **common),
                               Model(p.coinglass_model), p.coinglass_cadence_s,
                               RequestBudget(p.coinglass_requests_per_min))
    if name == "bastion":
        from bot.heatmap.providers.bastion import BastionClient, BastionSource
        return BastionSource(BastionClient(p.bastion_base_url, p.bastion_api_key, **common), p.bastion_cadence_s,
                             RequestBudget(p.bastion_requests_per_min))
    if name == "perp-api":
        from bot.heatmap.providers.perp_api import PerpApiClient, PerpApiSource
        return PerpApiSource(PerpApiClient(p.perp_api_base_url, p.perp_api_api_key, **common), p.perp_api_cadence_s,
                             RequestBudget(p.perp_api_requests_per_min))
    if name == "hyperliquid":
        from bot.heatmap.providers.hyperliquid import HyperliquidSource, InfoClient
        return HyperliquidSource(InfoClient(p.hyperliquid_base_url, None, **common), p)
    raise ConfigError(f"--heatmap: unknown remote source {name!r} (one of {', '.join(REMOTE)})")
