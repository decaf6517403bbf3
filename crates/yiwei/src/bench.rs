//! `yiwei bench residents --residents N`: the resident benchmarks of issue 3, on a fresh
//! data folder, printed as a markdown section for `docs/benchmarks.md`.
//!
//! What is measured, each phase after the one before, in this one process:
//! 1. **Load**: generating and bulk-loading the demo county of N residents
//!    ([`demo::build_with`], the path of `yiwei demo --residents N`), wall time.
//! 2. **Search**: ID-card and name searches (hanzi, full pinyin, initials) of residents of
//!    思恩镇, through `access::search_residents` as `doctor.sien`, the township health
//!    centre's clinician, one page of 50 as the web list asks; each search is also audited,
//!    as in production.
//! 3. **Match**: `empi::candidates` for a perturbed copy of an existing resident (no ID
//!    card, a homophone in the name, a typo in the birth date, the phone half the time),
//!    the work the master index does before every create or import.
//! 4. **Import**: a generated CSV through `import::residents` (each row checked, then
//!    matched and written in batches of `import::BATCH_ROWS`, one transaction each) as
//!    `doctor.county`: mostly new people, about 5%
//!    duplicates of residents already stored (three in five with their ID card, the rest
//!    without it and with a homophone name) and about 1% bad rows.
//!    The rate is printed at every 100,000 rows as the import goes (wall, and per second
//!    of this process's CPU time, with the load average), so a run stopped early still
//!    says how fast it went.
//! 5. **Server memory**: `yiwei serve` started as a child process on the same database,
//!    given a few hundred authenticated requests — web logins through the form (each an
//!    argon2 verification), resident-list searches with the session cookie, FHIR Patient
//!    searches by name and ID card and reads with a bearer token — and its peak resident
//!    set (`VmHWM` in `/proc/<pid>/status`) read before it is stopped.
//!
//! Timings are wall-clock per call (`Instant`), so they include the audit write of each
//! search; percentiles are nearest-rank. Generation is seeded: the same N gives the same
//! county, queries and file on every run.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::id_card::check_char;
use yiwei_store::access::{self, Viewer};
use yiwei_store::resident::{Details, NewResident};
use yiwei_store::{Store, empi, session, user};

use crate::demo::{self, Generator, Rng};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub residents: u64,
    pub searches: usize,
    pub matches: usize,
    pub import_rows: u64,
    /// Requests sent to the `yiwei serve` child; 0 skips the server.
    pub requests: usize,
    pub batch_size: usize,
    /// How the benchmark was started, for the report.
    pub command: String,
}

/// How to start `yiwei serve` on the same database.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    pub config: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub database_url: String,
}

/// Characters that read the same toneless pinyin, both common in names, each way round:
/// a clerk who hears the name types the other one. Surnames are read as surnames (覃 qin).
pub const HOMOPHONES: &[(char, char)] = &[
    ('明', '铭'),
    ('华', '桦'),
    ('丽', '莉'),
    ('玲', '凌'),
    ('红', '宏'),
    ('军', '君'),
    ('伟', '玮'),
    ('涛', '滔'),
    ('斌', '彬'),
    ('静', '婧'),
    ('燕', '艳'),
    ('林', '琳'),
    ('杰', '洁'),
    ('建', '健'),
    ('平', '萍'),
    ('英', '莹'),
    ('芳', '方'),
    ('梅', '玫'),
    ('兰', '岚'),
    ('珍', '真'),
    ('秀', '绣'),
    ('凤', '峰'),
    ('春', '椿'),
    ('玉', '钰'),
    ('金', '今'),
    ('荣', '蓉'),
    ('才', '财'),
    ('贵', '桂'),
    ('生', '胜'),
    ('忠', '中'),
    ('富', '福'),
    ('文', '雯'),
    ('俊', '峻'),
    ('东', '冬'),
    ('志', '智'),
    ('勇', '永'),
    ('浩', '昊'),
    ('轩', '萱'),
    ('睿', '瑞'),
    ('鑫', '欣'),
    ('晨', '辰'),
    ('航', '杭'),
    ('怡', '宜'),
    ('涵', '晗'),
    ('雨', '语'),
    ('梓', '紫'),
    ('婷', '亭'),
    ('佳', '嘉'),
    ('彤', '桐'),
    ('瑶', '遥'),
    ('韦', '魏'),
    ('覃', '秦'),
    ('谭', '檀'),
    ('蒙', '孟'),
    ('卢', '陆'),
    ('吴', '伍'),
    ('莫', '墨'),
    ('罗', '骆'),
    ('袁', '元'),
    ('潘', '盘'),
    ('梁', '良'),
    ('李', '黎'),
    ('何', '贺'),
    ('银', '尹'),
];

