//! `yiwei bench cost-alerts`: the monthly cost-alert job (防返贫监测预警) at county scale
//! (issue 6 target: 1M residents and 5M charge rows, the month in under 30 s on 2 cores).
//!
//! On an empty data folder it builds a synthetic county with set-based SQL (a recursive
//! CTE on SQLite, `generate_series` on PostgreSQL), which takes a minute or two rather
//! than the demo's ten: 20 townships × 25 villages, a county hospital and a centre per
//! township, `--residents` residents (20 % 脱贫人口, 2 % 监测对象, some with other key
//! groups so the population test reads real lists) and `--charges` charges spread evenly
//! over the 12 months before last month's end (95 % outpatient of 20–520 yuan, 5 % stays
//! of 1,000–31,000 yuan, 1 in 500 of them up to 130,000 yuan; insurance pays 60 %). The
//! amounts come from a multiplicative hash of the row number, so a run is reproducible.
//!
//! It then times [`yiwei_store::cost_alert::run_month`] for last month (the job's own
//! call: attach by ID card, the set-based insert per rule, the run record), a rerun
//! (which must add nothing), and a 12-month-window rule. With `--export DIR` it writes
//! `residents.csv` and `charges.csv` for `bench/cost_alerts_vs_duckdb.py`.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use yiwei_domain::cost_alert::{Month, default_rules};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::org::InstitutionKind;
use yiwei_store::division::{self, Division};
use yiwei_store::{Backend, Row, Store, cost_alert, on_pool, org};

/// Townships and villages of the synthetic county.
const TOWNSHIPS: i64 = 20;
const VILLAGES: i64 = 25;
/// Rows per generating statement (one transaction each).
const CHUNK: i64 = 250_000;

/// What the benchmark measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub backend: &'static str,
    pub residents: i64,
    pub charges: i64,
    pub month: Month,
    pub charges_in_month: i64,
    pub load_residents_s: f64,
    pub load_charges_s: f64,
    pub run_s: f64,
    pub rerun_s: f64,
    pub alerts: i64,
    pub rerun_new: i64,
    pub year_window_s: f64,
    pub year_window_alerts: i64,
    pub command: String,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "## Cost alerts at {} residents / {} charges on {} (`yiwei bench cost-alerts`)\n",
            self.residents, self.charges, self.backend
        )?;
        writeln!(f, "- Command: `{}`", self.command)?;
        writeln!(
            f,
            "- Data: {} residents, {} charges over 12 months ({} in {}), generated in {:.1} s + {:.1} s",
            self.residents,
            self.charges,
            self.charges_in_month,
            self.month,
            self.load_residents_s,
            self.load_charges_s
        )?;
        writeln!(f)?;
        writeln!(f, "| Measure | Target | Result | Met |")?;
        writeln!(f, "|---|---|---|---|")?;
        writeln!(
            f,
            "| Monthly job for {} (default rules, first run) | < 30 s | {:.2} s, {} alerts | {} |",
            self.month,
            self.run_s,
            self.alerts,
            if self.run_s < 30.0 { "yes" } else { "**no**" }
        )?;
        writeln!(
            f,
            "| Rerun of the same month | adds nothing | {:.2} s, {} new | {} |",
            self.rerun_s,
            self.rerun_new,
            if self.rerun_new == 0 { "yes" } else { "**no**" }
        )?;
        writeln!(
            f,
            "| A 12-month window rule (everyone, out-of-pocket > 20,000 yuan) | — | {:.2} s, {} alerts | — |",
            self.year_window_s, self.year_window_alerts
        )
    }
}

fn code(s: &str) -> Result<DivisionCode> {
    DivisionCode::parse(s).map_err(|e| anyhow::anyhow!("division {s}: {e}"))
}

