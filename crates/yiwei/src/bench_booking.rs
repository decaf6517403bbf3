//! `yiwei bench booking`: concurrent booking against a small set of slots (issue 7),
//! printed as a markdown section for `docs/benchmarks.md`.
//!
//! On a fresh database (SQLite in the data folder, or the PostgreSQL of `--database-url`)
//! it makes a minimal county (one hospital, one desk clinician, `--clients` residents) and
//! two schedules of `--slots` slots each, then runs two phases, each with `--clients`
//! concurrent clients split over `--processes` operating-system processes (this one with
//! one process, else child processes of this binary: separate connection pools, as
//! separate server processes would have):
//!
//! 1. **Contention**: slots of `--seats` seats; every client tries every slot once, in its
//!    own order. Exactly `slots × seats` bookings may succeed.
//! 2. **Throughput**: slots with a seat for every client; every client books every slot, in
//!    its own order: `clients × slots` bookings, all of which must succeed.
//!
//! Every booking goes through `access::book` as the hospital's desk clinician, as a web
//! request would: checked, one write transaction with the conditional seat update, the
//! outbox confirmation and the audit row. Afterwards the parent checks the invariants in
//! the database (each slot's counter equals its bookings and never passes its capacity; no
//! resident holds a slot twice) and fails if one is broken. Latency is wall-clock per call;
//! percentiles are nearest-rank over all processes. Only the database is touched: no port
//! is opened.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use yiwei_domain::access::Role;
use yiwei_domain::booking::{BookingRefusal, ScheduleRules, ServiceKind, Session};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::org::InstitutionKind;
use yiwei_store::access::{self, Viewer};
use yiwei_store::audit::Who;
use yiwei_store::booking::{self, BookingError, NewSchedule, SlotFilter, When};
use yiwei_store::division::{self, Division};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::{Store, org, user};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub clients: usize,
    pub slots: usize,
    pub seats: u32,
    pub processes: usize,
    pub command: String,
}

/// How to start a worker process on the same database.
#[derive(Clone, Debug)]
pub struct ProcessArgs {
    pub config: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub database_url: String,
}

/// The bench's clock: Monday 2026-11-23 08:00 in the county. Slots are on the Tuesday and
/// Wednesday after, inside the 7-day horizon.
fn clock() -> When {
    When {
        now: chrono::DateTime::from_timestamp(1_795_392_000, 0).unwrap_or_default(),
        offset_hours: 8,
    }
}

const DESK: &str = "bench.desk";

/// A phase's schedule name.
fn schedule_name(phase: &str) -> String {
    format!("bench-{phase}")
}

/// The bench's minimal county (province down to one village, 城西村 `451226100201`), a
/// medical community and its lead county hospital coded `hospital_code`; returns the
/// hospital's id. Shared by the in-process and the HTTP booking benches.
pub(crate) async fn county_and_hospital(
    store: &Store,
    community_name: &str,
    hospital_code: &str,
) -> Result<i64> {
    let code = |s: &str| DivisionCode::parse(s).map_err(|e| anyhow::anyhow!("{s}: {e:?}"));
    for (c, parent, level, name) in [
        ("45", None, Level::Province, "广西壮族自治区"),
        ("4512", Some("45"), Level::Prefecture, "河池市"),
        ("451226", Some("4512"), Level::County, "环江毛南族自治县"),
        ("451226100", Some("451226"), Level::Township, "思恩镇"),
        ("451226100201", Some("451226100"), Level::Village, "城西村"),
    ] {
        division::upsert(
            store,
            &Division {
                code: code(c)?,
                parent: parent.map(code).transpose()?,
                level,
                name: name.into(),
                name_en: String::new(),
            },
        )
        .await?;
    }
    let community = org::add_community(store, community_name, "", &code("451226")?).await?;
    let hospital = org::add(
        store,
        &org::NewInstitution {
            code: hospital_code.into(),
            name: "环江县人民医院".into(),
            name_en: String::new(),
            kind: InstitutionKind::CountyHospital,
            division: code("451226")?,
            community_id: Some(community),
            is_lead: true,
        },
    )
    .await?;
    Ok(hospital)
}