fn homophone(c: char) -> Option<char> {
    HOMOPHONES.iter().find_map(|&(a, b)| {
        if a == c {
            Some(b)
        } else if b == c {
            Some(a)
        } else {
            None
        }
    })
}

/// `name` with one character (chosen by `rng`) replaced by a homophone, if any has one.
pub fn homophone_name(rng: &mut Rng, name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    let candidates: Vec<usize> = (0..chars.len())
        .filter(|&i| homophone(chars[i]).is_some())
        .collect();
    let &at = candidates.get(rng.below(candidates.len() as u64) as usize)?;
    let mut out = chars;
    out[at] = homophone(out[at])?;
    Some(out.into_iter().collect())
}

/// A typo in a birth date: a day off, month and day swapped, or the year off by one.
pub fn typo(rng: &mut Rng, birth: NaiveDate) -> NaiveDate {
    let swapped =
        NaiveDate::from_ymd_opt(birth.year(), birth.day(), birth.month()).filter(|d| *d != birth);
    match (rng.below(4), swapped) {
        (0, _) => birth + chrono::Duration::days(1),
        (1, _) => birth - chrono::Duration::days(1),
        (2, Some(d)) => d,
        _ => birth
            .with_year(birth.year() + if rng.chance(50) { 1 } else { -1 })
            .unwrap_or(birth + chrono::Duration::days(1)),
    }
}

/// A generated resident remembered for queries.
#[derive(Clone, Debug)]
struct Sample {
    id: i64,
    name: String,
    sex: String,
    birth: NaiveDate,
    id_card: String,
    phone: Option<String>,
    division: DivisionCode,
}

impl Sample {
    fn of(id: i64, r: &NewResident) -> Option<Sample> {
        Some(Sample {
            id,
            name: r.name.clone(),
            sex: r.sex.clone(),
            birth: r.birth_date?,
            id_card: r.id_card.clone()?,
            phone: r.phone.clone(),
            division: r.division.clone(),
        })
    }
}

/// A uniform sample of at most `cap` items from a stream (Vitter's algorithm R).
struct Reservoir {
    rng: Rng,
    seen: u64,
    cap: usize,
    items: Vec<Sample>,
}

impl Reservoir {
    fn new(cap: usize, seed: u64) -> Reservoir {
        Reservoir {
            rng: Rng::new(seed),
            seen: 0,
            cap,
            items: Vec::with_capacity(cap),
        }
    }

    fn offer(&mut self, id: i64, r: &NewResident) {
        self.seen += 1;
        if self.items.len() < self.cap {
            self.items.extend(Sample::of(id, r));
        } else {
            let j = self.rng.below(self.seen) as usize;
            if j < self.cap
                && let Some(s) = Sample::of(id, r)
            {
                self.items[j] = s;
            }
        }
    }
}

/// Latency percentiles, nearest-rank.
#[derive(Clone, Debug, Default)]
struct Latency {
    sorted: Vec<Duration>,
}

impl Latency {
    fn new(mut times: Vec<Duration>) -> Latency {
        times.sort_unstable();
        Latency { sorted: times }
    }

