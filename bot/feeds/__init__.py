"""Market data feeds for the runner: the simulator, file replay and live polling."""
