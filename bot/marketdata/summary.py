"""One line per market-data file: detected kind, rows, first/last timestamp, repairs, gaps.

``python -m bot.marketdata.summary FILE_OR_DIR...`` prints the table (``--json`` for one JSON
document); a file that fails validation shows its one-line ``DataError`` instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from bot.errors import DataError
from bot.marketdata.files import load_series


def summarize(path: Path) -> dict[str, Any]:
    """Load ``path`` by content and describe it (``error`` holds the DataError if it fails)."""
    try:
        kind, frame = load_series(path)
    except DataError as exc:
        return {"file": str(path), "error": " ".join(str(exc).split())}
    attrs = frame.attrs
    return {"file": str(path), "kind": str(kind), "rows": len(frame),
            "first": frame.index[0].isoformat(), "last": frame.index[-1].isoformat(),
            "timeframe": attrs.get("timeframe"), "source_format": attrs.get("source_format"),
            "gaps": attrs.get("gaps", 0), "missing_bars": attrs.get("missing_bars", 0),
            "repairs": list(attrs.get("repairs", []))}


def data_files(targets: Sequence[Path]) -> list[Path]:
    """The files named, and every file below the folders named (README.md files skipped)."""
    found: list[Path] = []
    for target in targets:
        if target.is_dir():
            found.extend(p for p in sorted(target.rglob("*")) if p.is_file() and p.suffix.lower() != ".md")
        else:
            found.append(target)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary of every file; exit 2 when any file failed."""
    parser = argparse.ArgumentParser(prog="python -m bot.marketdata.summary", description=__doc__)
    parser.add_argument("targets", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    args = parser.parse_args(argv)
    rows = [summarize(p) for p in data_files(args.targets)]
    if args.json:
        print(json.dumps({"files": rows}, indent=1))
    else:
        for r in rows:
            if "error" in r:
                print(f"{r['file']}: ERROR {r['error']}")
                continue
            repairs = "; ".join(r["repairs"]) or "-"
            print(f"{r['file']}: {r['kind']} rows={r['rows']} {r['first']} .. {r['last']} tf={r['timeframe']} "
                  f"format={r['source_format']} gaps={r['gaps']} (missing bars {r['missing_bars']}) "
                  f"repairs={repairs}")
    return 2 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