    fn pct(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    fn summary(&self) -> String {
        format!(
            "p50 {} · p95 {} · p99 {}",
            ms(self.pct(50.0)),
            ms(self.pct(95.0)),
            ms(self.pct(99.0))
        )
    }
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{}m {:02.0}s", (s / 60.0).floor(), s % 60.0)
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template = format!("{{bar:40}} {{human_pos}}/{{human_len}} {what}, {{eta}} left");
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A `/proc/<pid>/status` field in kB (`VmHWM`, `VmRSS`).
fn proc_status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The machine, for the report: cores, CPU model, memory.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|x| x.1.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = proc_status_kb_file("/proc/meminfo", "MemTotal")
        .map(|kb| kb as f64 / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB RAM")
}

fn proc_status_kb_file(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// This process's CPU time so far, user and system, all threads (`/proc/self/stat`
/// fields 14 and 15, in clock ticks of 1/100 s, the Linux `USER_HZ`).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The one-minute load average (`/proc/loadavg`).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The import's rate as it goes: wall time and this process's CPU time at every 100,000
/// rows, printed at once (so a run stopped early still says how fast it went) and kept
/// for the report.
struct ImportMeter {
    started: Instant,
    cpu_at_start: Duration,
    /// (rows, wall, CPU) at the last report.
    last: (u64, Duration, Duration),
    /// One line per 100,000 rows.
    lines: Vec<String>,
    loads: Vec<f64>,
}

/// Rows between two reports of [`ImportMeter`].
const METER_ROWS: u64 = 100_000;

impl ImportMeter {
    fn start() -> ImportMeter {
        let cpu = cpu_time().unwrap_or_default();
        ImportMeter {
            started: Instant::now(),
            cpu_at_start: cpu,
            last: (0, Duration::ZERO, Duration::ZERO),
            lines: Vec::new(),
            loads: load_average().into_iter().collect(),
        }
    }

    /// Wall and CPU time since the start.
    fn now(&self) -> (Duration, Duration) {
        let cpu = cpu_time()
            .unwrap_or_default()
            .saturating_sub(self.cpu_at_start);
        (self.started.elapsed(), cpu)
    }

    /// After a batch: report when another 100,000 rows are done.
    fn rows(&mut self, rows: u64) -> Option<String> {
        if rows / METER_ROWS == self.last.0 / METER_ROWS {
            return None;
        }
        let (wall, cpu) = self.now();
        let (rows0, wall0, cpu0) = self.last;
        let load = load_average();
        self.loads.extend(load);
        let line = format!(
            "rows {}: {:.0} rows/s over the last {}, {:.0} rows/s since the start; \
             {:.0} rows per CPU-second, CPU {:.0}% of one core; load {}",
            thousands(rows),
            (rows - rows0) as f64 / (wall - wall0).as_secs_f64(),
            thousands(rows - rows0),
            rows as f64 / wall.as_secs_f64(),
            (rows - rows0) as f64 / (cpu - cpu0).as_secs_f64().max(0.001),
            100.0 * (cpu - cpu0).as_secs_f64() / (wall - wall0).as_secs_f64(),
            load.map_or_else(|| "?".to_owned(), |l| format!("{l:.1}")),
        );
        self.last = (rows, wall, cpu);
        self.lines.push(line.clone());
        Some(line)
    }

    /// Rows per CPU-second, the CPU share (of one core) and the mean and highest load
    /// average seen, over the whole import.
    fn overall(&mut self, rows: u64) -> (f64, f64, f64, f64) {
        let (wall, cpu) = self.now();
        self.loads.extend(load_average());
        let mean = self.loads.iter().sum::<f64>() / self.loads.len().max(1) as f64;
        let max = self.loads.iter().copied().fold(0.0, f64::max);
        (
            rows as f64 / cpu.as_secs_f64().max(0.001),
            cpu.as_secs_f64() / wall.as_secs_f64(),
            mean,
            max,
        )
    }
}

/// One row of the result table.
struct Line {
    what: String,
    target: String,
    result: String,
    met: Option<bool>,
}

/// Run the benchmarks on `store` (fresh and empty) and return the markdown report.
pub async fn residents(store: &Store, opts: &Options, serve: &ServeArgs) -> Result<String> {
    if !yiwei_store::backup::is_empty(store).await? {
        bail!("yiwei bench runs on a fresh data folder or an empty database; this one holds data");
    }
    let n = opts.residents;
    let at_scale = n >= 1_000_000;
    let mut lines: Vec<Line> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // 1. Generate and load.
    eprintln!("1/5 generating and loading {} residents", thousands(n));
    let demo_opts = demo::DemoOptions {
        residents: Some(n),
        batch_size: opts.batch_size,
        services: false,
        ..demo::DemoOptions::default()
    };
    let mut township = Reservoir::new(20_000, 1);
    let mut county_sample = Reservoir::new(20_000, 2);
    let progress = crate::cli::demo_progress(Some(n));
    let started = Instant::now();
    let county = demo::build_with(store, &demo_opts, |stored| {
        progress.inc(stored.len() as u64);
        for (id, r) in stored {
            if r.division.as_str().starts_with("451226100") {
                township.offer(*id, r);
            }
            county_sample.offer(*id, r);
        }
    })
    .await?;
    let load = started.elapsed();
    progress.finish_and_clear();
    let rate = n as f64 / load.as_secs_f64();
    lines.push(Line {
        what: format!(
            "Generate and load {} residents (demo county, bulk)",
            thousands(n)
        ),
        target: "< 3 min at 1M".into(),
        result: format!("{} ({:.0} residents/s)", minutes(load), rate),
        met: at_scale.then_some(load < Duration::from_secs(180)),
    });
    let db_file = serve.data_dir.join(yiwei_store::SQLITE_FILE);
    let db_bytes = file_size(&db_file) + file_size(&serve.data_dir.join("yiwei.db-wal"));
    eprintln!("   loaded in {} ({rate:.0}/s)", minutes(load));

    // 2. Searches as the township clinician.
    let doctor = user::by_username(store, "doctor.sien").await?;
    let viewer = Viewer {
        user: &doctor,
        remote_addr: None,
    };
    let root = doctor.reach.clone();
    let samples = &township.items;
    if samples.is_empty() {
        bail!("no resident of 思恩镇 was generated");
    }
    eprintln!(
        "2/5 {} searches by ID card and {} by name",
        opts.searches, opts.searches
    );
    let progress = bar(2 * opts.searches as u64, "searches");
    let mut times = Vec::with_capacity(opts.searches);
    let mut hits = 0usize;
    for i in 0..opts.searches {
        let s = &samples[i % samples.len()];
        let t = Instant::now();
        let (found, _) = access::search_residents(store, &viewer, &root, &s.id_card, 50, 0).await?;
        times.push(t.elapsed());
        hits += usize::from(found.iter().any(|r| r.id == s.id));
        progress.inc(1);
    }
    let by_id = Latency::new(times);
    lines.push(Line {
        what: format!(
            "Search by ID card, {} queries (as a township clinician)",
            thousands(opts.searches as u64)
        ),
        target: "p99 < 5 ms".into(),
        result: format!("{} ({} of {} found)", by_id.summary(), hits, opts.searches),
        met: at_scale.then_some(by_id.pct(99.0) < Duration::from_millis(5)),
    });
    let mut all = Vec::with_capacity(opts.searches);
    let mut per_kind: [Vec<Duration>; 3] = Default::default();
    let mut totals: [Vec<i64>; 3] = Default::default();
    let mut hits = 0usize;
    for i in 0..opts.searches {
        let s = &samples[(i * 7 + 3) % samples.len()];
        let kind = i % 3;
        let query = match kind {
            0 => s.name.clone(),
            1 => yiwei_domain::name::pinyin_keys(&s.name)
                .into_iter()
                .next()
                .unwrap_or_else(|| s.name.clone()),
            _ => yiwei_domain::name::initials_keys(&s.name)
                .into_iter()
                .next()
                .unwrap_or_else(|| s.name.clone()),
        };
        let t = Instant::now();
        let (found, total) = access::search_residents(store, &viewer, &root, &query, 50, 0).await?;
        let took = t.elapsed();
        all.push(took);
        per_kind[kind].push(took);
        totals[kind].push(total);
        hits += usize::from(found.iter().any(|r| r.id == s.id) || total > 50);
        progress.inc(1);
    }
    progress.finish_and_clear();
    let by_name = Latency::new(all);
    lines.push(Line {
        what: format!(
            "Search by name, {} queries: ⅓ hanzi, ⅓ full pinyin, ⅓ initials",
            thousands(opts.searches as u64)
        ),
        target: "p99 < 50 ms".into(),
        result: by_name.summary(),
        met: at_scale.then_some(by_name.pct(99.0) < Duration::from_millis(50)),
    });
    for (kind, label) in [
        "hanzi (韦建国)",
        "full pinyin (weijianguo)",
        "initials (wjg)",
    ]
    .iter()
    .enumerate()
    {
        let mut t = std::mem::take(&mut totals[kind]);
        t.sort_unstable();
        let median = t.get(t.len() / 2).copied().unwrap_or(0);
        lines.push(Line {
            what: format!("· by {label}"),
            target: String::new(),
            result: format!(
                "{} (median {} matches in the township)",
                Latency::new(std::mem::take(&mut per_kind[kind])).summary(),
                thousands(median as u64)
            ),
            met: None,
        });
    }
    let _ = hits;

    // 3. Single-record matches.
    eprintln!("3/5 {} single-record matches", opts.matches);
    let pool = &county_sample.items;
    let mut rng = Rng::new(3);
    let progress = bar(opts.matches as u64, "matches");
    let mut times = Vec::with_capacity(opts.matches);
    let (mut first, mut anywhere, mut homophones) = (0usize, 0usize, 0usize);
    for i in 0..opts.matches {
        let s = &pool[(i * 13 + 5) % pool.len()];
        let name = match homophone_name(&mut rng, &s.name) {
            Some(other) => {
                homophones += 1;
                other
            }
            None => s.name.clone(),
        };
        let new = NewResident {
            division: s.division.clone(),
            name,
            sex: s.sex.clone(),
            birth_date: Some(typo(&mut rng, s.birth)),
            id_card: None,
            phone: s.phone.clone().filter(|_| rng.chance(50)),
            contact_phone: None,
            details: Details::default(),
        };
        let t = Instant::now();
        let scored = empi::candidates(store, &new).await?;
        times.push(t.elapsed());
        first += usize::from(scored.first().is_some_and(|(id, _)| *id == s.id));
        anywhere += usize::from(scored.iter().any(|(id, _)| *id == s.id));
        progress.inc(1);
    }
    progress.finish_and_clear();
    let matching = Latency::new(times);
    lines.push(Line {
        what: format!(
            "Single-record match (`empi::candidates`), {} perturbed copies",
            thousands(opts.matches as u64)
        ),
        target: "p95 < 20 ms".into(),
        result: format!(
            "p50 {} · p95 {} · p99 {} (original ranked first in {:.1}%, among the candidates in {:.1}%)",
            ms(matching.pct(50.0)),
            ms(matching.pct(95.0)),
            ms(matching.pct(99.0)),
            100.0 * first as f64 / opts.matches.max(1) as f64,
            100.0 * anywhere as f64 / opts.matches.max(1) as f64
        ),
        met: at_scale.then_some(matching.pct(95.0) < Duration::from_millis(20)),
    });
    notes.push(format!(
        "Match queries: a stored resident without ID card, with a typo in the birth date, a \
         homophone in the name ({homophones} of {}) and the phone half the time.",
        opts.matches
    ));

    // 4. CSV import.
    if opts.import_rows > 0 {
        eprintln!("4/5 importing {} CSV rows", thousands(opts.import_rows));
        let csv_path = serve.data_dir.join("bench-import.csv");
        let mix = write_csv(&csv_path, opts.import_rows, pool, &county.villages)?;
        let importer = user::by_username(store, "doctor.county").await?;
        let input = std::fs::File::open(&csv_path)
            .with_context(|| format!("cannot open {}", csv_path.display()))?;
        let size = input.metadata().map(|m| m.len()).unwrap_or(0);
        let progress = ProgressBar::new(size);
        progress.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} imported, {eta} left")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let report_path = serve.data_dir.join("bench-import.errors.csv");
        let report = std::fs::File::create(&report_path)
            .with_context(|| format!("cannot create {}", report_path.display()))?;
        let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
        let t = Instant::now();
        let mut meter = ImportMeter::start();
        let summary = crate::import::residents(
            store,
            &importer,
            std::io::BufReader::new(input),
            today,
            std::io::BufWriter::new(report),
            |bytes, so_far| {
                progress.set_position(bytes);
                if let Some(line) = meter.rows(so_far.rows) {
                    progress.suspend(|| eprintln!("   {line}"));
                }
            },
        )
        .await?;
        let took = t.elapsed();
        progress.finish_and_clear();
        let (per_cpu_s, cpu_share, mean_load, max_load) = meter.overall(summary.rows);
        let rows_per_s = summary.rows as f64 / took.as_secs_f64();
        let million = Duration::from_secs_f64(1_000_000.0 / rows_per_s);
        lines.push(Line {
            what: format!(
                "CSV import with matching, {} rows ({} new, {} duplicates, {} bad)",
                thousands(summary.rows),
                thousands(mix.new),
                thousands(mix.duplicates),
                thousands(mix.bad)
            ),
            target: "1M rows < 5 min (≥ 3,334 rows/s)".into(),
            result: format!(
                "{rows_per_s:.0} rows/s in {} → 1M rows in ~{} (created {}, linked {}, review pairs {}, refused {}); \
                 {per_cpu_s:.0} rows per CPU-second, the process at {:.0}% of one core, load average {mean_load:.1} (highest {max_load:.1})",
                minutes(took),
                minutes(million),
                thousands(summary.created),
                thousands(summary.linked),
                thousands(summary.queued_for_review),
                thousands(summary.refused),
                100.0 * cpu_share
            ),
            met: Some(rows_per_s >= 1_000_000.0 / 300.0),
        });
        if !meter.lines.is_empty() {
            notes.push(format!(
                "The import's rate per {} rows (wall, and per second of this process's CPU time, \
                 both threads; load is the one-minute load average): {}.",
                thousands(METER_ROWS),
                meter.lines.join("; ")
            ));
        }
        notes.push(if summary.rows >= 1_000_000 {
            format!(
                "The import is timed on {} rows into the county just loaded, in batches of \
                 {} rows (each matched with set-based lookups and written in one \
                 transaction with its review pairs and one audit event per row); the time \
                 for 1M rows is measured, not extrapolated.",
                thousands(summary.rows),
                thousands(crate::import::BATCH_ROWS as u64)
            )
        } else {
            format!(
                "The import is timed on {} rows into the county just loaded, in batches of \
                 {} rows; the time for 1M rows is that rate extrapolated, not measured. The \
                 rate falls as the database grows (lookups and writes touch more pages that \
                 are not cached), so a real 1M-row import takes longer.",
                thousands(summary.rows),
                thousands(crate::import::BATCH_ROWS as u64)
            )
        });
    }

    // 5. The server's memory.
    if opts.requests > 0 {
        eprintln!("5/5 yiwei serve: {} authenticated requests", opts.requests);
        match server_memory(store, serve, samples, opts.requests).await {
            Ok((hwm_kb, rss_kb, http)) => {
                lines.push(Line {
                    what: format!(
                        "Server memory: `yiwei serve` on this database, peak RSS (VmHWM) after {} authenticated requests (web logins, resident-list pages, FHIR Patient searches and reads)",
                        opts.requests
                    ),
                    target: "< 500 MB".into(),
                    result: format!(
                        "{:.0} MB peak, {:.0} MB at the end (requests: {})",
                        hwm_kb as f64 / 1024.0,
                        rss_kb as f64 / 1024.0,
                        http.summary()
                    ),
                    met: at_scale.then_some(hwm_kb < 500 * 1024),
                });
            }
            Err(e) => notes.push(format!("The server measurement failed: {e:#}")),
        }
    }
    if let Some(hwm) = proc_status_kb("self", "VmHWM") {
        notes.push(format!(
            "Peak RSS of the benchmark process itself (generation, bulk load, samples, \
             searches, import): {:.0} MB.",
            hwm as f64 / 1024.0
        ));
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Residents at {} on {} (`yiwei bench residents`)\n",
        thousands(n),
        store.backend().as_str()
    );
    let _ = writeln!(out, "- Command: `{}`", opts.command);
    let _ = writeln!(
        out,
        "- Data: {} residents in {} households, {} villages and communities; database {:.0} MB",
        thousands(county.residents as u64),
        thousands(county.households as u64),
        county.villages.len(),
        db_bytes as f64 / 1_048_576.0
    );
    let _ = writeln!(out, "- Machine: {}", machine());
    let _ = writeln!(
        out,
        "- Date: {}; {} build",
        chrono::Utc::now().format("%Y-%m-%d"),
        if cfg!(debug_assertions) {
            "debug (figures not comparable)"
        } else {
            "release"
        }
    );
    let _ = writeln!(
        out,
        "\n| Benchmark | Target | Result | Met |\n|---|---|---|---|"
    );
    for l in &lines {
        let met = match l.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None if l.target.is_empty() => "",
            None => "n/a (target at 1M)",
        };
        let _ = writeln!(out, "| {} | {} | {} | {met} |", l.what, l.target, l.result);
    }
    out.push('\n');
    for note in &notes {
        let _ = writeln!(out, "- {note}");
    }
    Ok(out)
}

/// What the generated CSV holds.
struct Mix {
    new: u64,
    duplicates: u64,
    bad: u64,
}

/// Move a generated ID-card number to 罗城 (451225), the next county: the people in the
/// file were born outside the demo county, so their numbers cannot collide with it.
fn elsewhere(card: &str) -> String {
    let body = format!("451225{}", &card[6..17]);
    format!("{body}{}", check_char(&body))
}

fn write_csv(path: &Path, rows: u64, pool: &[Sample], villages: &[DivisionCode]) -> Result<Mix> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record([
        "name",
        "sex",
        "birth_date",
        "id_card",
        "no_id_reason",
        "phone",
        "village",
        "address",
        "ethnicity",
        "contact_phone",
    ])?;
    let mut rng = Rng::new(4);
    let mut generator = Generator::new(0x05ee_dc5f);
    let mut queue: VecDeque<NewResident> = VecDeque::new();
    let mut mix = Mix {
        new: 0,
        duplicates: 0,
        bad: 0,
    };
    let sex_code = |s: &str| if s == "male" { "1" } else { "2" };
    for _ in 0..rows {
        let roll = rng.below(1000);
        if roll < 50 && !pool.is_empty() {
            mix.duplicates += 1;
            let s = &pool[rng.below(pool.len() as u64) as usize];
            let birth = s.birth.to_string();
            if rng.chance(60) {
                w.write_record([
                    s.name.as_str(),
                    sex_code(&s.sex),
                    &birth,
                    &s.id_card,
                    "",
                    s.phone.as_deref().unwrap_or(""),
                    s.division.as_str(),
                    "",
                    "",
                    "",
                ])?;
            } else {
                let name = homophone_name(&mut rng, &s.name).unwrap_or_else(|| s.name.clone());
                w.write_record([
                    name.as_str(),
                    sex_code(&s.sex),
                    &birth,
                    "",
                    "未带证件",
                    s.phone.as_deref().unwrap_or(""),
                    s.division.as_str(),
                    "",
                    "",
                    "",
                ])?;
            }
            continue;
        }
        let village = &villages[rng.below(villages.len() as u64) as usize];
        if queue.is_empty() {
            queue.extend(generator.household(village, "", 8).members);
        }
        let Some(p) = queue.pop_front() else {
            continue;
        };
        let card = elsewhere(p.id_card.as_deref().unwrap_or("451226199001011234"));
        let birth = p.birth_date.map(|d| d.to_string()).unwrap_or_default();
        let mut record: Vec<String> = vec![
            p.name.clone(),
            sex_code(&p.sex).into(),
            birth,
            card,
            String::new(),
            p.phone.clone().unwrap_or_default(),
            village.as_str().into(),
            format!("{}组", 1 + rng.below(12)),
            p.details.ethnicity.clone().unwrap_or_default(),
            p.contact_phone.clone().unwrap_or_default(),
        ];
        if roll < 60 {
            // About 1% bad rows, each kind of mistake in turn.
            mix.bad += 1;
            match rng.below(5) {
                0 => {
                    // A wrong check character.
                    let last = record[3].pop().unwrap_or('0');
                    record[3].push(if last == '1' { '2' } else { '1' });
                }
                1 => record[2] = "2999-01-01".into(),
                2 => record[8] = "99".into(),
                3 => record[0].clear(),
                _ => {
                    w.write_record(&record[..4])?;
                    continue;
                }
            }
        } else {
            mix.new += 1;
        }
        w.write_record(&record)?;
    }
    w.flush()?;
    Ok(mix)
}

