//! Twelve months of medical charges for the demo county, then the monthly cost alerts
//! (防返贫监测预警) of those months, and household checks on the older alerts.
//!
//! Basis (order of magnitude, stated as background knowledge (B), not any county's data):
//! China's residents made about 6 visits a year to medical institutions and about 0.19
//! hospital admissions a person in 2019 (B; 国家卫生健康统计年鉴), fewer in poor rural
//! counties and more among the old. Here, per resident and year: outpatient visits 3 (age
//! 7–59), 5 (under 7) and 6 (60 and over), at the village clinic (60 %), the township
//! health centre (30 %) or a county hospital (10 %), costing (log-normal medians) 40, 120
//! and 300 yuan; admissions 5 % (under 60) and 15 % (60 and over), 45 % at the township
//! centre (median 2,500 yuan) and 55 % at a county hospital (median 6,000 yuan). The funds
//! pay about half of an outpatient bill and 65–85 % of a stay (more for the poverty
//! groups, as 一站式结算 with 医疗救助 does); the rest is out of pocket, about 60 % of it
//! within the policy scope. With these, the background alone crosses the default rules a
//! few times a year in a county of a few thousand residents — the reviews' 429 alerts in
//! a prefecture-year of millions is the same order.
//!
//! So that the demo always shows the whole flow, a handful of residents are made to cross
//! the thresholds (each described where it is injected), one stay costs exactly the
//! 10,000-yuan threshold (alone it raises nothing: "above" is strict; with the resident's
//! other visits of the month it may), and one out-of-county patient's
//! charge waits in the unmatched queue. Alerts of months before the last are checked,
//! with a mix of outcomes, by the demo system.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{Duration, NaiveDate};
use yiwei_domain::cost_alert::{
    Charge, ChargeInput, CheckInput, CheckOutcome, Month, VisitKind, default_rules,
};
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::{Action, Event, Who};
use yiwei_store::cost_alert::{self, AlertFilter, GeneratedCharge, NewCharge, Patient};
use yiwei_store::{Row, Store, on_pool, org};

use crate::demo::{COUNTY_CODE, Rng};

/// What was loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub charges: u64,
    pub alerts: i64,
    pub checks: usize,
}

/// Residents read per page.
const PAGE: i64 = 20_000;

struct Places {
    county_hospitals: Vec<i64>,
    centre_of_township: HashMap<String, i64>,
    clinic_of_village: HashMap<String, i64>,
}

async fn places(store: &Store) -> Result<Places> {
    let (all, _) = org::list(store, &org::Filter::default(), 100_000, 0).await?;
    let mut p = Places {
        county_hospitals: Vec::new(),
        centre_of_township: HashMap::new(),
        clinic_of_village: HashMap::new(),
    };
    for i in all {
        match i.kind {
            InstitutionKind::CountyHospital | InstitutionKind::TcmHospital => {
                p.county_hospitals.push(i.id)
            }
            InstitutionKind::TownshipHealthCentre => {
                p.centre_of_township
                    .insert(i.division.as_str().to_owned(), i.id);
            }
            InstitutionKind::VillageClinic => {
                p.clinic_of_village
                    .insert(i.division.as_str().to_owned(), i.id);
            }
            _ => {}
        }
    }
    p.county_hospitals.sort_unstable();
    if p.county_hospitals.is_empty() {
        anyhow::bail!("the demo county has no county hospital");
    }
    Ok(p)
}

fn log_normal(rng: &mut Rng, median_yuan: f64, sigma: f64) -> i64 {
    let yuan = (median_yuan.ln() + sigma * rng.normal()).exp();
    (yuan * 100.0).round().max(100.0) as i64
}

/// A day of `month` no later than `last`.
fn day_in(rng: &mut Rng, month: Month, last: NaiveDate) -> Option<NaiveDate> {
    let end = month.last_day().min(last);
    let first = month.first_day();
    if end < first {
        return None;
    }
    let span = (end - first).num_days() as u64;
    Some(first + Duration::days(rng.between(0, span) as i64))
}

