"""Keys that cannot be real: the live guard refuses them before anything is created or sent.

A real exchange key or secret is a long run of random letters and digits. The rules below never
echo the value: a refused "placeholder" may be a real key, so the reason names only the rule.
"""

from __future__ import annotations

import re

MIN_KEY_LEN = 16
# Sub-strings no random key of letters and digits plausibly holds (5+ letters, or a template mark).
_MARKS = ("your", "changeme", "change_me", "placeholder", "example", "replace", "insert", "dummy", "sample",
          "redacted", "apikey", "api_key", "api-key", "secret", "xxxx", "....", "todo", "fixme")
# Whole tokens (between - _ . : / or spaces) that mark a template, e.g. "my-test-key-1".
_TOKENS = frozenset({"my", "test", "testing", "fake", "demo", "key", "keys", "here", "api", "none", "null", "abc",
                     "foo", "bar", "mock", "temp", "tmp", "default", "binance", "token", "pass", "password"})
_TEMPLATE = re.compile(r"\$\{|\$\(|\$[A-Za-z_]|%[A-Za-z_]+%|\{\{|<[^>]*>|\[[^\]]*\]")
_SEPARATORS = re.compile(r"[-_.:/\s]+")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def placeholder_reason(value: str) -> str | None:
    """Why ``value`` cannot be a real key (the rule, never the value), or None when it may be one."""
    if len(value) < MIN_KEY_LEN:
        return f"fewer than {MIN_KEY_LEN} characters"
    if any(c.isspace() for c in value) or any(c in value for c in "\"'`"):
        return "holds spaces or quotes"
    if _TEMPLATE.search(value):
        return "an unexpanded variable or template"
    lowered = value.lower()
    if any(mark in lowered for mark in _MARKS):
        return "a placeholder word"
    if any(tok in _TOKENS for tok in _SEPARATORS.split(lowered)):
        return "a placeholder word"
    if len(set(lowered)) < 8:
        return "too few distinct characters"
    if _counting(lowered, 6):
        return "a counting sequence"
    if (value + value).find(value, 1) < len(value):
        return "a repeated pattern"
    return None


def _counting(text: str, run: int) -> bool:
    """True when ``text`` holds ``run`` characters counting up or down (123456, abcdef, 987654)."""
    up = down = 1
    for a, b in zip(text, text[1:]):
        ia, ib = _ALPHABET.find(a), _ALPHABET.find(b)
        up = up + 1 if ia >= 0 and ib == ia + 1 else 1
        down = down + 1 if ia >= 0 and ib == ia - 1 and ib >= 0 else 1
        if up >= run or down >= run:
            return True
    return False
