//! Three years of notifiable-disease cases for the demo county, with seasons and a few
//! injected outbreaks, then the warning run over the last weeks so signals exist.
//!
//! Basis of the figures (order of magnitude, not any county's real data): China reports
//! roughly 700 class B and C cases per 100,000 people a year (国家卫生健康委 法定传染病疫情
//! 概况, 2015–2019 annual totals around 6.4–10 million cases for 1.4 billion people); a
//! county-level review in `shared/context.md` counts 8,303 cases in a year (4,163 乙类,
//! 4,140 丙类) for a population several times the demo's. The demo county is sized at
//! 370,000 residents (its 常住人口 is set to that, split evenly over the townships, so
//! incidence reads per 100,000) and gets about 690 cases per 100,000 a year:
//!
//! | disease | per 100,000 a year | season |
//! |---|---|---|
//! | 手足口病 hfmd | 200 | peaks in April–June and a smaller one in September–October (southern China) |
//! | 流行性感冒 influenza | 150 | winter, December–February |
//! | 其他感染性腹泻 other_diarrhoea | 120 | summer, July–August |
//! | 肺结核 tb | 60 | none |
//! | 乙肝 hepatitis/hbv | 55 | none |
//! | 梅毒 syphilis | 30 | none |
//! | 水痘 varicella | 40 | winter–spring |
//! | 流行性腮腺炎 mumps | 15 | spring |
//! | 淋病 gonorrhoea | 10 | none |
//! | 细菌性痢疾 dysentery | 5 | summer |
//! | 急性出血性结膜炎 ahc | 5 | September |
//!
//! Injected outbreaks, so that warnings fire where an epidemiologist expects: a 手足口病
//! cluster in a kindergarten of the first township (14 cases over 5 days ending 9 days
//! ago), a diarrhoea cluster after a village banquet in the second township (16 cases in
//! 3 days, 20 days ago), an influenza outbreak in a school of the third township (22 cases
//! over 4 days, 35 days ago), and one cholera case 4 days ago (the fixed threshold).
//!
//! Patients are drawn at random from the records of the township, so the age mix of a
//! disease is not realistic (手足口病 among adults); cards whose rules the record cannot
//! satisfy (a child with no phone on record) are skipped and counted.

use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::notifiable::CaseClass;
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::Who;
use yiwei_store::notifiable::{HistoryCase, Settings};
use yiwei_store::{Store, division, org};

use crate::demo::Rng;

/// The demo county's population (常住人口).
pub const POPULATION: i64 = 370_000;
/// How many days of cases (three years and two months, so the moving percentile method,
/// which needs three full years behind a day, can run over the last weeks).
pub const DAYS: i64 = 3 * 365 + 60;
/// How many recent days the warning run evaluates after loading.
pub const WARNING_DAYS: u32 = 60;

/// (code, subtype, per 100,000 a year, peak months with their weight).
/// (month, weight) of a season.
type Peaks = &'static [(u32, f64)];

const DISEASES: &[(&str, Option<&str>, f64, Peaks)] = &[
    (
        "hfmd",
        None,
        200.0,
        &[(4, 1.8), (5, 2.6), (6, 2.2), (9, 1.3), (10, 1.3)],
    ),
    ("influenza", None, 150.0, &[(12, 2.5), (1, 3.0), (2, 2.2)]),
    (
        "other_diarrhoea",
        None,
        120.0,
        &[(7, 2.4), (8, 2.4), (6, 1.5)],
    ),
    ("tb", Some("bacteriology_positive"), 60.0, &[]),
    ("hepatitis", Some("hbv"), 55.0, &[]),
    ("syphilis", Some("latent"), 30.0, &[]),
    (
        "varicella",
        None,
        40.0,
        &[(12, 1.8), (1, 1.8), (3, 1.8), (4, 1.6)],
    ),
    ("mumps", None, 15.0, &[(3, 1.8), (4, 2.0), (5, 1.8)]),
    ("gonorrhoea", None, 10.0, &[]),
    ("dysentery", Some("bacillary"), 5.0, &[(7, 2.0), (8, 2.0)]),
    ("ahc", None, 5.0, &[(9, 3.0)]),
];

/// The relative weight of `month` for a disease (1 outside the peaks, normalised so the
/// year sums to 12).
fn season(peaks: &[(u32, f64)], month: u32) -> f64 {
    let total: f64 = (1..=12)
        .map(|m| peaks.iter().find(|p| p.0 == m).map_or(1.0, |p| p.1))
        .sum();
    let w = peaks.iter().find(|p| p.0 == month).map_or(1.0, |p| p.1);
    w * 12.0 / total
}

/// A Poisson draw (Knuth's method; the means here are small).
fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= (rng.below(1 << 30) as f64 + 0.5) / f64::from(1u32 << 30);
        if p <= limit || k > 1000 {
            return k;
        }
        k += 1;
    }
}

/// What the loader did.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub written: usize,
    pub skipped: usize,
    pub signals: usize,
}

