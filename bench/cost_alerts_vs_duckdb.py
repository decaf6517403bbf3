#!/usr/bin/env python3
"""The monthly cost-alert job (防返贫监测预警) of yiwei against the same SQL in DuckDB.

Run from anywhere with Python 3.10+ and a Rust toolchain:

    python3 bench/cost_alerts_vs_duckdb.py                      # 1M residents, 5M charges
    python3 bench/cost_alerts_vs_duckdb.py --residents 100000 --charges 500000
    python3 bench/cost_alerts_vs_duckdb.py --reuse /tmp/run   # out.txt + export/ of a yiwei run

The script makes its own virtual environment in bench/data/cost_alerts/venv and installs
DuckDB from PyPI (the version pinned in bench/requirements.txt) the first time, and
re-runs itself there. Then, on this machine only (nothing listens on a network):

1. builds `yiwei` (release) and runs `yiwei bench cost-alerts --residents N --charges M
   --export DIR` on a fresh SQLite data folder in bench/data/cost_alerts/: the synthetic
   county is generated with set-based SQL, the monthly job of last month is timed (first
   run, rerun, a 12-month rule), and residents.csv and charges.csv are written;
2. loads both CSV files into an in-memory DuckDB (timed apart: the load is DuckDB's
   equivalent of the data already being in yiwei's database);
3. runs the job's SQL in DuckDB for the same month and the same two default rules — the
   window's charges joined to their residents, the population test on the key groups,
   `GROUP BY` resident, `HAVING SUM(amount) > threshold` — three times, and takes the
   median;
4. checks that both found the same alerts (the count per rule), and prints a table for
   docs/benchmarks.md with the ratio yiwei / DuckDB.

What is compared is not quite like for like, and the table says so: yiwei's time is the
job as it runs in production (attach unmatched charges by ID card, one INSERT … SELECT
per rule into the alert table with its unique key, the run record, all in transactions
on disk), DuckDB's is the two SELECTs over columnar tables in memory.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "data" / "cost_alerts"
VENV = WORK / "venv"
REQUIREMENTS = BENCH / "requirements.txt"


def duckdb_pin() -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        if line.strip().startswith("duckdb=="):
            return line.strip()
    return "duckdb"


def ensure_venv() -> None:
    """Create the venv, install DuckDB, and re-run inside it."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        print(f"creating {VENV}", file=sys.stderr)
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    stamp = VENV / "duckdb.installed"
    wanted = duckdb_pin()
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"installing {wanted} into {VENV}", file=sys.stderr)
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", wanted])
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# The default rules (yiwei_domain::cost_alert::default_rules): population test, amount,
# threshold in fen. DuckDB reads an empty key_groups cell as NULL, so the tests use
# COALESCE where yiwei's tables hold ''.
RULES = [
    (
        "poverty_total",
        "(',' || COALESCE(r.key_groups, '') || ',' LIKE '%,poverty_alleviated,%' "
        "OR ',' || COALESCE(r.key_groups, '') || ',' LIKE '%,monitored_household,%')",
        "c.total_fen",
        1_000_000,
    ),
    (
        "others_out_of_pocket",
        "NOT (',' || COALESCE(r.key_groups, '') || ',' LIKE '%,poverty_alleviated,%' "
        "OR ',' || COALESCE(r.key_groups, '') || ',' LIKE '%,monitored_household,%')",
        "c.out_of_pocket_fen",
        2_000_000,
    ),
]


def parse_report(out: str, export: Path) -> dict:
    job = re.search(r"Monthly job for (\d{4}-\d{2}) .*?\| ([\d.]+) s, (\d+) alerts", out)
    if not job:
        sys.exit("could not read the yiwei report")
    return {
        "month": job.group(1),
        "seconds": float(job.group(2)),
        "alerts": int(job.group(3)),
        "export": export,
        "report": out,
    }


