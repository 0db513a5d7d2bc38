"""The input-check layer: what a setting, an argument, a file or a state folder may hold.

Each rule lives once here and is called where the value enters liqbot (settings load, argument
parsing, file loaders, the store's open), so nothing wrong gets past the door and every refusal is
one line naming what is wrong (a ``ConfigError`` or ``DataError``).
"""
