"""The heatmap report card: research replays and the statistics ``liqbot validate`` prints.

``history`` replays any heatmap source through the cluster tracker once and returns columnar
cluster, magnet and break histories; ``bootstrap`` holds the day-block bootstrap every CI uses;
``direction``, ``touch``, ``breaks``, ``scale`` and ``mapstats`` are the sections of the card,
``card`` assembles them, ``report_html`` draws them.
"""
