//! `yiwei bench booking-http`: bookings over HTTP against a running `yiwei serve` on
//! 127.0.0.1 (issue 7), printed as a markdown section for `docs/benchmarks.md`.
//! `bench/booking_load.sh` builds, starts the server on a fresh data folder and runs this.
//!
//! Setup goes straight into the server's database (this process opens the same data folder
//! or `--database-url`): a minimal county with one hospital, `--clients` residents each with
//! a resident account and an API token (the phone app's bearer token, as `yiwei user token`
//! issues it), and one schedule per phase of `--slots` 15-minute slots on the days after
//! today. Every booking is then what a phone sends: `POST /fhir/Appointment` with
//! `Authorization: Bearer …`, a `slot` and the resident as `participant` — the server
//! checks the token, the access rule (a resident books only themself), the booking rules,
//! and answers 201 with the Appointment or 409 when the slot is full. Phases:
//!
//! 1. **contention**, closed loop: every client tries every slot of a schedule with
//!    `--seats` seats, one request at a time, in its own order; exactly `slots × seats`
//!    may succeed.
//! 2. **throughput**, closed loop: the same with a seat for every client; all succeed.
//!    With every client always in flight, latency is clients ÷ throughput (Little's law).
//! 3. **open loop**: requests start at a fixed rate (`--rate` per second for `--seconds`),
//!    whether or not earlier ones have answered, each a distinct (resident, slot) pair of a
//!    third schedule; latency counts from the scheduled start, so a generator or server
//!    falling behind shows up in it instead of lowering the offered rate.
//!
//! Bounds: at most `clients × slots` requests per phase, every request times out after
//! 10 s, and each phase stops after 5 minutes. Only 127.0.0.1/localhost is accepted as the
//! target. Afterwards the invariants are checked in the database (each slot's counter equals
//! its bookings and is within capacity; no resident holds a slot twice) and every 201 must
//! match a stored booking: the command fails when one breaks.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use chrono::{Datelike, NaiveDate};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use yiwei_domain::access::Role;
use yiwei_domain::booking::{ScheduleRules, ServiceKind, Session};
use yiwei_domain::division::DivisionCode;
use yiwei_store::audit::Who;
use yiwei_store::booking::{self, NewSchedule, SlotFilter, When};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::{Store, session, user};

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// `http://127.0.0.1:PORT` of the running server.
    pub url: String,
    pub clients: usize,
    pub slots: usize,
    pub seats: u32,
    /// Open-loop arrivals per second, and for how long.
    pub rate: u32,
    pub seconds: u32,
    /// The county's UTC offset, as the server has it.
    pub offset_hours: i32,
    pub command: String,
}

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const PHASE_LIMIT: Duration = Duration::from_secs(300);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A client: the resident and their bearer token.
#[derive(Clone, Debug)]
struct Phone {
    resident_id: i64,
    token: String,
}

/// The phases' slot ids, by phase name.
struct County {
    phones: Vec<Phone>,
    contention: Vec<i64>,
    throughput: Vec<i64>,
    open: Vec<i64>,
}

/// Refuse anything but the loopback interface: this tool sends thousands of writes.
fn check_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must be http://127.0.0.1:PORT")?;
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    if !matches!(host, "127.0.0.1" | "localhost") {
        bail!("--url must point at 127.0.0.1 (this load is for a local server), got {host:?}");
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn weekday(d: NaiveDate) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d.weekday().num_days_from_monday() as usize]
}