struct Resident {
    id: i64,
    village: String,
    poor: bool,
    age: Option<u32>,
}

/// Load the charges of the 12 months before `today`, run the months' alerts, and check
/// the older alerts.
pub async fn load(store: &Store, seed: u64, today: NaiveDate) -> Result<Summary> {
    let places = places(store).await?;
    let mut rng = Rng::new(seed ^ 0xC057_A1E7);
    let last_month = Month::previous_of(today);
    let first_month = last_month.minus(11);
    let yesterday = today - Duration::days(1);
    let mut summary = Summary::default();
    let mut poor_picks: Vec<Resident> = Vec::new();
    let mut other_picks: Vec<Resident> = Vec::new();
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, String, String, Option<NaiveDate>)> = on_pool!(store, |pool| {
            sqlx::query(
                "SELECT id, division_code, key_groups, birth_date FROM resident \
                 WHERE merged_into IS NULL AND id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, sqlx::Error>((
                    r.col("id")?,
                    r.col("division_code")?,
                    r.col("key_groups")?,
                    r.col("birth_date")?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()
        })?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let mut batch = Vec::new();
        for (id, village, groups, birth) in rows {
            let poor = yiwei_domain::cost_alert::ResidentGroup::from_key_groups(groups.split(','))
                == yiwei_domain::cost_alert::ResidentGroup::PovertyOrMonitored;
            let age = birth.map(|b| yiwei_domain::key_group::age_on(b, today));
            let r = Resident {
                id,
                village,
                poor,
                age,
            };
            background(&mut rng, &places, &r, first_month, yesterday, &mut batch);
            let township = r.village.get(..9).unwrap_or_default().to_owned();
            let picks = if r.poor {
                &mut poor_picks
            } else {
                &mut other_picks
            };
            if picks.len() < 5
                && r.age.is_some_and(|a| a >= 18)
                && !picks
                    .iter()
                    .any(|p| p.village.get(..9).unwrap_or_default() == township)
            {
                picks.push(r);
            }
        }
        summary.charges += cost_alert::insert_generated(store, &batch, "demo").await?;
    }
    summary.charges += inject(
        store,
        &mut rng,
        &places,
        &poor_picks,
        &other_picks,
        last_month,
        yesterday,
    )
    .await?;
    cost_alert::ensure_rules(store, &default_rules()).await?;
    for n in (0..12).rev() {
        cost_alert::run_month(store, last_month.minus(n), None, "demo").await?;
    }
    summary.checks = check_older(store, last_month, today).await?;
    let county = yiwei_domain::division::DivisionCode::parse(COUNTY_CODE)
        .map_err(|e| anyhow::anyhow!("county code: {e}"))?;
    summary.alerts = cost_alert::alerts(
        store,
        &AlertFilter {
            root: county,
            month: None,
            status: None,
            resident_id: None,
        },
        1,
        0,
    )
    .await?
    .1;
    Ok(summary)
}

