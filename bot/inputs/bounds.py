"""Sanity bounds shared by settings, command-line arguments and input files.

They are not market opinions but the edges of what a real perpetual-futures market can hold:
values past them are typos, unit slips (percent for fraction) or corrupted files.
"""

from __future__ import annotations

from datetime import timedelta

# The highest price of any traded coin is far below this (BTC ~1e5): a larger "price" is a
# corrupted value or another series (open interest in USD) passed as prices.
MAX_PRICE = 1e7
# Funding per interval as a fraction. Exchanges cap it at a few percent (Binance: 0.3 % to 4 %
# per interval): |rate| above 5 % is a unit slip or dirt.
MAX_FUNDING_RATE = 0.05
# A fraction file holds rates around 1e-4; the same file in percent holds them around 1e-2.
# A median |rate| at or above this is read as percent and refused.
PERCENT_FUNDING_MEDIAN = 1e-3
# Funding intervals exchanges use, hours.
FUNDING_INTERVALS_H = (1, 2, 4, 8)
# Money amounts of a paper or backtest account, USD.
MAX_ACCOUNT_USD = 1e12
# One position's notional, USD.
MAX_POSITION_USD = 1e9
# Leverage a venue can grant.
MAX_LEVERAGE = 200.0
# The longest span a run, a warmup or a lookback may cover (bars are allocated per span).
MAX_SPAN = timedelta(days=3650)
# A candle file shorter than this cannot warm a model and trade.
MIN_CANDLE_ROWS = 10
