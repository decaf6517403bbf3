//! Run one early-warning method over count series from a CSV file; used by
//! `bench/warnings_vs_r.sh` to compare with R's `surveillance` package.
//!
//! ```text
//! cargo run --release -p yiwei-domain --example surveillance_csv -- \
//!     --input counts.csv --method ears_c3 [--params baseline=7,alpha=0.025] \
//!     [--step week|day] [--start 2001-01-01] [--from INDEX] > evaluations.csv
//! ```
//! Input: a header, then `series,count` rows, each series in time order. Output:
//! `series,index,observed,threshold,expected,alarm,note` (index 0-based, `NA` where no value).
//! Methods: fixed, mpm, ears_c1, ears_c2, ears_c3, farrington, farrington_noufaily.
//! Parameters use R's control-list names (baseline, minSigma, alpha, b, w, reweight,
//! weightsThreshold, trend, pThresholdTrend, limit54=5:4, powertrans, noPeriods,
//! pastWeeksNotIncluded, thresholdMethod, glmWarnings) and threshold, window, years,
//! adjacent, percentile. The compute time is printed on stderr.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::time::Instant;

use chrono::NaiveDate;
use yiwei_domain::surveillance::{
    EarsParams, FarringtonParams, FixedParams, Method, MovingPercentileParams, PowerTransform,
    Series, Step, ThresholdMethod, evaluate,
};

type Error = Box<dyn std::error::Error>;

fn parse_bool(v: &str) -> Result<bool, Error> {
    match v {
        "true" | "TRUE" | "T" | "1" => Ok(true),
        "false" | "FALSE" | "F" | "0" => Ok(false),
        _ => Err(format!("not a boolean: {v}").into()),
    }
}

fn method_from(code: &str, params: &[(String, String)]) -> Result<Method, Error> {
    let mut method = match code {
        "fixed" => Method::Fixed(FixedParams::default()),
        "mpm" => Method::MovingPercentile(MovingPercentileParams::default()),
        "ears_c1" => Method::EarsC1(EarsParams::default()),
        "ears_c2" => Method::EarsC2(EarsParams::default()),
        "ears_c3" => Method::EarsC3(EarsParams::default()),
        "farrington" => Method::Farrington(FarringtonParams::default()),
        "farrington_noufaily" => Method::Farrington(FarringtonParams::noufaily()),
        other => return Err(format!("unknown method {other}").into()),
    };
    for (key, value) in params {
        let v = value.as_str();
        match (&mut method, key.as_str()) {
            (Method::Fixed(p), "threshold") => p.threshold = v.parse()?,
            (Method::MovingPercentile(p), "window") => p.window = v.parse()?,
            (Method::MovingPercentile(p), "years") => p.years = v.parse()?,
            (Method::MovingPercentile(p), "adjacent") => p.adjacent = v.parse()?,
            (Method::MovingPercentile(p), "percentile") => p.percentile = v.parse()?,
            (Method::EarsC1(p) | Method::EarsC2(p) | Method::EarsC3(p), k) => match k {
                "baseline" => p.baseline = v.parse()?,
                "minSigma" => p.min_sigma = v.parse()?,
                "alpha" => p.alpha = Some(v.parse()?),
                _ => return Err(format!("unknown EARS parameter {k}").into()),
            },
            (Method::Farrington(p), k) => match k {
                "b" => p.b = v.parse()?,
                "w" => p.w = v.parse()?,
                "reweight" => p.reweight = parse_bool(v)?,
                "weightsThreshold" => p.weights_threshold = v.parse()?,
                "alpha" => p.alpha = v.parse()?,
                "trend" => p.trend = parse_bool(v)?,
                "pThresholdTrend" => p.p_threshold_trend = v.parse()?,
                "limit54" => {
                    let (cases, period) = v.split_once(':').ok_or("limit54 is cases:period")?;
                    p.limit54 = (cases.parse()?, period.parse()?);
                }
                "powertrans" => {
                    p.powertrans = match v {
                        "2/3" => PowerTransform::TwoThirds,
                        "1/2" => PowerTransform::Half,
                        "none" => PowerTransform::None,
                        _ => return Err(format!("unknown powertrans {v}").into()),
                    }
                }
                "noPeriods" => p.no_periods = v.parse()?,
                "pastWeeksNotIncluded" => p.past_weeks_not_included = Some(v.parse()?),
                "thresholdMethod" => {
                    p.threshold_method = match v {
                        "delta" => ThresholdMethod::Delta,
                        "nbPlugin" => ThresholdMethod::NbPlugin,
                        "muan" => ThresholdMethod::Muan,
                        _ => return Err(format!("unknown thresholdMethod {v}").into()),
                    }
                }
                "glmWarnings" => p.glm_warnings = parse_bool(v)?,
                _ => return Err(format!("unknown Farrington parameter {k}").into()),
            },
            (_, k) => return Err(format!("parameter {k} does not apply to {code}").into()),
        }
    }
    Ok(method)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "NA".to_string(), |x| format!("{x:.17e}"))
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts: BTreeMap<&str, &str> = BTreeMap::new();
    for pair in args.chunks(2) {
        match pair {
            [k, v] if k.starts_with("--") => {
                opts.insert(&k[2..], v);
            }
            _ => return Err(format!("expected --name value pairs, got {pair:?}").into()),
        }
    }
    let input = opts.get("input").ok_or("--input is required")?;
    let code = opts.get("method").ok_or("--method is required")?;
    let params: Vec<(String, String)> = opts
        .get("params")
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split(',')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    let method = method_from(code, &params)?;
    let step = match opts.get("step").copied().unwrap_or("week") {
        "week" => Step::Week,
        "day" => Step::Day,
        other => return Err(format!("unknown step {other}").into()),
    };
    let start = NaiveDate::parse_from_str(
        opts.get("start").copied().unwrap_or("2001-01-01"),
        "%Y-%m-%d",
    )?;
    let from: Option<usize> = opts.get("from").map(|v| v.parse()).transpose()?;

    // Read all series first so the timing covers computation only.
    let mut series: Vec<(String, Vec<u32>)> = Vec::new();
    let file = std::io::BufReader::new(std::fs::File::open(input)?);
    for line in file.lines().skip(1) {
        let line = line?;
        let (name, count) = line.rsplit_once(',').ok_or("rows are series,count")?;
        let name = name.trim_matches('"');
        let count: u32 = count.trim().parse()?;
        match series.last_mut() {
            Some((last, counts)) if last == name => counts.push(count),
            _ => series.push((name.to_string(), vec![count])),
        }
    }

    let started = Instant::now();
    let mut results = Vec::with_capacity(series.len());
    let mut n_points = 0;
    for (name, counts) in &series {
        let s = Series {
            counts,
            step,
            start,
        };
        let first = from.unwrap_or_else(|| method.first_index(&s));
        let evals = evaluate(&method, &s, first..counts.len())
            .map_err(|e| format!("series {name}: {e}"))?;
        n_points += evals.len();
        results.push((name, evals));
    }
    let elapsed = started.elapsed();

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(out, "series,index,observed,threshold,expected,alarm,note")?;
    for (name, evals) in results {
        for e in evals {
            writeln!(
                out,
                "{name},{},{},{},{},{},\"{}\"",
                e.index,
                e.observed,
                fmt_opt(e.threshold),
                fmt_opt(e.expected),
                if e.alarm { "TRUE" } else { "FALSE" },
                e.baseline.note.replace('"', "'")
            )?;
        }
    }
    out.flush()?;
    eprintln!(
        "ours {code}: {} series, {n_points} points in {:.3} s",
        series.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}