/// Make the county, the residents with their accounts and tokens, and three schedules.
async fn setup(store: &Store, opts: &Options) -> Result<County> {
    let who = Who {
        username: Some("bench".into()),
        ..Who::default()
    };
    let code = |s: &str| DivisionCode::parse(s).map_err(|e| anyhow::anyhow!("{s}: {e:?}"));
    let hospital =
        crate::bench_booking::county_and_hospital(store, "环江县医共体(压测)", "BENCH-HTTP-H")
            .await
            .context("the bench hospital (run on a fresh data folder)")?;
    let mut phones = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let resident_id = resident::create(
            store,
            &NewResident {
                division: code("451226100201")?,
                name: format!("压测{i:04}"),
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
        let account = user::add(
            store,
            &user::NewUser {
                username: format!("bench.phone{i:04}"),
                display_name: format!("压测{i:04}"),
                role: Role::Resident,
                institution_id: None,
                reach: code("451226100201")?,
                resident_id: Some(resident_id),
                password: format!("bench phone {i:04} pass"),
                phone: None,
            },
            &who,
        )
        .await?;
        let token = session::create_api_token(store, account.id, "bench-booking", None).await?;
        phones.push(Phone { resident_id, token });
    }
    // 15-minute slots from 08:00, on the three days after today (county time).
    let end_minutes = 8 * 60 + 15 * opts.slots as u32;
    if end_minutes >= 24 * 60 {
        bail!("at most 63 slots fit in one day's session");
    }
    let when = When::now(opts.offset_hours);
    let today = when.today();
    let mut phases = Vec::new();
    for (days, phase, seats) in [
        (1, "contention", opts.seats),
        (2, "throughput", opts.clients as u32),
        (3, "open", opts.clients as u32),
    ] {
        let day = today + chrono::Duration::days(days);
        let session = format!(
            "{} 08:00-{:02}:{:02} 15x{seats}",
            weekday(day),
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
                name: format!("bench-http-{phase}"),
                rules,
            },
            None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("schedule: {e}"))?;
        let made = booking::open_slots(store, id, day, day, when)
            .await
            .map_err(|e| anyhow::anyhow!("slots: {e}"))?;
        if made as usize != opts.slots {
            bail!("expected {} slots on {day}, made {made}", opts.slots);
        }
        let (slots, _) = booking::slots(
            store,
            &SlotFilter {
                schedule_id: Some(id),
                ..Default::default()
            },
            1000,
            0,
        )
        .await?;
        phases.push(slots.iter().map(|s| s.id).collect::<Vec<i64>>());
    }
    let open = phases.pop().unwrap_or_default();
    let throughput = phases.pop().unwrap_or_default();
    let contention = phases.pop().unwrap_or_default();
    Ok(County {
        phones,
        contention,
        throughput,
        open,
    })
}

/// What one request came back with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Booked,
    Full,
    /// Anything else: a status the bench does not expect (the run fails).
    Other(u16),
    /// No answer within the timeout, or the connection failed.
    Failed,
}

/// `POST /fhir/Appointment` as a phone: the resident books themself into `slot`.
async fn book(client: &HttpClient, base: &str, phone: &Phone, slot: i64) -> Answer {
    let body = format!(
        r#"{{"resourceType":"Appointment","status":"booked","slot":[{{"reference":"Slot/{slot}"}}],"participant":[{{"actor":{{"reference":"Patient/{}"}},"status":"accepted"}}]}}"#,
        phone.resident_id
    );
    let Ok(request) = Request::post(format!("{base}/fhir/Appointment"))
        .header(header::AUTHORIZATION, format!("Bearer {}", phone.token))
        .header(header::CONTENT_TYPE, "application/fhir+json")
        .header(header::ACCEPT, "application/fhir+json")
        .body(Full::new(Bytes::from(body)))
    else {
        return Answer::Failed;
    };
    let call = async {
        let response = client.request(request).await.ok()?;
        let status = response.status();
        // Read the whole answer, as a phone would, before the next request.
        response.into_body().collect().await.ok()?;
        Some(status)
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(Some(StatusCode::CREATED)) => Answer::Booked,
        Ok(Some(StatusCode::CONFLICT)) => Answer::Full,
        Ok(Some(other)) => Answer::Other(other.as_u16()),
        _ => Answer::Failed,
    }
}

