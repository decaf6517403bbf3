//! Link two files of person records with the master-index score, for measuring match quality
//! against a benchmark with known links (`bench/febrl4_vs_splink.py` runs it on FEBRL4).
//!
//! ```text
//! cargo run --release -p yiwei-domain --example match_eval -- A.tsv B.tsv \
//!     [--link 30] [--review 20] [--review-as-link] [--all] [--explain] [--truth LINKS.tsv] \
//!     [--em] [--sample N] [--threads N]
//! ```
//!
//! Input: two tab-separated files with a header line naming the columns `id`, `name`, `sex`,
//! `birth_date` (`YYYY-MM-DD`, or empty), `id_card`, `phone`, `village`, `household` (an
//! integer) and `address`, in any order; absent columns and empty cells are missing values.
//! Tabs and newlines inside a value are not supported (there is no quoting).
//!
//! Candidate pairs (blocking). A pair (a, b), a from the first file and b from the second,
//! is scored when any of these hold:
//! 1. the same birth year;
//! 2. the same first letter of the name's first pinyin key (the Latin letters of a Latin
//!    name) and the same village;
//! 3. the same name key (the name's likeliest pinyin reading run together; a Latin name's
//!    letters);
//! 4. the same ID-card number (trimmed, upper case);
//! 5. the same phone digits;
//! 6. the same household.
//!
//! Rules 4–6 are the store's own blocking keys; 1–3 are wider than the store's (name key
//! and birth date together), so a typo in one field rarely hides a pair. With `--truth` the
//! share of true links that blocking keeps (pair completeness) is reported.
//!
//! Each pair is scored with `yiwei_domain::empi::score`, `Weights::default()` and
//! `Thresholds::default()` (or `--link`/`--review`). Output on stdout, one line per pair
//! decided Link or Review (every scored pair with `--all`): `id_a, id_b, score, decision`,
//! tab-separated, after a header line; `--explain` adds the level of each field
//! (`name=C+5.3`: Exact, Close, Disagree or Missing, and the weight) and the rule that
//! decided. On stderr: counts, timings and, with `--truth` (a TSV of `id_a, id_b` true links
//! with a header line), pair completeness, precision, recall and F1, where a Review counts
//! as not linked unless `--review-as-link` is given.
//!
//! `--em` trains the weights on the two files with the product's own code,
//! `yiwei_domain::empi::em::train` (what `yiwei empi train` runs on a county's residents):
//! `u` from `--sample` random pairs (default 1,000,000), `m` by EM on the pairs of two
//! blocking rules (the same birth date; the same village), each holding its blocked field
//! out, and the prior from the sessions with their blocking undone. The thresholds then
//! follow `Thresholds::from_prior`: review where the estimated prior odds of a pair are
//! overcome (match probability 0.5, Splink's usual decision), link 10 bits (1000 to 1)
//! above, unless `--link`/`--review` are given. The comparison functions and the rules above
//! the sum (ID cards, family counted once, twins) are the matcher's own. The trained
//! weights, beside the defaults, go to stderr.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use yiwei_domain::empi::em::{self, Pattern, PatternCounts};
use yiwei_domain::empi::{self, Decision, FieldName, Level, Person, Thresholds, Weights};
use yiwei_domain::id_card::Sex;
use yiwei_domain::name;

struct Args {
    a: String,
    b: String,
    thresholds: Thresholds,
    review_as_link: bool,
    all: bool,
    explain: bool,
    truth: Option<String>,
    threads: usize,
    em: bool,
    sample: usize,
    link_given: bool,
    review_given: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: match_eval A.tsv B.tsv [--link X] [--review Y] [--review-as-link] [--all] \
         [--explain] [--truth LINKS.tsv] [--em] [--sample N] [--threads N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut files = Vec::new();
    let mut thresholds = Thresholds::default();
    let mut review_as_link = false;
    let mut all = false;
    let mut explain = false;
    let mut truth = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut em, mut sample) = (false, 1_000_000usize);
    let (mut link_given, mut review_given) = (false, false);
    let mut args = std::env::args().skip(1);
    let number = |v: Option<String>| -> f64 {
        v.and_then(|v| v.parse().ok())
            .filter(|x: &f64| x.is_finite())
            .unwrap_or_else(|| usage())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--link" => {
                thresholds.link = number(args.next());
                link_given = true;
            }
            "--review" => {
                thresholds.review = number(args.next());
                review_given = true;
            }
            "--em" => em = true,
            "--sample" => {
                sample = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage())
            }
            "--review-as-link" => review_as_link = true,
            "--all" => all = true,
            "--explain" => explain = true,
            "--truth" => truth = Some(args.next().unwrap_or_else(|| usage())),
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage())
            }
            "-h" | "--help" => usage(),
            s if s.starts_with("--") => usage(),
            _ => files.push(arg),
        }
    }
    if files.len() != 2 || thresholds.review > thresholds.link {
        usage();
    }
    let b = files.pop().unwrap_or_else(|| usage());
    let a = files.pop().unwrap_or_else(|| usage());
    Args {
        a,
        b,
        thresholds,
        review_as_link,
        all,
        explain,
        truth,
        threads,
        em,
        sample,
        link_given,
        review_given,
    }
}

