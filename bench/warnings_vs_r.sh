#!/usr/bin/env bash
# Early-warning parity with R's `surveillance` package (issue 5).
#
# Exports the weekly data sets the package ships, runs R's earsC (C1, C2, C3) and
# farringtonFlexible (default, Noufaily, "muan", and a b=3/no-reweight/powertrans="none"
# variant) over them, runs yiwei's implementation over the same series through
# crates/yiwei-domain/examples/surveillance_csv.rs, and prints a side-by-side table.
# Exits non-zero when alarms differ anywhere or an upper bound differs by more than 1e-6
# relative (or is NA on one side only).
#
#   bench/warnings_vs_r.sh              # full comparison (R's Farrington takes minutes)
#   bench/warnings_vs_r.sh --fixtures   # regenerate crates/yiwei-domain/tests/fixtures/surveillance
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-surv}

if ! command -v Rscript >/dev/null || ! Rscript -e 'library(surveillance)' >/dev/null 2>&1; then
  echo "installing r-base-core and r-cran-surveillance" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends r-base-core r-cran-surveillance >&2
fi

MODE=full
[[ "${1:-}" == "--fixtures" ]] && MODE=fixtures
if [[ $MODE == fixtures ]]; then
  OUT=$ROOT/crates/yiwei-domain/tests/fixtures/surveillance
  mkdir -p "$OUT"
  Rscript bench/warnings_vs_r.R "$OUT" fixtures
  exit 0
fi

OUT=$(mktemp -d /tmp/warnings_vs_r.XXXXXX)
echo "working in $OUT" >&2
cargo build --release -q -p yiwei-domain --example surveillance_csv
EX=$CARGO_TARGET_DIR/release/examples/surveillance_csv

Rscript bench/warnings_vs_r.R "$OUT" 2>&1 | tee "$OUT/r_times.txt" >&2

run_ours() { # code input params
  "$EX" --input "$OUT/$2" --method "$4" --params "$3" > "$OUT/ours_$1.csv" 2>> "$OUT/ours_times_$1.txt"
}
: > /dev/null
for m in ears_c1 ears_c2 ears_c3; do run_ours $m counts_ears.csv "" $m; done
run_ours farrington counts_farrington.csv "" farrington
run_ours farrington_noufaily counts_farrington.csv "" farrington_noufaily
run_ours farrington_muan counts_farrington.csv "noPeriods=10,pastWeeksNotIncluded=26,thresholdMethod=muan" farrington
run_ours farrington_b3_none counts_farrington.csv "b=3,w=2,powertrans=none,reweight=false,limit54=0:4,alpha=0.01" farrington

python3 - "$OUT" <<'PY'
import csv, re, sys
out = sys.argv[1]
methods = ["ears_c1", "ears_c2", "ears_c3", "farrington", "farrington_noufaily",
           "farrington_muan", "farrington_b3_none"]
r_times = {}
for line in open(f"{out}/r_times.txt"):
    m = re.match(r"R (\S+): (\d+) series, (\d+) points in ([\d.]+) s", line)
    if m: r_times[m[1]] = float(m[4])
def load(path, col):
    d = {}
    for r in csv.DictReader(open(path)):
        v = r[col]
        d[(r["series"], int(r["index"]))] = (None if v == "NA" else float(v), r["alarm"] == "TRUE")
    return d
failed = False
print(f"{'method':<22}{'series':>7}{'points':>8}{'alarms R':>10}{'ours':>6}{'agree':>8}{'max rel diff':>14}{'R s':>9}{'ours s':>9}")
for m in methods:
    R = load(f"{out}/r_{m}.csv", "upperbound")
    O = load(f"{out}/ours_{m}.csv", "threshold")
    ours_t = float(re.search(r"in ([\d.]+) s", open(f"{out}/ours_times_{m}.txt").read())[1])
    keys = set(R) | set(O)
    agree = sum(1 for k in keys if k in R and k in O and R[k][1] == O[k][1])
    max_rel, bad = 0.0, []
    for k in keys:
        if k not in R or k not in O:
            bad.append((k, "missing")); continue
        a, b = R[k][0], O[k][0]
        if (a is None) != (b is None):
            bad.append((k, a, b)); continue
        if a is not None and a != b:
            rel = abs(a - b) / max(abs(a), abs(b))
            max_rel = max(max_rel, rel)
            if rel > 1e-6: bad.append((k, a, b))
        if R[k][1] != O[k][1]: bad.append((k, "alarm", R[k][1], O[k][1]))
    series = len({k[0] for k in keys})
    print(f"{m:<22}{series:>7}{len(keys):>8}{sum(v[1] for v in R.values()):>10}"
          f"{sum(v[1] for v in O.values()):>6}{agree / len(keys):>8.2%}{max_rel:>14.2e}"
          f"{r_times.get(m, float('nan')):>9.2f}{ours_t:>9.3f}")
    if bad:
        failed = True
        print(f"  DISAGREE at {len(bad)} points, first: {bad[:3]}")
print("(datasets: " + ", ".join(sorted({k[0] for k in load(f'{out}/r_ears_c1.csv', 'upperbound')})) + ")")
sys.exit(1 if failed else 0)
PY
