"""The research loop: metrics, walk-forward windows, objectives, Optuna studies, overfitting figures, report.

Pure figures live in ``research.metrics`` and ``research.overfit``; ``research.windows`` cuts a
history into walk-forward windows; ``research.study`` runs the Optuna studies over backtests;
``liqbot optimize`` (``bot.cli.commands.optimize``) is the thin shell over it. This package holds
no numba kernels, so editing it never recompiles liqbot's cached kernels.
"""