/// One phase's results.
#[derive(Debug, Default)]
struct Outcome {
    booked: u64,
    full: u64,
    other: Vec<u16>,
    failed: u64,
    latencies_us: Vec<u64>,
    wall: Duration,
}

impl Outcome {
    fn add(&mut self, answer: Answer, latency: Duration) {
        self.latencies_us.push(latency.as_micros() as u64);
        match answer {
            Answer::Booked => self.booked += 1,
            Answer::Full => self.full += 1,
            Answer::Other(s) => self.other.push(s),
            Answer::Failed => self.failed += 1,
        }
    }
}

/// A deterministic order of `n` items for client `c` (the in-process bench's).
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

/// Every client books every slot, one request at a time.
async fn closed_loop(
    client: &HttpClient,
    base: &str,
    phones: &[Phone],
    slots: &[i64],
) -> Result<Outcome> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (c, phone) in phones.iter().enumerate() {
        let (client, base, phone) = (client.clone(), base.to_owned(), phone.clone());
        let slots = slots.to_vec();
        tasks.spawn(async move {
            let mut out = Outcome::default();
            for i in order(slots.len(), c) {
                if started.elapsed() > PHASE_LIMIT {
                    break;
                }
                let t = Instant::now();
                let answer = book(&client, &base, &phone, slots[i]).await;
                out.add(answer, t.elapsed());
            }
            out
        });
    }
    let mut total = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        let o = done.context("a client task panicked")?;
        total.booked += o.booked;
        total.full += o.full;
        total.failed += o.failed;
        total.other.extend(o.other);
        total.latencies_us.extend(o.latencies_us);
    }
    total.wall = started.elapsed();
    Ok(total)
}

/// Requests start at `rate` per second for `seconds`, each a distinct (client, slot) pair
/// in a shuffled order; latency is measured from each request's scheduled start.
async fn open_loop(
    client: &HttpClient,
    base: &str,
    phones: &[Phone],
    slots: &[i64],
    rate: u32,
    seconds: u32,
) -> Result<Outcome> {
    let pairs: Vec<(usize, usize)> = order(phones.len() * slots.len(), usize::MAX - 1)
        .into_iter()
        .map(|k| (k / slots.len(), k % slots.len()))
        .collect();
    let total = (u64::from(rate) * u64::from(seconds)).min(pairs.len() as u64) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let phones: Arc<Vec<Phone>> = Arc::new(phones.to_vec());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0usize;
    while next < total {
        // Start every request that is due, then wait for the next one's moment.
        let due =
            ((started.elapsed().as_secs_f64() / interval.as_secs_f64()) as usize + 1).min(total);
        while next < due {
            let scheduled = started + interval * next as u32;
            let (c, s) = pairs[next];
            let (client, base, phones) = (client.clone(), base.to_owned(), phones.clone());
            let slot = slots[s];
            tasks.spawn(async move {
                let answer = book(&client, &base, &phones[c], slot).await;
                (answer, scheduled.elapsed())
            });
            next += 1;
        }
        if started.elapsed() > PHASE_LIMIT {
            break;
        }
        let wake = started + interval * next as u32;
        tokio::time::sleep_until(wake.into()).await;
    }
    let mut out = Outcome::default();
    while let Some(done) = tasks.join_next().await {
        let (answer, latency) = done.context("a request task panicked")?;
        out.add(answer, latency);
    }
    out.wall = started.elapsed();
    Ok(out)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1] as f64 / 1000.0
}

/// Bookings stored for a phase's slots.
async fn stored(store: &Store, slots: &[i64]) -> Result<u64> {
    let mut n = 0u64;
    for &slot in slots {
        n += booking::slot(store, slot).await?.booked as u64;
    }
    Ok(n)
}