async fn county(store: &Store) -> Result<i64> {
    let mut levels = vec![
        ("45".to_owned(), Level::Province),
        ("4512".to_owned(), Level::Prefecture),
        ("451226".to_owned(), Level::County),
    ];
    for t in 0..TOWNSHIPS {
        let township = format!("451226{:03}", 100 + t);
        levels.push((township.clone(), Level::Township));
        for v in 0..VILLAGES {
            levels.push((format!("{township}{:03}", 200 + v), Level::Village));
        }
    }
    for (c, level) in levels {
        let c = code(&c)?;
        division::upsert(
            store,
            &Division {
                parent: c.parent(),
                name: format!("区划{}", c.as_str()),
                name_en: String::new(),
                code: c,
                level,
            },
        )
        .await?;
    }
    let county = code("451226")?;
    let mc = org::add_community(store, "基准医共体", "bench community", &county).await?;
    let hospital = org::add(
        store,
        &org::NewInstitution {
            code: "BENCH-H001".into(),
            name: "基准县人民医院".into(),
            name_en: String::new(),
            kind: InstitutionKind::CountyHospital,
            division: county.clone(),
            community_id: Some(mc),
            is_lead: true,
        },
    )
    .await?;
    for t in 0..TOWNSHIPS {
        org::add(
            store,
            &org::NewInstitution {
                code: format!("BENCH-T{t:03}"),
                name: format!("基准乡镇卫生院{t}"),
                name_en: String::new(),
                kind: InstitutionKind::TownshipHealthCentre,
                division: code(&format!("451226{:03}", 100 + t))?,
                community_id: Some(mc),
                is_lead: false,
            },
        )
        .await?;
    }
    Ok(hospital)
}

/// Run one generating statement over `n` in `[from, to]`.
async fn generate(store: &Store, sqlite: &str, postgres: &str, from: i64, to: i64) -> Result<()> {
    let sql = match store.backend() {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    }
    .replace("{FROM}", &from.to_string())
    .replace("{TO}", &to.to_string());
    let mut tx = store.begin().await?;
    yiwei_store::on_tx!(&mut tx, |conn| sqlx::query(sqlx::AssertSqlSafe(
        sql.as_str()
    ))
    .execute(&mut *conn)
    .await
    .map(|_| ()))?;
    tx.commit().await?;
    Ok(())
}

/// Residents `1..=n` (ids equal to n on an empty table).
async fn residents(store: &Store, n: i64, bar: &ProgressBar) -> Result<()> {
    // n → village: township (n % 20), village (n / 20 % 25). Key groups by n % 50:
    // 0–9 脱贫, 10 监测, 11–17 hypertension, others none.
    let groups = "CASE WHEN n % 50 < 10 THEN (CASE WHEN n % 7 = 0 THEN 'hypertension,poverty_alleviated' ELSE 'poverty_alleviated' END) \
                  WHEN n % 50 = 10 THEN 'monitored_household' WHEN n % 50 < 18 THEN 'hypertension' ELSE '' END";
    let sqlite = format!(
        "WITH RECURSIVE s(n) AS (SELECT {{FROM}} UNION ALL SELECT n + 1 FROM s WHERE n < {{TO}}) \
         INSERT INTO resident (division_code, name, sex, created_at, updated_at, key_groups) \
         SELECT '451226' || printf('%03d', 100 + n % 20) || printf('%03d', 200 + (n / 20) % 25), \
         '居民' || n, CASE WHEN n % 2 = 0 THEN 'female' ELSE 'male' END, \
         '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', {groups} FROM s"
    );
    let postgres = format!(
        "INSERT INTO resident (division_code, name, sex, created_at, updated_at, key_groups) \
         SELECT '451226' || lpad((100 + n % 20)::text, 3, '0') || lpad((200 + (n / 20) % 25)::text, 3, '0'), \
         '居民' || n, CASE WHEN n % 2 = 0 THEN 'female' ELSE 'male' END, \
         TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00', {groups} \
         FROM generate_series({{FROM}}::bigint, {{TO}}::bigint) AS n"
    );
    let mut from = 1;
    while from <= n {
        let to = (from + CHUNK - 1).min(n);
        generate(store, &sqlite, &postgres, from, to).await?;
        bar.set_position(to as u64);
        from = to + 1;
    }
    Ok(())
}

