"""The synthetic liquidation heatmap: a point-in-time cohort ledger over public market data.

Modules: ``brackets`` (maintenance brackets per venue, ccxt converter), ``liqprice`` (tiered
liquidation prices), ``ledger`` (the numba kernel), ``inputs`` (point-in-time alignment),
``series`` (the columnar ``HeatmapSeries``), ``model`` (parameters, batch and incremental
builders), ``validate`` (measured skill against realized liquidations), ``bench``.
"""