def run_yiwei(args) -> dict:
    if args.reuse:
        reuse = Path(args.reuse)
        return parse_report((reuse / "out.txt").read_text(), reuse / "export")
    data = WORK / "yiwei"
    export = WORK / "export"
    if data.exists():
        shutil.rmtree(data)
    if export.exists():
        shutil.rmtree(export)
    env = {k: v for k, v in os.environ.items() if not k.startswith("YIWEI_")}
    env["YIWEI_LOG__LEVEL"] = "warn"
    if args.yiwei:
        binary = args.yiwei
    else:
        subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "yiwei"], cwd=ROOT)
        target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
        binary = str(Path(target) / "release" / "yiwei")
    out = subprocess.run(
        [
            binary,
            "--data-dir",
            str(data),
            "bench",
            "cost-alerts",
            "--residents",
            str(args.residents),
            "--charges",
            str(args.charges),
            "--export",
            str(export),
        ],
        env=env,
        cwd=WORK,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(out)
    return parse_report(out, export)


def month_window(month: str) -> tuple[str, str]:
    year, m = (int(x) for x in month.split("-"))
    first = f"{year:04d}-{m:02d}-01"
    ny, nm = (year + 1, 1) if m == 12 else (year, m + 1)
    return first, f"{ny:04d}-{nm:02d}-01"


def run_duckdb(export: Path, month: str, repeat: int) -> dict:
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(
        f"""CREATE TABLE resident AS SELECT * FROM read_csv('{export / "residents.csv"}',
            header = true, columns = {{'id': 'BIGINT', 'division_code': 'VARCHAR',
            'key_groups': 'VARCHAR', 'merged': 'BOOLEAN'}})"""
    )
    con.execute(
        f"""CREATE TABLE cost_charge AS SELECT * FROM read_csv('{export / "charges.csv"}',
            header = true, columns = {{'resident_id': 'BIGINT', 'visit_date': 'DATE',
            'total_fen': 'BIGINT', 'out_of_pocket_fen': 'BIGINT', 'policy_oop_fen': 'BIGINT'}})"""
    )
    load = time.perf_counter() - started
    first, after = month_window(month)
    times = []
    counts = {}
    for _ in range(repeat):
        started = time.perf_counter()
        for code, population, amount, threshold in RULES:
            rows = con.execute(
                f"""SELECT c.resident_id, r.division_code, SUM({amount}) AS amount, COUNT(*) AS n
                    FROM cost_charge c JOIN resident r ON r.id = c.resident_id
                    WHERE c.visit_date >= DATE '{first}' AND c.visit_date < DATE '{after}'
                      AND NOT r.merged AND {population}
                    GROUP BY c.resident_id, r.division_code
                    HAVING SUM({amount}) > {threshold}"""
            ).fetchall()
            counts[code] = len(rows)
        times.append(time.perf_counter() - started)
    n_residents = con.execute("SELECT COUNT(*) FROM resident").fetchone()[0]
    n_charges = con.execute("SELECT COUNT(*) FROM cost_charge").fetchone()[0]
    return {
        "load": load,
        "seconds": statistics.median(times),
        "times": times,
        "counts": counts,
        "residents": n_residents,
        "charges": n_charges,
        "version": duckdb.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--charges", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--yiwei", help="a built yiwei binary (default: cargo build --release)")
    parser.add_argument(
        "--reuse",
        help="a folder with out.txt (the report of an earlier `yiwei bench cost-alerts --export DIR/export`) and DIR/export: skip the yiwei run",
    )
    args = parser.parse_args()
    ensure_venv()
    y = run_yiwei(args)
    d = run_duckdb(y["export"], y["month"], args.repeat)
    total = sum(d["counts"].values())
    same = "yes" if total == y["alerts"] else f"**no** (yiwei {y['alerts']}, DuckDB {total})"
    ratio = y["seconds"] / d["seconds"] if d["seconds"] > 0 else float("inf")
    print(f"## Cost alerts: yiwei against DuckDB {d['version']} ({time.strftime('%Y-%m-%d')})\n")
    reused = f" --reuse {args.reuse}" if args.reuse else ""
    print(f"- Command: `python3 bench/cost_alerts_vs_duckdb.py --residents {args.residents} --charges {args.charges}{reused}`")
    print(f"- Data: {d['residents']} residents, {d['charges']} charges; month {y['month']}; machine: {os.cpu_count()} cores")
    print()
    print("| Side | Monthly job (2 default rules) | Alerts | Notes |")
    print("|---|---|---|---|")
    print(f"| yiwei (SQLite, on disk) | {y['seconds']:.2f} s | {y['alerts']} | the job as in production: attach, INSERT … SELECT per rule, run record |")
    print(
        f"| DuckDB {d['version']} (in memory) | {d['seconds']:.2f} s (median of {len(d['times'])}) | "
        f"{total} ({', '.join(f'{k} {v}' for k, v in d['counts'].items())}) | SELECT only; CSV load {d['load']:.1f} s not counted |"
    )
    print()
    print(f"Ratio yiwei / DuckDB: **{ratio:.1f}×**; same alerts: {same}.")


if __name__ == "__main__":
    main()
