"""Hand-written fakes for tests: a scriptable local HTTP server and the venue shapes it serves."""
