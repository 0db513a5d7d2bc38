"""Build the authenticated ccxt exchange for live trading, and refuse keys that cannot be real.

Keys are ``SecretStr`` in the settings; ``get_secret_value`` is called here only, to hand them
to ccxt, and ccxt's ``verbose`` stays off (it would print the API-key header). The testnet is
reached through ccxt's own switch (:func:`use_testnet`). ``api_base`` points every REST URL at one host (a proxy or
the local fake exchange); ccxt then no longer knows the URL is a USDT-M one, so the USDT-M
error table is made the exchange-wide table, and errors map exactly as on the real hosts.
"""

from __future__ import annotations

from typing import Any

import ccxt
from pydantic import SecretStr

from bot.errors import ConfigError
from bot.inputs.keys import placeholder_reason
from bot.marketdata.fetch import point_exchange_at
from config.settings import ExchangeSettings, LiveSettings



def check_keys(exchange: ExchangeSettings) -> tuple[str, str]:
    """The API key and secret, or ``ConfigError`` when missing or a placeholder (never echoes them)."""
    key, secret = _secret(exchange.api_key), _secret(exchange.api_secret)
    for name, value in (("api_key", key), ("api_secret", secret)):
        env = f"LIQBOT_EXCHANGE__{name.upper()}"
        if not value:
            raise ConfigError(f"live trading needs exchange.{name}: set {env} in the environment or .env")
        reason = placeholder_reason(value)
        if reason is not None:
            raise ConfigError(f"exchange.{name} looks like a placeholder, not a real key ({reason}): set {env}")
    if key == secret:
        raise ConfigError("exchange.api_key and exchange.api_secret are the same value: set both from the "
                          "exchange's key page")
    return key, secret


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


def make_live_exchange(exchange: ExchangeSettings, live: LiveSettings) -> ccxt.Exchange:
    """An authenticated ccxt exchange (markets not loaded yet), sandboxed when configured."""
    key, secret = check_keys(exchange)
    cls = getattr(ccxt, exchange.id, None)
    if cls is None or not isinstance(cls, type):
        raise ConfigError(f"exchange.id: unknown ccxt exchange {exchange.id!r}")
    options: dict[str, Any] = {
        "defaultType": "swap",
        "fetchMarkets": {"types": ["linear"]},  # USDT-M only: no spot/inverse calls at load_markets
        "fetchCurrencies": False,  # a spot (sapi) call: not needed to trade futures
        "recvWindow": live.recv_window_ms,
        "warnOnFetchOpenOrdersWithoutSymbol": False,
    }
    client = cls({"apiKey": key, "secret": secret, "enableRateLimit": True, "timeout": exchange.timeout_ms,
                  "options": options})
    client.verbose = False
    if exchange.sandbox:
        use_testnet(client)
    if live.api_base:
        point_exchange_at(client, live.api_base)
        _adopt_linear_errors(client)
    return client


def use_testnet(client: ccxt.Exchange) -> str:
    """Switch ``client`` to the exchange's test environment; returns which switch was used.

    ccxt's Binance class refuses its own futures sandbox URLs (the futures testnet was retired
    in favour of "demo trading"), so for Binance ccxt's demo switch is the sandbox switch.
    """
    if callable(getattr(client, "enable_demo_trading", None)) and client.id.startswith("binance"):
        client.enable_demo_trading(True)
        return "demo"
    client.set_sandbox_mode(True)
    return "sandbox"


def _adopt_linear_errors(client: ccxt.Exchange) -> None:
    """Give ccxt the USDT-M error table even though the URL no longer says USDT-M."""
    linear = client.exceptions.get("linear") if isinstance(client.exceptions, dict) else None
    if not isinstance(linear, dict):
        return
    for kind in ("exact", "broad"):
        merged = dict(client.exceptions.get(kind, {}))
        merged.update(linear.get(kind, {}))
        client.exceptions[kind] = merged