/// Load the cases into the demo county and run the warning job over the last
/// [`WARNING_DAYS`] days. `today` is the county's local date.
pub async fn load(
    store: &Store,
    county: &DivisionCode,
    townships: &[DivisionCode],
    today: NaiveDate,
    seed: u64,
) -> Result<Loaded> {
    if townships.is_empty() {
        return Ok(Loaded::default());
    }
    let per_township = POPULATION / townships.len() as i64;
    let first = today - Duration::days(DAYS);
    for year in first.year()..=today.year() {
        for t in townships {
            division::set_population(store, t, year, per_township).await?;
        }
        division::set_population(store, county, year, per_township * townships.len() as i64)
            .await?;
    }
    // Residents (ids only) and the reporting institution of each township.
    let mut residents: Vec<Vec<i64>> = Vec::new();
    let mut reporters: Vec<i64> = Vec::new();
    let hospital = org::list(
        store,
        &org::Filter {
            kind: Some(InstitutionKind::CountyHospital),
            ..Default::default()
        },
        1,
        0,
    )
    .await?
    .0
    .first()
    .map(|i| i.id);
    for t in townships {
        let ids = yiwei_store::notifiable::resident_ids_within(store, t).await?;
        residents.push(ids);
        let centre = org::list(
            store,
            &org::Filter {
                within: Some(t.clone()),
                kind: Some(InstitutionKind::TownshipHealthCentre),
                ..Default::default()
            },
            1,
            0,
        )
        .await?
        .0
        .first()
        .map(|i| i.id);
        reporters.push(centre.or(hospital).unwrap_or_default());
    }
    let settings = Settings::new(county.clone());
    let by = Who {
        username: Some("demo".into()),
        role: Some("system".into()),
        ..Who::default()
    };
    let mut rng = Rng::new(seed ^ 0x5EED_CA5E);
    let mut batch: Vec<HistoryCase> = Vec::new();
    let mut loaded = Loaded::default();
    let push = |rng: &mut Rng,
                batch: &mut Vec<HistoryCase>,
                t: usize,
                disease: &str,
                subtype: Option<&str>,
                day: NaiveDate| {
        let Some(&resident_id) = residents
            .get(t)
            .and_then(|r| (!r.is_empty()).then(|| &r[rng.below(r.len() as u64) as usize]))
        else {
            return;
        };
        let hour = rng.between(8, 17) as u32;
        let diagnosed_at = day
            .and_hms_opt(hour, rng.below(60) as u32, 0)
            .unwrap_or_default();
        // Most cards reach the system within the hour; about one in twenty the next day.
        let delay = if rng.chance(5) {
            Duration::hours(rng.between(25, 40) as i64)
        } else {
            Duration::minutes(rng.between(10, 300) as i64)
        };
        let reported_at = settings.to_utc(diagnosed_at) + delay;
        let reported_at = reported_at.min(Utc::now() - Duration::minutes(1));
        let (case_class, course) = match disease {
            "hepatitis" => (
                CaseClass::Confirmed,
                Some(yiwei_domain::notifiable::Course::Chronic),
            ),
            "tb" | "syphilis" | "gonorrhoea" => (CaseClass::Confirmed, None),
            _ => (CaseClass::Clinical, None),
        };
        batch.push(HistoryCase {
            resident_id,
            institution_id: reporters[t],
            disease: disease.to_owned(),
            subtype: subtype.map(str::to_owned),
            case_class,
            course,
            onset_date: day - Duration::days(rng.below(3) as i64),
            diagnosed_at,
            reported_at,
            doctor: "演示医生".into(),
        });
    };
    let n_town = townships.len();
    for offset in 0..DAYS {
        let day = first + Duration::days(offset);
        if day >= today {
            break;
        }
        for (code, subtype, rate, peaks) in DISEASES {
            let mean_county =
                rate * POPULATION as f64 / 100_000.0 / 365.0 * season(peaks, day.month());
            for t in 0..n_town {
                for _ in 0..poisson(&mut rng, mean_county / n_town as f64) {
                    push(&mut rng, &mut batch, t, code, *subtype, day);
                }
            }
        }
        // Outbreaks.
        let ago = (today - day).num_days();
        if (9..14).contains(&ago) {
            for _ in 0..3 {
                push(&mut rng, &mut batch, 0, "hfmd", None, day);
            }
        }
        if (20..23).contains(&ago) && n_town > 1 {
            for _ in 0..5 {
                push(&mut rng, &mut batch, 1, "other_diarrhoea", None, day);
            }
        }
        if (35..39).contains(&ago) && n_town > 2 {
            for _ in 0..6 {
                push(&mut rng, &mut batch, 2, "influenza", None, day);
            }
        }
        if ago == 4 {
            push(&mut rng, &mut batch, 0, "cholera", None, day);
        }
        if batch.len() >= 500 {
            let (w, s) =
                yiwei_store::notifiable::insert_history_batch(store, &settings, &batch, &by)
                    .await?;
            loaded.written += w;
            loaded.skipped += s;
            batch.clear();
        }
    }
    let (w, s) =
        yiwei_store::notifiable::insert_history_batch(store, &settings, &batch, &by).await?;
    loaded.written += w;
    loaded.skipped += s;

    let config = crate::warning::WarningConfig::default();
    for back in (1..=i64::from(WARNING_DAYS)).rev() {
        let summary =
            crate::warning::run_day(store, &config, county, today - Duration::days(back)).await?;
        loaded.signals += summary.raised;
    }
    Ok(loaded)
}