/// One request of the server probe.
#[derive(Clone, Debug)]
enum Probe {
    /// A web login as `doctor.sien` (GET the form, POST it): an argon2 verification.
    Login,
    /// A page of the web UI with the session cookie of the last login.
    Page(String),
    /// A FHIR request with a bearer token.
    Fhir(String),
}

/// Start `yiwei serve` on the benchmark's database, send `requests` authenticated requests
/// (one in fifteen a web login, a third resident-list pages with the session cookie, the
/// rest FHIR searches and reads with a bearer token), and return the child's VmHWM and
/// VmRSS (kB) with the latencies of the page and FHIR requests.
async fn server_memory(
    store: &Store,
    serve: &ServeArgs,
    samples: &[Sample],
    requests: usize,
) -> Result<(u64, u64, Latency)> {
    let doctor = user::by_username(store, "doctor.sien").await?;
    let token = session::create_api_token(
        store,
        doctor.id,
        "bench",
        Some(yiwei_store::now() + chrono::Duration::hours(1)),
    )
    .await?;
    let probes: Vec<Probe> = (0..requests)
        .map(|i| {
            let s = &samples[(i * 11 + 1) % samples.len()];
            match i % 15 {
                0 => Probe::Login,
                1..=5 => Probe::Page(format!("/residents?q={}", urlencode(&s.name))),
                6..=8 => Probe::Fhir(format!("/fhir/Patient?name={}", urlencode(&s.name))),
                9..=11 => Probe::Fhir(format!(
                    "/fhir/Patient?identifier=urn:yiwei:id-card%7C{}",
                    s.id_card
                )),
                _ => Probe::Fhir(format!("/fhir/Patient/{}", s.id)),
            }
        })
        .collect();
    let serve = serve.clone();
    tokio::task::spawn_blocking(move || run_server(&serve, &token, &probes))
        .await
        .context("the server probe panicked")?
}