/// Make the county, the residents and the two schedules with their slots.
async fn setup(store: &Store, opts: &Options, data_dir: &Path) -> Result<()> {
    let who = Who {
        username: Some("bench".into()),
        ..Who::default()
    };
    let code = |s: &str| DivisionCode::parse(s).map_err(|e| anyhow::anyhow!("{s}: {e:?}"));
    let hospital = county_and_hospital(store, "环江县医共体", "BENCH-H").await?;
    user::add(
        store,
        &user::NewUser {
            username: DESK.into(),
            display_name: "挂号处".into(),
            role: Role::Clinician,
            institution_id: Some(hospital),
            reach: code("451226100201")?,
            resident_id: None,
            password: "bench booking desk 1".into(),
            phone: None,
        },
        &who,
    )
    .await?;
    let mut ids = String::new();
    for i in 0..opts.clients {
        let id = resident::create(
            store,
            &NewResident {
                division: code("451226100201")?,
                name: format!("测试{i:04}"),
                sex: if i % 2 == 0 { "male" } else { "female" }.into(),
                birth_date: NaiveDate::from_ymd_opt(1960 + (i % 50) as i32, 1, 1),
                id_card: None,
                phone: None,
                contact_phone: None,
                details: Default::default(),
            },
            &who,
        )
        .await?;
        let _ = writeln!(ids, "{id}");
    }
    std::fs::write(residents_file(data_dir), ids).context("cannot write the resident list")?;
    // 15-minute slots from 08:00: `slots` of them in one session.
    let end_minutes = 8 * 60 + 15 * opts.slots as u32;
    if end_minutes >= 24 * 60 {
        bail!("at most 63 slots fit in one day's session");
    }
    for (phase, day, seats) in [
        ("contention", "tue", opts.seats),
        ("throughput", "wed", opts.clients as u32),
    ] {
        let session = format!(
            "{day} 08:00-{:02}:{:02} 15x{seats}",
            end_minutes / 60,
            end_minutes % 60
        );
        let rules = ScheduleRules {
            sessions: vec![Session::parse(&session).context("bench session")?],
            ..ScheduleRules::default()
        };
        let id = booking::create_schedule(
            store,
            &NewSchedule {
                institution_id: hospital,
                department: "内科".into(),
                doctor_id: None,
                service: ServiceKind::Outpatient,
                name: schedule_name(phase),
                rules,
            },
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("schedule: {e}"))?;
        let today = clock().today();
        let made =
            booking::open_slots(store, id, today, today + chrono::Duration::days(7), clock())
                .await
                .map_err(|e| anyhow::anyhow!("slots: {e}"))?;
        if made as usize != opts.slots {
            bail!("expected {} slots, made {made}", opts.slots);
        }
    }
    Ok(())
}

/// One phase's results from one process.
#[derive(Debug, Default)]
struct Outcome {
    ok: u64,
    full: u64,
    other_refusals: u64,
    latencies_us: Vec<u64>,
}

/// A deterministic order of `n` items for client `c`.
fn order(n: usize, c: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for i in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
    v
}

/// Run clients `first..first + count` of `phase` in this process.
async fn run_clients(
    store: &Store,
    data_dir: &Path,
    phase: &str,
    first: usize,
    count: usize,
) -> Result<Outcome> {
    let desk = user::by_username(store, DESK)
        .await
        .context("the bench desk user (run the parent first)")?;
    let schedules = booking::schedules(store, None, 100, 0).await?;
    let schedule = schedules
        .iter()
        .find(|s| s.name == schedule_name(phase))
        .context("the bench schedule")?;
    let slots: Vec<i64> = booking::slots(
        store,
        &SlotFilter {
            schedule_id: Some(schedule.id),
            ..Default::default()
        },
        1000,
        0,
    )
    .await?
    .0
    .iter()
    .map(|s| s.id)
    .collect();
    let residents = resident_ids(data_dir)?;
    let desk = std::sync::Arc::new(desk);
    let mut tasks = tokio::task::JoinSet::new();
    for c in first..first + count {
        let store = store.clone();
        let desk = desk.clone();
        let slots = slots.clone();
        let resident = *residents.get(c).context("a resident per client")?;
        tasks.spawn(async move {
            let viewer = Viewer {
                user: &desk,
                remote_addr: Some("127.0.0.1".into()),
            };
            let mut out = Outcome::default();
            for i in order(slots.len(), c) {
                let t = Instant::now();
                let r = access::book(&store, &viewer, resident, slots[i], clock()).await;
                out.latencies_us.push(t.elapsed().as_micros() as u64);
                match r {
                    Ok(_) => out.ok += 1,
                    Err(BookingError::Refused(BookingRefusal::SlotFull)) => out.full += 1,
                    Err(BookingError::Refused(_)) => out.other_refusals += 1,
                    Err(e) => return Err(anyhow::anyhow!("booking failed: {e}")),
                }
            }
            Ok(out)
        });
    }
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        let o = done.context("a client task panicked")??;
        total.ok += o.ok;
        total.full += o.full;
        total.other_refusals += o.other_refusals;
        total.latencies_us.extend(o.latencies_us);
    }
    Ok(total)
}

/// The residents made by [`setup`], one id per line, for the worker processes.
fn residents_file(data_dir: &Path) -> PathBuf {
    data_dir.join("bench-booking-residents.txt")
}

fn resident_ids(data_dir: &Path) -> Result<Vec<i64>> {
    let path = residents_file(data_dir);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {} (run the parent first)", path.display()))?;
    Ok(text.lines().map(str::parse).collect::<Result<_, _>>()?)
}

