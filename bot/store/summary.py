"""What a state folder holds, as one JSON-ready dict (``liqbot status`` and the paper summary)."""

from __future__ import annotations

from typing import Any

from bot.domain import iso
from bot.execution.orders import OrderLeg, to_record
from bot.store.sqlite import Decision, Store


def summarize(store: Store, *, trades_listed: int = 10) -> dict[str, Any]:
    """Trades, win rate, PnL, fees, funding, open positions and orders, equity, risk state."""
    trades = store.trades()
    curve = store.equity_curve()
    wins = sum(1 for t in trades if t.net_pnl > 0)
    decisions = store.decisions()
    equity = curve[-1][3] if curve else None
    peak, max_dd = 0.0, 0.0
    for _, _, _, eq, _ in curve:
        peak = max(peak, eq)
        max_dd = max(max_dd, (peak - eq) / peak * 100.0 if peak > 0 else 0.0)
    start = store.kv_get("venue", {}) or {}
    fills = store.fills()
    entry_fees = sum(f.fee for f in fills)
    positions = store.positions()
    risk = store.risk_state() or {"state": "ACTIVE", "reason": None}
    return {
        "as_of": iso(curve[-1][0]) if curve else store.kv_get("cursor"),
        "trades": len(trades),
        "wins": wins,
        "losses": len(trades) - wins,
        "win_rate": wins / len(trades) if trades else None,
        "gross_pnl": sum(t.gross_pnl for t in trades),
        "net_pnl": sum(t.net_pnl for t in trades),
        "fees": entry_fees,
        "funding": sum(t.funding for t in trades) + sum(p.funding for p in positions),
        "by_exit": _count(t.exit_reason.value for t in trades),
        "equity": equity,
        "wallet": curve[-1][1] if curve else start.get("wallet"),
        "unrealized": curve[-1][2] if curve else 0.0,
        "max_drawdown_pct": max_dd,
        "open_positions": [to_record(p) for p in positions],
        "open_orders": [_order_view(o) for o in store.open_orders()],
        "signals": {"total": len(decisions), **_count(d.decision.value for d in decisions),
                    **{k.value: 0 for k in Decision if k.value not in {d.decision.value for d in decisions}}},
        "fills": len(fills),
        "risk": {"state": risk["state"], "reason": risk.get("reason"), "since": risk.get("since")},
        "recent_trades": [to_record(t) for t in trades[-trades_listed:]],
    }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _order_view(order: Any) -> dict[str, Any]:
    i = order.intent
    return {"client_id": i.client_id, "symbol": i.symbol, "leg": i.leg.value, "side": i.side.value,
            "type": i.type.value, "qty": i.qty, "price": i.price, "state": order.state.value,
            "reduce_only": i.reduce_only, "signal_id": i.signal_id,
            "protects": i.position_id if i.leg is not OrderLeg.ENTRY else None}