/// The blocking half of [`server_memory`]: a child process and plain HTTP/1.1.
fn run_server(serve: &ServeArgs, token: &str, probes: &[Probe]) -> Result<(u64, u64, Latency)> {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").context("no free port")?;
        probe.local_addr()?.port()
    };
    let addr = format!("127.0.0.1:{port}");
    let exe = std::env::current_exe().context("cannot find the yiwei executable")?;
    let mut cmd = std::process::Command::new(exe);
    if let Some(config) = &serve.config {
        cmd.arg("--config").arg(config);
    }
    cmd.arg("--data-dir").arg(&serve.data_dir);
    if !serve.database_url.is_empty() {
        cmd.arg("--database-url").arg(&serve.database_url);
    }
    cmd.args(["serve", "--listen", &addr])
        .env("YIWEI_LOG__LEVEL", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit());
    let mut child = cmd.spawn().context("cannot start yiwei serve")?;
    let pid = child.id().to_string();
    let result = (|| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http(&addr, "GET", "/healthz", &[], None)
                && r.status == 200
            {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                bail!("yiwei serve exited with {status}");
            }
            if Instant::now() > deadline {
                bail!("yiwei serve did not answer /healthz within a minute");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let bearer = format!("Bearer {token}");
        let mut session: Option<String> = None;
        let mut times = Vec::with_capacity(probes.len());
        for probe in probes {
            match probe {
                Probe::Login => session = Some(login(&addr)?),
                Probe::Page(path) => {
                    let cookie = session.as_deref().context("no session yet")?;
                    let t = Instant::now();
                    let r = http(&addr, "GET", path, &[("Cookie", cookie)], None)?;
                    times.push(t.elapsed());
                    if r.status != 200 {
                        bail!("GET {path} answered {}", r.status);
                    }
                }
                Probe::Fhir(path) => {
                    let t = Instant::now();
                    let r = http(&addr, "GET", path, &[("Authorization", &bearer)], None)?;
                    times.push(t.elapsed());
                    if r.status != 200 {
                        bail!("GET {path} answered {}", r.status);
                    }
                }
            }
        }
        let hwm = proc_status_kb(&pid, "VmHWM").context("cannot read the server's VmHWM")?;
        let rss = proc_status_kb(&pid, "VmRSS").unwrap_or(0);
        Ok((hwm, rss, Latency::new(times)))
    })();
    // Stop the server gracefully (SIGTERM) and wait; kill it if that fails.
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .is_ok_and(|s| s.success());
    if !stopped {
        let _ = child.kill();
    }
    let _ = child.wait();
    result
}

