"""Example provider payloads bundled with liqbot (made-up but realistic numbers, no real data).

``bastion_btc.json`` (the README's first command), ``kiyotaka_points_btc.json`` (coin units,
2 snapshots), ``kiyotaka_flat_usd_btc.json`` (``flatten=true``, USD, 3 snapshots),
``coinglass_grid_btc.json`` (6 time columns), ``perp_api_heatmap_btc.json``,
``perp_api_best_btc.json`` and ``perp_api_stats.json``. Being a package, the files ship as
package data; ``EXAMPLES_DIR`` is where they are.
"""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
