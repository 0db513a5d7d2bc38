"""The SQLite schema of the bot's store, as numbered migrations.

``events`` is the append-only history (source of truth); the other tables are projections
kept in step with it inside the same transaction. Each table keeps its queryable columns
plus ``record``, the exact JSON of the domain object, so reads round-trip losslessly.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (1, """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,               -- market time of the step that produced it
        kind TEXT NOT NULL,             -- order.intent | order.state | fill | position.opened | ...
        key TEXT NOT NULL,              -- client_id, trade_id, position_id, ...
        payload TEXT NOT NULL
    );
    CREATE INDEX events_kind ON events(kind, key);
    CREATE TABLE orders (
        client_id TEXT PRIMARY KEY,
        symbol TEXT NOT NULL,
        leg TEXT NOT NULL,
        side TEXT NOT NULL,
        type TEXT NOT NULL,
        qty REAL NOT NULL,
        price REAL,
        state TEXT NOT NULL,
        filled_qty REAL NOT NULL,
        avg_price REAL,
        exchange_id TEXT UNIQUE,
        signal_id TEXT NOT NULL,
        position_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX orders_state ON orders(state);
    CREATE TABLE fills (
        trade_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES orders(client_id),
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        leg TEXT NOT NULL,
        qty REAL NOT NULL,
        price REAL NOT NULL,
        fee REAL NOT NULL,
        ts TEXT NOT NULL,
        position_id TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE INDEX fills_ts ON fills(ts);
    CREATE TABLE positions (                -- open positions only
        symbol TEXT PRIMARY KEY,
        position_id TEXT NOT NULL UNIQUE,
        side TEXT NOT NULL,
        qty REAL NOT NULL,
        entry_price REAL NOT NULL,
        opened_at TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE trades (                   -- closed positions
        position_id TEXT PRIMARY KEY,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        closed_at TEXT NOT NULL,
        net_pnl REAL NOT NULL,
        exit_reason TEXT NOT NULL,
        signal_id TEXT NOT NULL,
        record TEXT NOT NULL
    );
    CREATE TABLE equity (
        ts TEXT PRIMARY KEY,
        wallet REAL NOT NULL,
        unrealized REAL NOT NULL,
        equity REAL NOT NULL,
        open_positions INTEGER NOT NULL
    );
    CREATE TABLE signal_orders (            -- what the bot did with each signal it acted on
        signal_id TEXT PRIMARY KEY,
        ts TEXT NOT NULL,
        symbol TEXT NOT NULL,
        strategy TEXT NOT NULL,
        direction TEXT NOT NULL,
        decision TEXT NOT NULL,             -- submitted | denied | skipped
        reason TEXT,
        client_id TEXT REFERENCES orders(client_id)
    );
    CREATE TABLE risk_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        reason TEXT,
        record TEXT NOT NULL
    );
    CREATE TABLE kv (                       -- cursor, component and venue state (JSON)
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE blobs (                    -- binary component state (numpy arrays)
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE snapshot_outbox (          -- snapshots acted on, not yet in the snapshot store
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        symbol TEXT NOT NULL,
        ts TEXT NOT NULL,
        payload BLOB NOT NULL
    );
    """),
    (2, """
    CREATE TABLE bars (                     -- every closed bar the runner stepped (chart candles)
        symbol TEXT NOT NULL,
        ts TEXT NOT NULL,                   -- bar open time
        open REAL NOT NULL,
        high REAL NOT NULL,
        low REAL NOT NULL,
        close REAL NOT NULL,
        volume REAL NOT NULL,
        oi_usd REAL,                        -- positioning known at the close (NULL: the feed has none)
        long_short_ratio REAL,
        funding_rate REAL,
        PRIMARY KEY (symbol, ts)
    );
    CREATE TABLE cluster_frames (           -- the tracker's clusters after each bar (bot.store.frames)
        symbol TEXT NOT NULL,
        ts TEXT NOT NULL,                   -- snapshot time (bar close)
        price REAL NOT NULL,
        clusters TEXT NOT NULL,
        PRIMARY KEY (symbol, ts)
    );
    """),
)


# Every table of the current schema: an existing store without one of them is not liqbot's.
TABLES: tuple[str, ...] = tuple(
    line.split()[2] for _, ddl in MIGRATIONS for line in ddl.splitlines() if line.strip().startswith("CREATE TABLE"))


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every migration newer than the database; returns the resulting version."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
    current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
    for version, ddl in MIGRATIONS:
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, ddl.split(";")):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)",
                         (version, datetime.now(timezone.utc).isoformat()))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current = version
    return current