/// The worker entry point (`yiwei bench booking-worker`): run a share of the clients and
/// write the outcome to `out` as text (counts, then one latency per line).
pub async fn worker(
    store: &Store,
    data_dir: &Path,
    phase: &str,
    first: usize,
    count: usize,
    out: &Path,
) -> Result<()> {
    let o = run_clients(store, data_dir, phase, first, count).await?;
    let mut text = format!("{} {} {}\n", o.ok, o.full, o.other_refusals);
    for l in &o.latencies_us {
        let _ = writeln!(text, "{l}");
    }
    std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

fn read_outcome(path: &Path) -> Result<Outcome> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines();
    let head: Vec<u64> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .context("worker output")?;
    if head.len() != 3 {
        bail!("worker output {} is malformed", path.display());
    }
    Ok(Outcome {
        ok: head[0],
        full: head[1],
        other_refusals: head[2],
        latencies_us: lines.map(str::parse).collect::<Result<_, _>>()?,
    })
}

/// Run one phase over `opts.processes` processes; returns the merged outcome and the wall
/// time.
async fn phase(
    store: &Store,
    opts: &Options,
    args: &ProcessArgs,
    name: &str,
) -> Result<(Outcome, Duration)> {
    let started = Instant::now();
    if opts.processes <= 1 {
        let o = run_clients(store, &args.data_dir, name, 0, opts.clients).await?;
        return Ok((o, started.elapsed()));
    }
    let exe = std::env::current_exe().context("the yiwei binary")?;
    let per = opts.clients.div_ceil(opts.processes);
    let mut children = Vec::new();
    for p in 0..opts.processes {
        let first = p * per;
        let count = per.min(opts.clients.saturating_sub(first));
        let out = args.data_dir.join(format!("bench-{name}-{p}.out"));
        let mut cmd = std::process::Command::new(&exe);
        if let Some(config) = &args.config {
            cmd.arg("--config").arg(config);
        }
        cmd.arg("--data-dir").arg(&args.data_dir);
        if !args.database_url.is_empty() {
            cmd.arg("--database-url").arg(&args.database_url);
        }
        cmd.args(["bench", "booking-worker", "--phase", name])
            .args(["--first", &first.to_string(), "--count", &count.to_string()])
            .arg("--out")
            .arg(&out);
        children.push((cmd.spawn().context("cannot start a worker")?, out));
    }
    let mut total = Outcome::default();
    let deadline = Instant::now() + Duration::from_secs(600);
    for (mut child, out) in children {
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for a worker")? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("a worker ran over 10 minutes and was stopped");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if !status.success() {
            bail!("a worker failed: {status}");
        }
        let o = read_outcome(&out)?;
        let _ = std::fs::remove_file(&out);
        total.ok += o.ok;
        total.full += o.full;
        total.other_refusals += o.other_refusals;
        total.latencies_us.extend(o.latencies_us);
    }
    Ok((total, started.elapsed()))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

/// Run the benchmark on a fresh store; returns the markdown report, or an error when an
/// invariant broke.
pub async fn run(store: &Store, opts: &Options, args: &ProcessArgs) -> Result<String> {
    if opts.clients == 0 || opts.slots == 0 || opts.seats == 0 {
        bail!("clients, slots and seats must be positive");
    }
    setup(store, opts, &args.data_dir).await?;
    let backend = store.backend().as_str();
    let mut report = String::new();
    let _ = writeln!(
        report,
        "### Booking under concurrency ({backend}, {} process{})\n",
        opts.processes,
        if opts.processes == 1 { "" } else { "es" }
    );
    let _ = writeln!(report, "Command: `{}`\n", opts.command);
    let _ = writeln!(
        report,
        "| phase | clients | slots × seats | attempts | booked | refused full | other refusals | wall s | bookings/s | p50 ms | p99 ms | max ms |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, seats) in [
        ("contention", opts.seats),
        ("throughput", opts.clients as u32),
    ] {
        let (mut o, wall) = phase(store, opts, args, name).await?;
        o.latencies_us.sort_unstable();
        let attempts = o.latencies_us.len();
        let capacity = opts.slots as u64 * u64::from(seats);
        let expect = capacity.min((opts.clients * opts.slots) as u64);
        let _ = writeln!(
            report,
            "| {name} | {} | {} × {seats} | {attempts} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} |",
            opts.clients,
            opts.slots,
            o.ok,
            o.full,
            o.other_refusals,
            wall.as_secs_f64(),
            o.ok as f64 / wall.as_secs_f64(),
            percentile(&o.latencies_us, 50.0),
            percentile(&o.latencies_us, 99.0),
            o.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        );
        if o.ok != expect {
            bail!(
                "{name}: {} bookings succeeded, expected exactly {expect}",
                o.ok
            );
        }
    }
    let bad = booking::invariant_violations(store).await?;
    if !bad.is_empty() {
        bail!("booking invariants broken: {}", bad.join("; "));
    }
    let _ = writeln!(
        report,
        "\nInvariants checked in the database afterwards: every slot's counter equals its \
         bookings and is within capacity, no resident holds a slot twice — all hold."
    );
    Ok(report)
}