/// One input record: its id, the person, and its blocking keys.
struct Record {
    id: String,
    person: Person,
    year: Option<i32>,
    letter_village: Option<(char, String)>,
    name_key: Option<String>,
    id_card: Option<String>,
    phone: Option<String>,
}

fn sex_of(s: &str) -> Option<Sex> {
    match s.trim().to_lowercase().as_str() {
        "m" | "male" | "1" | "男" => Some(Sex::Male),
        "f" | "female" | "2" | "女" => Some(Sex::Female),
        _ => None,
    }
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn read_records(path: &str) -> Result<Vec<Record>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{path}: empty file"))?
        .split('\t')
        .map(str::trim)
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let id_col = column("id").ok_or_else(|| format!("{path}: no `id` column"))?;
    let cols = [
        "name",
        "sex",
        "birth_date",
        "id_card",
        "phone",
        "village",
        "household",
        "address",
    ]
    .map(column);
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |c: Option<usize>| c.and_then(|c| cells.get(c)).map_or("", |s| s.trim());
        let birth_date = match cell(cols[2]) {
            "" => None,
            s => Some(
                NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map_err(|e| format!("{path}, line {}: birth_date {s:?}: {e}", n + 2))?,
            ),
        };
        let household = match cell(cols[6]) {
            "" => None,
            s => Some(
                s.parse::<i64>()
                    .map_err(|e| format!("{path}, line {}: household {s:?}: {e}", n + 2))?,
            ),
        };
        let person = Person {
            name: cell(cols[0]).to_owned(),
            sex: sex_of(cell(cols[1])),
            birth_date,
            id_card: some(cell(cols[3])),
            phone: some(cell(cols[4])),
            village: some(cell(cols[5])),
            household,
            address: some(cell(cols[7])),
        };
        let name_key = name::pinyin_keys(&person.name).into_iter().next();
        let letter = name_key.as_ref().and_then(|k| k.chars().next());
        let letter_village = letter.zip(person.village.clone());
        let id_card = person.id_card.as_deref().map(str::to_ascii_uppercase);
        let phone = person
            .phone
            .as_deref()
            .map(|p| p.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|p| !p.is_empty());
        out.push(Record {
            id: cell(Some(id_col)).to_owned(),
            year: person.birth_date.map(|d| d.year()),
            letter_village,
            name_key,
            id_card,
            phone,
            person,
        });
    }
    Ok(out)
}

/// For every record of `a`, the indices of the records of `b` it shares a blocking key with.
fn candidates(a: &[Record], b: &[Record]) -> Vec<Vec<u32>> {
    fn index<K: std::hash::Hash + Eq + Clone>(
        b: &[Record],
        key: impl Fn(&Record) -> Option<K>,
    ) -> HashMap<K, Vec<u32>> {
        let mut map: HashMap<K, Vec<u32>> = HashMap::new();
        for (i, r) in b.iter().enumerate() {
            if let Some(k) = key(r) {
                map.entry(k).or_default().push(i as u32);
            }
        }
        map
    }
    let by_year = index(b, |r| r.year);
    let by_letter_village = index(b, |r| r.letter_village.clone());
    let by_name = index(b, |r| r.name_key.clone());
    let by_id_card = index(b, |r| r.id_card.clone());
    let by_phone = index(b, |r| r.phone.clone());
    let by_household = index(b, |r| r.person.household);
    // `seen[j] == i + 1`: b[j] is already a candidate of a[i]; no set per record.
    let mut seen = vec![0u32; b.len()];
    let empty = Vec::new();
    a.iter()
        .enumerate()
        .map(|(i, r)| {
            let mark = i as u32 + 1;
            let lists = [
                r.year.and_then(|y| by_year.get(&y)),
                r.letter_village
                    .as_ref()
                    .and_then(|k| by_letter_village.get(k)),
                r.name_key.as_ref().and_then(|k| by_name.get(k)),
                r.id_card.as_ref().and_then(|k| by_id_card.get(k)),
                r.phone.as_ref().and_then(|k| by_phone.get(k)),
                r.person.household.and_then(|k| by_household.get(&k)),
            ];
            let mut out = Vec::new();
            for &j in lists.iter().flat_map(|l| l.unwrap_or(&empty)) {
                if seen[j as usize] != mark {
                    seen[j as usize] = mark;
                    out.push(j);
                }
            }
            out
        })
        .collect()
}

