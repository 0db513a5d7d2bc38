"""Live trading through ccxt: the broker, its error mapping, reconciliation and the live session."""
