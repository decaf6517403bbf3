#!/usr/bin/env python3
"""Three of yiwei's indicator sources: the same SQL in SQLite and in DuckDB.

    python3 bench/indicators_vs_duckdb.py DATA_DIR/yiwei.db [--year 2025]

Run it on a county built with `yiwei demo --residents N --no-serve` (and refreshed, e.g.
by `yiwei bench indicators`). The script makes bench/.venv-duckdb with the pinned `duckdb`
of bench/requirements.txt the first time and re-runs itself there. Then, on this machine:

1. exports the columns the three sources read (resident, contract, case_report) from the
   SQLite file to CSV in a temporary folder and loads them into an in-memory DuckDB;
2. runs each source's query, as `yiwei_store::indicator` runs it for one year, three times
   on each side, and keeps the fastest:
   - `records`: live records created by the year end, per village;
   - `contracts`: per village, records and those with a contract in force on 31 December
     (the correlated EXISTS of the contract source, key groups left out);
   - `notifiable`: cases by village and disease with the on-time count;
3. checks that both sides return the same rows, and prints a markdown table with the
   times and the ratio.

SQLite here is Python's own sqlite3 module (its SQLite version is printed), reading the
same file; yiwei links its own bundled SQLite, so this compares the engines, not yiwei's
driver. The export time is printed but not part of the ratio.
"""

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-duckdb"


def ensure_duckdb() -> None:
    try:
        import duckdb  # noqa: F401
        return
    except ImportError:
        pass
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    pin = next(
        (l.strip() for l in (BENCH / "requirements.txt").read_text().splitlines()
         if l.startswith("duckdb==")),
        "duckdb",
    )
    subprocess.check_call([str(python), "-m", "pip", "install", "-q", pin])
    os.execv(str(python), [str(python), *sys.argv])


def queries(year: int) -> dict:
    end = f"{year}-12-31"
    until = f"{year + 1}-01-01"
    return {
        "records": f"""
            SELECT division_code, COUNT(*) AS n FROM resident
            WHERE merged_into IS NULL AND created_at < '{until}'
            GROUP BY division_code ORDER BY division_code""",
        "contracts": f"""
            SELECT t.division_code, COUNT(*) AS residents, SUM(t.s) AS signed FROM (
              SELECT r.division_code,
                CASE WHEN EXISTS (SELECT 1 FROM contract c WHERE c.resident_id = r.id
                  AND c.starts_on <= '{end}' AND COALESCE(c.ended_on, c.ends_on) >= '{end}'
                  AND c.ends_on >= '{end}') THEN 1 ELSE 0 END AS s
              FROM resident r WHERE r.merged_into IS NULL AND r.created_at < '{until}') t
            GROUP BY t.division_code ORDER BY t.division_code""",
        "notifiable": f"""
            SELECT division_code, disease, COUNT(*) AS n,
              SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS on_time FROM case_report
            WHERE diagnosed_on >= '{year}-01-01' AND diagnosed_on <= '{end}'
              AND status IN ('pending', 'probable_duplicate', 'accepted')
            GROUP BY division_code, disease ORDER BY division_code, disease""",
    }


TABLES = {
    "resident": ("id", "division_code", "merged_into", "created_at"),
    "contract": ("resident_id", "starts_on", "ends_on", "ended_on"),
    "case_report": ("division_code", "disease", "diagnosed_on", "status", "on_time"),
}


def best_of(run, n=3):
    best, rows = None, None
    for _ in range(n):
        t = time.perf_counter()
        rows = run()
        d = time.perf_counter() - t
        best = d if best is None or d < best else best
    return best, rows


def main() -> None:
    ensure_duckdb()
    import duckdb

    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--year", type=int, default=2025)
    args = ap.parse_args()
    lite = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    duck = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        for table, cols in TABLES.items():
            path = Path(tmp) / f"{table}.csv"
            with open(path, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(cols)
                for row in lite.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                    w.writerow(["" if v is None else v for v in row])
            types = {c: "VARCHAR" for c in cols}
            for c in ("id", "resident_id", "merged_into"):
                if c in types:
                    types[c] = "BIGINT"
            if "on_time" in types:
                types["on_time"] = "BOOLEAN"
            duck.execute(
                f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header = true, "
                f"columns = {types!r}, nullstr = '')"
            )
        duck.execute("CREATE INDEX contract_resident ON contract(resident_id)")
        export = time.perf_counter() - t
    n = lite.execute("SELECT COUNT(*) FROM resident").fetchone()[0]
    print(f"## Indicator sources: SQLite {sqlite3.sqlite_version} vs DuckDB {duckdb.__version__}, "
          f"{n:,} residents, year {args.year}\n")
    print(f"Export to CSV and load into DuckDB: {export:.1f} s (not in the ratio)\n")
    print("| source | SQLite | DuckDB | SQLite / DuckDB | same rows |")
    print("|---|---|---|---|---|")
    for name, sql in queries(args.year).items():
        ls, lrows = best_of(lambda: lite.execute(sql).fetchall())
        ds, drows = best_of(lambda: duck.execute(sql).fetchall())
        norm = lambda rows: [tuple(int(v) if isinstance(v, (bool, int)) else v for v in r) for r in rows]
        same = norm(lrows) == norm(drows)
        print(f"| {name} | {ls * 1000:.0f} ms | {ds * 1000:.0f} ms | {ls / ds:.1f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
