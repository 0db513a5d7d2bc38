"""Live trading through ccxt: the broker, its error mapping, reconciliation and the runner's live venue."""
