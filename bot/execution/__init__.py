"""Execution: order domain, the broker protocol, the paper broker and its fill rules."""