/// Log in as `doctor.sien` through the web form; returns the `Cookie` header value of the
/// session.
fn login(addr: &str) -> Result<String> {
    let form = http(addr, "GET", "/login", &[], None)?;
    let pre = form
        .cookie("yw_pre")
        .context("the login form set no pre-session cookie")?;
    let html = String::from_utf8_lossy(&form.body);
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF token in the login form")?;
    let body = format!(
        "csrf={}&username=doctor.sien&password={}",
        urlencode(csrf),
        urlencode(demo::DEMO_PASSWORD)
    );
    let cookie = format!("yw_pre={pre}");
    let done = http(
        addr,
        "POST",
        "/login",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&body),
    )?;
    let session = done
        .cookie("yw_session")
        .with_context(|| format!("the login answered {} without a session", done.status))?;
    Ok(format!("yw_session={session}"))
}

/// An HTTP response: status, header lines and body.
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    /// The value of a cookie the response sets.
    fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (key, value) = l.split_once(':')?;
            if !key.eq_ignore_ascii_case("set-cookie") {
                return None;
            }
            let v = value.trim().strip_prefix(name)?.strip_prefix('=')?;
            Some(v.split(';').next().unwrap_or_default().to_owned())
        })
    }
}

/// A minimal HTTP/1.1 request, one per connection.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Response> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        let _ = write!(request, "{k}: {v}\r\n");
    }
    if let Some(b) = body {
        let _ = write!(request, "Content-Length: {}\r\n", b.len());
    }
    request.push_str("\r\n");
    if let Some(b) = body {
        request.push_str(b);
    }
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP header")?;
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok(Response {
        status,
        head,
        body: response[head_end + 4..].to_vec(),
    })
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homophones_sound_alike_and_are_names_of_the_demo() {
        for &(a, b) in HOMOPHONES {
            // As a given name and as a surname.
            let (x, y) = (format!("韦{a}"), format!("韦{b}"));
            let (s, t) = (format!("{a}明"), format!("{b}明"));
            assert!(
                yiwei_domain::name::sounds_alike(&x, &y)
                    || yiwei_domain::name::sounds_alike(&s, &t),
                "{a} {b}"
            );
        }
        let mut rng = Rng::new(1);
        let other = homophone_name(&mut rng, "韦建国").expect("韦 and 建 have homophones");
        assert_ne!(other, "韦建国");
        assert!(
            yiwei_domain::name::sounds_alike(&other, "韦建国"),
            "{other}"
        );
        assert_eq!(homophone_name(&mut rng, "乙丙"), None);
    }

    #[test]
    fn typos_stay_near_the_birth_date() {
        let mut rng = Rng::new(2);
        let birth = NaiveDate::from_ymd_opt(1970, 3, 12).expect("a date");
        for _ in 0..100 {
            let t = typo(&mut rng, birth);
            assert_ne!(t, birth);
            assert!((t - birth).num_days().abs() <= 366, "{t}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let l = Latency::new((1..=100).map(Duration::from_millis).collect());
        assert_eq!(l.pct(50.0), Duration::from_millis(50));
        assert_eq!(l.pct(99.0), Duration::from_millis(99));
        assert_eq!(l.pct(100.0), Duration::from_millis(100));
        assert_eq!(Latency::default().pct(50.0), Duration::ZERO);
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn moved_id_cards_stay_valid() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
        let card = elsewhere("45122619700312001X");
        let parsed = yiwei_domain::id_card::IdCardNumber::parse(&card, today).expect("valid");
        assert_eq!(parsed.area_code(), "451225");
    }
}