/// Run the phases against the server at `opts.url`; returns the markdown report, or an
/// error when an invariant broke or the server answered something unexpected.
pub async fn run(store: &Store, opts: &Options) -> Result<String> {
    let base = check_url(&opts.url)?;
    if opts.clients == 0 || opts.slots == 0 || opts.seats == 0 || opts.rate == 0 {
        bail!("clients, slots, seats and rate must be positive");
    }
    let county = setup(store, opts).await?;
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(opts.clients.max(1024))
        .build_http();
    // The server must be up and answering for our tokens before the clock starts.
    let probe = Request::get(format!("{base}/healthz"))
        .body(Full::new(Bytes::new()))
        .context("probe request")?;
    let healthy = tokio::time::timeout(REQUEST_TIMEOUT, client.request(probe))
        .await
        .ok()
        .and_then(|r| r.ok())
        .is_some_and(|r| r.status().is_success());
    if !healthy {
        bail!("no server answers at {base}/healthz (start `yiwei serve` first)");
    }
    let mut report = String::new();
    let _ = writeln!(
        report,
        "### Booking over HTTP ({}, `POST /fhir/Appointment` with a resident's bearer token)\n",
        store.backend().as_str()
    );
    let _ = writeln!(report, "Command: `{}`\n", opts.command);
    let _ = writeln!(
        report,
        "| phase | load | slots × seats | requests | booked (201) | full (409) | other | failed | wall s | bookings/s | p50 ms | p99 ms | max ms |"
    );
    let _ = writeln!(
        report,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    let n = opts.clients;
    let phases = [
        ("contention", opts.seats, &county.contention),
        ("throughput", n as u32, &county.throughput),
        ("open", n as u32, &county.open),
    ];
    let mut problems = Vec::new();
    for (name, seats, slots) in phases {
        let mut o = if name == "open" {
            open_loop(
                &client,
                &base,
                &county.phones,
                slots,
                opts.rate,
                opts.seconds,
            )
            .await?
        } else {
            closed_loop(&client, &base, &county.phones, slots).await?
        };
        o.latencies_us.sort_unstable();
        let load = if name == "open" {
            format!(
                "open loop, {} req/s offered for {} s",
                opts.rate, opts.seconds
            )
        } else {
            format!("closed loop, {n} clients")
        };
        // The achieved rate of the open loop is over the offered window, not the drain.
        let rate = o.booked as f64 / o.wall.as_secs_f64();
        let _ = writeln!(
            report,
            "| {name} | {load} | {} × {seats} | {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} |",
            slots.len(),
            o.latencies_us.len(),
            o.booked,
            o.full,
            o.other.len(),
            o.failed,
            o.wall.as_secs_f64(),
            rate,
            percentile(&o.latencies_us, 50.0),
            percentile(&o.latencies_us, 99.0),
            o.latencies_us.last().copied().unwrap_or(0) as f64 / 1000.0,
        );
        if !o.other.is_empty() || o.failed > 0 {
            let mut statuses = o.other.clone();
            statuses.sort_unstable();
            statuses.dedup();
            problems.push(format!(
                "{name}: {} unexpected answers (statuses {statuses:?}), {} without an answer",
                o.other.len(),
                o.failed
            ));
        }
        let capacity = slots.len() as u64 * u64::from(seats);
        if name == "contention" && o.booked != capacity {
            problems.push(format!(
                "{name}: {} bookings acknowledged, expected exactly {capacity}",
                o.booked
            ));
        }
        let kept = stored(store, slots).await?;
        if kept != o.booked {
            problems.push(format!(
                "{name}: {} bookings acknowledged but {kept} stored",
                o.booked
            ));
        }
    }
    let bad = booking::invariant_violations(store).await?;
    problems.extend(bad);
    if !problems.is_empty() {
        bail!("booking over HTTP broke: {}", problems.join("; "));
    }
    let _ = writeln!(
        report,
        "\nChecked in the database afterwards: every acknowledged booking (201) is stored, \
         every slot's counter equals its bookings and is within capacity, no resident holds \
         a slot twice — all hold."
    );
    Ok(report)
}