/// A scored pair: indices into `a` and `b`, the total, the decision and, with `--explain`,
/// the field levels and the deciding rule.
type Scored = (u32, u32, f64, Decision, Option<String>);

fn explanation(s: &empi::Score) -> String {
    let mut out = String::new();
    for c in &s.comparisons {
        let level = match c.level {
            Level::Exact => 'E',
            Level::Close => 'C',
            Level::Disagree => 'D',
            Level::Missing => 'M',
        };
        let field = format!("{:?}", c.field).to_lowercase();
        out.push_str(&format!("{field}={level}{:+.1} ", c.weight));
    }
    out.push_str(&format!("{:?}", s.reason));
    out
}

fn score_all(
    a: &[Record],
    b: &[Record],
    cands: &[Vec<u32>],
    w: &Weights,
    t: &Thresholds,
    args: &Args,
) -> Vec<Scored> {
    let (keep_all, explain) = (args.all, args.explain);
    let chunk = a.len().div_ceil(args.threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = cands
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for (k, js) in part.iter().enumerate() {
                        let i = c * chunk + k;
                        for &j in js {
                            let sc = empi::score(&a[i].person, &b[j as usize].person, w, t);
                            if keep_all || sc.decision != Decision::Distinct {
                                let why = explain.then(|| explanation(&sc));
                                out.push((i as u32, j, sc.total, sc.decision, why));
                            }
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a scoring thread panicked"))
            .collect()
    })
}

/// The patterns of `pairs` (indices into `a` and `b`), counted on `threads` threads.
fn count_patterns(
    a: &[Record],
    b: &[Record],
    pairs: &[(u32, u32)],
    threads: usize,
) -> PatternCounts {
    let chunk = pairs.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(i, j)| Pattern::of(&a[i as usize].person, &b[j as usize].person))
                        .collect::<PatternCounts>()
                })
            })
            .collect();
        let mut total = PatternCounts::new();
        for h in handles {
            total.merge(&h.join().expect("a counting thread panicked"));
        }
        total
    })
}

/// The pairs of `a × b` that share `key`, and the share of all pairs they are.
fn block<K: std::hash::Hash + Eq>(
    a: &[Record],
    b: &[Record],
    key: impl Fn(&Record) -> Option<K>,
) -> (Vec<(u32, u32)>, f64) {
    let mut by_key: HashMap<K, Vec<u32>> = HashMap::new();
    for (j, r) in b.iter().enumerate() {
        if let Some(k) = key(r) {
            by_key.entry(k).or_default().push(j as u32);
        }
    }
    let mut pairs = Vec::new();
    for (i, r) in a.iter().enumerate() {
        if let Some(js) = key(r).and_then(|k| by_key.get(&k)) {
            pairs.extend(js.iter().map(|&j| (i as u32, j)));
        }
    }
    let share = pairs.len() as f64 / (a.len() as f64 * b.len() as f64).max(1.0);
    (pairs, share)
}

/// Train the weights with the product's code (`yiwei_domain::empi::em::train`, what `yiwei
/// empi train` runs on a county): `u` from `--sample` random pairs, `m` by EM on the pairs
/// of two blocking rules, the same birth date and the same village (FEBRL's postcode), as
/// Splink's FEBRL4 example trains on date of birth and on postcode.
fn estimate(a: &[Record], b: &[Record], args: &Args) -> Result<em::Trained, String> {
    // u: levels among random pairs. A fixed xorshift64 seed, so runs repeat.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let random: Vec<(u32, u32)> = (0..args.sample)
        .map(|_| {
            let i = (next() % a.len().max(1) as u64) as u32;
            let j = (next() % b.len().max(1) as u64) as u32;
            (i, j)
        })
        .collect();
    let random = count_patterns(a, b, &random, args.threads);
    let (by_birth, birth_share) = block(a, b, |r| r.person.birth_date);
    let (by_village, village_share) = block(a, b, |r| r.person.village.clone());
    let sessions = vec![
        em::Session {
            rule: "same birth date".into(),
            blocked: vec![em::Blocked::exact(FieldName::BirthDate)],
            pairs: count_patterns(a, b, &by_birth, args.threads),
            share: birth_share,
        },
        em::Session {
            rule: "same village".into(),
            blocked: vec![em::Blocked::exact(FieldName::Village)],
            pairs: count_patterns(a, b, &by_village, args.threads),
            share: village_share,
        },
    ];
    em::train(&random, &sessions, &em::EmOptions::default()).map_err(|e| e.to_string())
}

fn read_truth(path: &str) -> Result<HashSet<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cells = l.split('\t').map(str::trim);
            Some((cells.next()?.to_owned(), cells.next()?.to_owned()))
        })
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .collect())
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Link => "link",
        Decision::Review => "review",
        Decision::Distinct => "distinct",
    }
}