/// Charges `1..=m` over the 365 days from `start`, for residents `1..=n`.
async fn charges(
    store: &Store,
    m: i64,
    n: i64,
    start: NaiveDate,
    hospital: i64,
    bar: &ProgressBar,
) -> Result<()> {
    // h1..h3: multiplicative hashes of k (Knuth), reduced; all integer arithmetic.
    let h = |mult: u64, modulo: i64| format!("(((k * {mult}) % 4294967291) % {modulo})");
    let resident = format!("(1 + {})", h(2_654_435_761, n));
    let day = h(40_503, 365);
    let roll = h(2_246_822_519, 1000);
    let size = h(3_266_489_917, 30_000);
    let total = format!(
        "(CASE WHEN {roll} < 950 THEN (2000 + {size} * 5 / 3) \
         WHEN {roll} < 998 THEN (100000 + {size} * 100) ELSE (1000000 + {size} * 400) END)"
    );
    let kind = format!("CASE WHEN {roll} < 950 THEN 'outpatient' ELSE 'inpatient' END");
    let columns = "INSERT INTO cost_charge (institution_id, external_visit_id, visit_date, kind, total_fen, \
         insurance_paid_fen, out_of_pocket_fen, policy_oop_fen, resident_id, division_code, source, \
         matched_how, matched_at, received_at, updated_at)";
    let sqlite = format!(
        "{columns} WITH RECURSIVE s(k) AS (SELECT {{FROM}} UNION ALL SELECT k + 1 FROM s WHERE k < {{TO}}), \
         g AS (SELECT k, {resident} AS rid, date('{start}', '+' || {day} || ' days') AS d, {total} AS t, {kind} AS kd FROM s) \
         SELECT {hospital}, 'B' || k, g.d, g.kd, g.t, g.t * 6 / 10, g.t - g.t * 6 / 10, (g.t - g.t * 6 / 10) * 6 / 10, \
         g.rid, r.division_code, 'bench', 'resident_id', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z' \
         FROM g JOIN resident r ON r.id = g.rid"
    );
    let postgres = format!(
        "{columns} SELECT {hospital}, 'B' || k, DATE '{start}' + ({day})::int, g.kd, g.t, g.t * 6 / 10, g.t - g.t * 6 / 10, \
         (g.t - g.t * 6 / 10) * 6 / 10, g.rid, r.division_code, 'bench', 'resident_id', \
         TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00', TIMESTAMPTZ '2026-01-01 00:00:00+00' \
         FROM (SELECT k, {resident} AS rid, {total} AS t, {kind} AS kd FROM generate_series({{FROM}}::bigint, {{TO}}::bigint) AS k) g \
         JOIN resident r ON r.id = g.rid"
    );
    let mut from = 1;
    while from <= m {
        let to = (from + CHUNK - 1).min(m);
        generate(store, &sqlite, &postgres, from, to).await?;
        bar.set_position(to as u64);
        from = to + 1;
    }
    if store.backend() == Backend::Postgres {
        let mut tx = store.begin().await?;
        yiwei_store::on_tx!(&mut tx, |conn| sqlx::query("ANALYZE")
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        tx.commit().await?;
    } else {
        on_pool!(store, |pool| sqlx::query("ANALYZE")
            .execute(pool)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} {{eta}} left"))
            .expect("template"),
    );
    bar
}

/// Build the synthetic county in an empty store and time the monthly job.
pub async fn run(
    store: &Store,
    n_residents: i64,
    n_charges: i64,
    today: NaiveDate,
    export: Option<&Path>,
    command: String,
) -> Result<Report> {
    let month = Month::previous_of(today);
    let start = month.minus(11).first_day();
    let hospital = county(store).await?;
    let started = Instant::now();
    let b = bar(n_residents as u64, "residents");
    residents(store, n_residents, &b).await?;
    b.finish_and_clear();
    let load_residents_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let b = bar(n_charges as u64, "charges  ");
    charges(store, n_charges, n_residents, start, hospital, &b).await?;
    b.finish_and_clear();
    let load_charges_s = started.elapsed().as_secs_f64();
    let (from, to) = month.window(1);
    let charges_in_month: i64 = on_pool!(store, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM cost_charge WHERE visit_date >= $1 AND visit_date <= $2"
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await)?;
    cost_alert::ensure_rules(store, &default_rules()).await?;
    let started = Instant::now();
    let first = cost_alert::run_month(store, month, None, "bench").await?;
    let run_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let again = cost_alert::run_month(store, month, None, "bench").await?;
    let rerun_s = started.elapsed().as_secs_f64();
    // A year-window rule alone.
    let rules = cost_alert::rules(store).await?;
    for r in &rules {
        let mut off = r.rule.clone();
        off.active = false;
        cost_alert::save_rule(store, Some(r.id), r.version, &off, None, "bench").await?;
    }
    let mut year = default_rules()[1].clone();
    year.code = "bench_year".into();
    year.population = yiwei_domain::cost_alert::Population::Everyone;
    year.window_months = 12;
    cost_alert::save_rule(store, None, 0, &year, None, "bench").await?;
    let started = Instant::now();
    let y = cost_alert::run_month(store, month, None, "bench").await?;
    let year_window_s = started.elapsed().as_secs_f64();
    if let Some(dir) = export {
        export_csv(store, dir).await?;
    }
    Ok(Report {
        backend: store.backend().as_str(),
        residents: n_residents,
        charges: n_charges,
        month,
        charges_in_month,
        load_residents_s,
        load_charges_s,
        run_s,
        rerun_s,
        alerts: first.n_hits,
        rerun_new: again.n_new,
        year_window_s,
        year_window_alerts: y.n_new,
        command,
    })
}

/// (charge id, resident id, visit date, total, out of pocket, policy-scope out of pocket).
type ExportRow = (i64, Option<i64>, NaiveDate, i64, i64, Option<i64>);

/// Write `residents.csv` (id, division_code, key_groups, merged) and `charges.csv`
/// (resident_id, visit_date, total_fen, out_of_pocket_fen, policy_oop_fen), page by page.
pub async fn export_csv(store: &Store, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("residents.csv"))?);
    writeln!(out, "id,division_code,key_groups,merged")?;
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String, String, bool)> = on_pool!(store, |pool| {
            sqlx::query(
                "SELECT id, division_code, key_groups, merged_into IS NOT NULL AS merged FROM resident \
                 WHERE id > $1 ORDER BY id LIMIT 100000",
            )
            .bind(after)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| Ok::<_, sqlx::Error>((r.col("id")?, r.col("division_code")?, r.col("key_groups")?, r.col("merged")?)))
            .collect::<Result<Vec<_>, _>>()
        })?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, d, g, m) in rows {
            writeln!(out, "{id},{d},\"{g}\",{m}")?;
        }
    }
    out.flush()?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("charges.csv"))?);
    writeln!(
        out,
        "resident_id,visit_date,total_fen,out_of_pocket_fen,policy_oop_fen"
    )?;
    let mut after = 0i64;
    loop {
        let rows: Vec<ExportRow> = on_pool!(store, |pool| {
            sqlx::query(
                "SELECT id, resident_id, visit_date, total_fen, out_of_pocket_fen, policy_oop_fen \
                 FROM cost_charge WHERE id > $1 ORDER BY id LIMIT 200000",
            )
            .bind(after)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.col("id")?,
                    r.col("resident_id")?,
                    r.col("visit_date")?,
                    r.col("total_fen")?,
                    r.col("out_of_pocket_fen")?,
                    r.col("policy_oop_fen")?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()
        })?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (_, r, d, t, o, p) in rows {
            let r = r.map(|v| v.to_string()).unwrap_or_default();
            let p = p.map(|v| v.to_string()).unwrap_or_default();
            writeln!(out, "{r},{d},{t},{o},{p}")?;
        }
    }
    out.flush()?;
    Ok(())
}