/// The ordinary visits of one resident over the 12 months.
fn background(
    rng: &mut Rng,
    places: &Places,
    r: &Resident,
    first_month: Month,
    last_day: NaiveDate,
    out: &mut Vec<GeneratedCharge>,
) {
    let age = r.age.unwrap_or(40);
    let outpatient_per_year = match age {
        0..7 => 5.0,
        7..60 => 3.0,
        _ => 6.0,
    };
    let admissions_per_1000 = if age >= 60 { 150 } else { 50 };
    let township = r.village.get(..9).unwrap_or_default();
    let centre = places.centre_of_township.get(township).copied();
    let clinic = places.clinic_of_village.get(&r.village).copied();
    let mut seq = 0;
    for m in 0..12 {
        let month = first_month.plus(m);
        let per_mille = (outpatient_per_year * 1000.0 / 12.0) as u64;
        let visits = u64::from(rng.chance_per_mille(per_mille))
            + u64::from(rng.chance_per_mille(per_mille / 3));
        for _ in 0..visits {
            let Some(date) = day_in(rng, month, last_day) else {
                continue;
            };
            let roll = rng.below(100);
            let (institution, median, sigma, paid_pct) = match (roll, clinic, centre) {
                (0..60, Some(c), _) => (c, 40.0, 0.6, 55),
                (0..90, _, Some(c)) => (c, 120.0, 0.7, 50),
                _ => (*rng.pick(&places.county_hospitals), 300.0, 0.8, 40),
            };
            seq += 1;
            let total = log_normal(rng, median, sigma);
            out.push(charge(
                rng,
                r,
                institution,
                date,
                VisitKind::Outpatient,
                total,
                paid_pct,
                seq,
            ));
        }
        if rng.chance_per_mille(admissions_per_1000 / 12) {
            let Some(date) = day_in(rng, month, last_day) else {
                continue;
            };
            let (institution, median, sigma, mut paid_pct) = match (rng.chance(45), centre) {
                (true, Some(c)) => (c, 2_500.0, 0.5, 85),
                _ => (*rng.pick(&places.county_hospitals), 6_000.0, 0.6, 65),
            };
            if r.poor {
                paid_pct += 10;
            }
            seq += 1;
            let total = log_normal(rng, median, sigma);
            out.push(charge(
                rng,
                r,
                institution,
                date,
                VisitKind::Inpatient,
                total,
                paid_pct.min(95),
                seq,
            ));
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "one charge's fields")]
fn charge(
    rng: &mut Rng,
    r: &Resident,
    institution_id: i64,
    visit_date: NaiveDate,
    kind: VisitKind,
    total_fen: i64,
    paid_pct: i64,
    seq: u32,
) -> GeneratedCharge {
    let paid = total_fen * (paid_pct + rng.between(0, 6) as i64 - 3).clamp(0, 100) / 100;
    let oop = total_fen - paid;
    GeneratedCharge {
        institution_id,
        external_visit_id: format!("D{}-{seq}", r.id),
        visit_date,
        kind,
        total_fen,
        insurance_paid_fen: paid,
        out_of_pocket_fen: oop,
        policy_oop_fen: Some(oop * 6 / 10),
        resident_id: r.id,
        division_code: r.village.clone(),
    }
}

/// The residents made to cross (or sit on) the thresholds, and the unmatched charge.
async fn inject(
    store: &Store,
    rng: &mut Rng,
    places: &Places,
    poor: &[Resident],
    other: &[Resident],
    last_month: Month,
    yesterday: NaiveDate,
) -> Result<u64> {
    let hospital = places.county_hospitals[0];
    let mut rows = Vec::new();
    let mut stay = |r: &Resident, month: Month, total_yuan: i64, paid_pct: i64, tag: &str| {
        if let Some(date) = day_in(rng, month, yesterday) {
            let total = total_yuan * 100;
            let paid = total * paid_pct / 100;
            rows.push(GeneratedCharge {
                institution_id: hospital,
                external_visit_id: format!("ZY-{tag}-{}", r.id),
                visit_date: date,
                kind: VisitKind::Inpatient,
                total_fen: total,
                insurance_paid_fen: paid,
                out_of_pocket_fen: total - paid,
                policy_oop_fen: Some((total - paid) * 6 / 10),
                resident_id: r.id,
                division_code: r.village.clone(),
            });
        }
    };
    // Three 脱贫/监测 residents with a county-hospital stay last month (a fracture, a
    // stroke, a caesarean with complications): total 12,000–30,000 yuan.
    for (r, total) in poor.iter().take(3).zip([12_800, 21_500, 29_300]) {
        stay(r, last_month, total, 80, "A");
    }
    // Two ordinary residents with a large stay (cancer surgery, cardiac stent): total
    // 68,000–95,000 yuan, 38 % out of pocket, above 20,000 yuan.
    for (r, total) in other.iter().take(2).zip([68_000, 95_000]) {
        stay(r, last_month, total, 62, "B");
    }
    // Older alerts, for the checks and the statistics.
    if let Some(r) = poor.get(3) {
        stay(r, last_month.minus(1), 15_600, 80, "C");
    }
    if let Some(r) = other.get(2) {
        stay(r, last_month.minus(2), 72_000, 60, "D");
    }
    if let Some(r) = poor.get(1) {
        stay(r, last_month.minus(3), 18_000, 80, "E");
    }
    // Exactly 10,000.00 yuan: alone not above the threshold.
    if let Some(r) = poor.get(4) {
        let date = day_in(rng, last_month, yesterday);
        if let Some(date) = date {
            rows.push(GeneratedCharge {
                institution_id: hospital,
                external_visit_id: format!("ZY-F-{}", r.id),
                visit_date: date,
                kind: VisitKind::Inpatient,
                total_fen: 1_000_000,
                insurance_paid_fen: 800_000,
                out_of_pocket_fen: 200_000,
                policy_oop_fen: None,
                resident_id: r.id,
                division_code: r.village.clone(),
            });
        }
    }
    let mut n = cost_alert::insert_generated(store, &rows, "demo").await?;
    // An out-of-county patient (Nanning, 450103) the master index does not know: the
    // charge waits in the unmatched queue.
    let body = "45010319780412203";
    let id_card = format!("{body}{}", yiwei_domain::id_card::check_char(body));
    if let Some(date) = day_in(rng, last_month, yesterday)
        && let Ok(charge) = Charge::parse(
            ChargeInput {
                visit_date: date,
                kind: VisitKind::Inpatient,
                total_fen: 350_000,
                insurance_paid_fen: 200_000,
                out_of_pocket_fen: 150_000,
                policy_out_of_pocket_fen: None,
            },
            yesterday,
        )
    {
        let out = cost_alert::submit_charges(
            store,
            &[NewCharge {
                institution_id: hospital,
                external_visit_id: "ZY-OUT-1".into(),
                charge,
                patient: Patient {
                    resident_id: None,
                    id_card: Some(id_card),
                    name: "黄外来".into(),
                },
                source: "demo",
            }],
        )
        .await?;
        n += out.len() as u64;
    }
    Ok(n)
}

/// Check the alerts of the months before the last: assistance applied, already covered,
/// not needed, in turn.
async fn check_older(store: &Store, last_month: Month, today: NaiveDate) -> Result<usize> {
    let county = yiwei_domain::division::DivisionCode::parse(COUNTY_CODE)
        .map_err(|e| anyhow::anyhow!("county code: {e}"))?;
    let (alerts, _) = cost_alert::alerts(
        store,
        &AlertFilter {
            root: county,
            month: None,
            status: Some(yiwei_domain::cost_alert::AlertStatus::Open),
            resident_id: None,
        },
        10_000,
        0,
    )
    .await?;
    let who = Who {
        username: Some("demo".into()),
        role: Some("system".into()),
        ..Who::default()
    };
    let outcomes = [
        (CheckOutcome::AssistanceApplied, "已协助申请医疗救助"),
        (
            CheckOutcome::AlreadyCovered,
            "已享受先诊疗后付费和一站式结算",
        ),
        (
            CheckOutcome::NotNeeded,
            "家庭收入稳定，子女务工，无返贫风险",
        ),
    ];
    let mut n = 0;
    for a in alerts {
        let Some(month) = Month::parse(&a.month) else {
            continue;
        };
        if month >= last_month {
            continue;
        }
        let (outcome, note) = outcomes[n % outcomes.len()];
        let checked_on = (month.last_day() + Duration::days(6)).min(today);
        let input = CheckInput {
            outcome,
            note: note.into(),
            checked_on,
        };
        let event = Event::new(who.clone(), Action::Update).basis("demo");
        cost_alert::record_check(store, a.id, a.version, &input, None, today, event)
            .await
            .map_err(|e| anyhow::anyhow!("demo check of alert {}: {e}", a.id))?;
        n += 1;
    }
    Ok(n)
}
