"""HTTP clients of the heatmap providers (history import): Kiyotaka and CoinGlass.

Clients only fetch raw payloads within each provider's paging limits; parsing is
``bot.heatmap.parsers``'s job, storing ``bot.heatmap.store``'s.
"""