fn run() -> Result<(), String> {
    let args = parse_args();
    let started = Instant::now();
    let (a, b) = (read_records(&args.a)?, read_records(&args.b)?);
    let read = started.elapsed();

    let t0 = Instant::now();
    let cands = candidates(&a, &b);
    let n_pairs: usize = cands.iter().map(Vec::len).sum();
    let blocked = t0.elapsed();

    let mut weights = Weights::default();
    let mut thresholds = args.thresholds;
    if args.em {
        let t = Instant::now();
        let trained = estimate(&a, &b, &args)?;
        weights = trained.weights;
        // The rule of `Thresholds::from_prior`: review where the evidence overcomes the
        // prior odds (match probability 0.5), link 10 bits (1000 to 1) above.
        if !args.review_given {
            thresholds.review = trained.thresholds.review;
        }
        if !args.link_given {
            thresholds.link = trained.thresholds.link;
        }
        eprintln!(
            "em: prior {:.3e} per pair; review {:.1}, link {:.1} bits; {:.3} s",
            trained.prior,
            thresholds.review,
            thresholds.link,
            t.elapsed().as_secs_f64()
        );
        for s in &trained.sessions {
            eprintln!(
                "em: session {}: {} pairs, {:.1}% matches, prior {:.3e}, {} iterations{}",
                s.rule,
                s.pairs,
                100.0 * s.lambda,
                s.prior,
                s.iterations,
                if s.used { "" } else { " (not used: too few)" }
            );
        }
        for line in em::weights_table(&trained).lines() {
            eprintln!("em: {line}");
        }
    }

    let t1 = Instant::now();
    let scored = score_all(&a, &b, &cands, &weights, &thresholds, &args);
    let scoring = t1.elapsed();

    let mut out = String::with_capacity(scored.len() * 48);
    out.push_str("id_a\tid_b\tscore\tdecision");
    out.push_str(if args.explain {
        "\texplanation\n"
    } else {
        "\n"
    });
    for (i, j, total, d, why) in &scored {
        use std::fmt::Write;
        let _ = write!(
            out,
            "{}\t{}\t{total:.3}\t{}",
            a[*i as usize].id,
            b[*j as usize].id,
            decision_name(*d)
        );
        if let Some(why) = why {
            out.push('\t');
            out.push_str(why);
        }
        out.push('\n');
    }
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("stdout: {e}"))?;
    }

    let count = |d: Decision| scored.iter().filter(|s| s.3 == d).count();
    eprintln!(
        "records: {} x {}; candidate pairs: {n_pairs} ({:.4}% of {}); link {}, review {}",
        a.len(),
        b.len(),
        100.0 * n_pairs as f64 / (a.len() * b.len()).max(1) as f64,
        a.len() * b.len(),
        count(Decision::Link),
        count(Decision::Review),
    );
    eprintln!(
        "time: read {:.3} s, blocking {:.3} s, scoring {:.3} s ({} threads), total {:.3} s",
        read.as_secs_f64(),
        blocked.as_secs_f64(),
        scoring.as_secs_f64(),
        args.threads,
        started.elapsed().as_secs_f64()
    );

    if let Some(path) = &args.truth {
        let truth = read_truth(path)?;
        let index_a: HashMap<&str, usize> = a
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str(), i))
            .collect();
        let index_b: HashMap<&str, u32> = b
            .iter()
            .enumerate()
            .map(|(j, r)| (r.id.as_str(), j as u32))
            .collect();
        let kept = truth
            .iter()
            .filter(
                |(x, y)| match (index_a.get(x.as_str()), index_b.get(y.as_str())) {
                    (Some(&i), Some(j)) => cands[i].contains(j),
                    _ => false,
                },
            )
            .count();
        let linked: Vec<&Scored> = scored
            .iter()
            .filter(|s| s.3 == Decision::Link || (args.review_as_link && s.3 == Decision::Review))
            .collect();
        let tp = linked
            .iter()
            .filter(|s| truth.contains(&(a[s.0 as usize].id.clone(), b[s.1 as usize].id.clone())))
            .count();
        let precision = tp as f64 / linked.len().max(1) as f64;
        let recall = tp as f64 / truth.len().max(1) as f64;
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        eprintln!(
            "true links: {}; kept by blocking: {kept} (pair completeness {:.4})",
            truth.len(),
            kept as f64 / truth.len().max(1) as f64
        );
        eprintln!(
            "linked{}: {}; true positives {tp}; precision {precision:.4}, recall {recall:.4}, \
             F1 {f1:.4}",
            if args.review_as_link {
                " (review counted as linked)"
            } else {
                ""
            },
            linked.len()
        );
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("match_eval: {e}");
        std::process::exit(1);
    }
}
