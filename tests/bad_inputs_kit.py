"""The promise every refused input keeps, checked the same way by every bad-input test."""

from __future__ import annotations

import hashlib
from pathlib import Path


def assert_refused(result: tuple[int, str, str], *needles: str) -> str:
    """Exit 2, nothing on stdout, exactly one stderr line ``liqbot: error: ...`` holding every needle."""
    code, out, err = result
    lines = err.splitlines()
    assert code == 2, f"exit {code}, stderr: {err[-2000:]}"
    assert out == "", f"stdout not empty: {out[:500]!r}"
    assert len(lines) == 1, f"{len(lines)} stderr lines: {err[-2000:]}"
    assert lines[0].startswith("liqbot: error: "), lines[0]
    assert "Traceback" not in err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256): outputs untouched means this is unchanged."""
    if not root.exists():
        return {}
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
