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
//! Patients are drawn from the records of the township by each disease's age mix
//! ([`AGE_MIX`]: 手足口病 among children under 6, mumps and varicella among pupils, TB,
//! hepatitis B and syphilis among adults, …; rough shapes of China's notifiable-disease
//! reports, not figures of any county); the kindergarten, banquet and school outbreaks draw
//! from the ages they name. A child's card carries the parent's phone from the record;
//! cards whose rules the record still cannot satisfy are skipped and counted.

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

/// Age bands (years, inclusive lower bound) the patients are drawn from.
const BANDS: [u32; 5] = [0, 6, 15, 25, 60];

/// The band of an age.
fn band_of(age: u32) -> usize {
    BANDS.iter().rposition(|&from| age >= from).unwrap_or(0)
}

/// Weights of the bands 0–5, 6–14, 15–24, 25–59, 60+ per disease (any other: the
/// population's own mix).
const AGE_MIX: &[(&str, [u32; 5])] = &[
    ("hfmd", [90, 9, 1, 0, 0]),
    ("influenza", [25, 35, 10, 15, 15]),
    ("other_diarrhoea", [40, 10, 10, 20, 20]),
    ("tb", [0, 1, 9, 50, 40]),
    ("hepatitis", [0, 1, 9, 65, 25]),
    ("syphilis", [0, 0, 10, 50, 40]),
    ("varicella", [30, 60, 8, 2, 0]),
    ("mumps", [20, 70, 8, 2, 0]),
    ("gonorrhoea", [0, 0, 30, 70, 0]),
    ("dysentery", [30, 10, 5, 30, 25]),
    ("ahc", [5, 45, 20, 25, 5]),
    ("cholera", [0, 5, 10, 60, 25]),
];

/// The age mix of an injected outbreak: kindergarten children, banquet guests, pupils.
const KINDERGARTEN: [u32; 5] = [100, 0, 0, 0, 0];
const BANQUET: [u32; 5] = [5, 10, 10, 45, 30];
const SCHOOL: [u32; 5] = [0, 100, 0, 0, 0];

/// A band by its weight among the bands that have residents (`sizes`), with `draw(n)` a
/// uniform draw below `n`; when no band with weight has residents, the first non-empty
/// band; `None` when there is nobody.
fn pick_band(mix: [u32; 5], sizes: [usize; 5], draw: impl FnOnce(u64) -> u64) -> Option<usize> {
    let weight = |i: usize| if sizes[i] == 0 { 0 } else { mix[i] };
    let total: u32 = (0..5).map(weight).sum();
    if total == 0 {
        return (0..5).find(|&i| sizes[i] > 0);
    }
    let mut pick = draw(u64::from(total)) as u32;
    (0..5).find(|&i| {
        let w = weight(i);
        if pick < w {
            true
        } else {
            pick -= w;
            false
        }
    })
}

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
    // Per township, the resident ids in each age band (as of today).
    let mut residents: Vec<[Vec<i64>; 5]> = Vec::new();
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
        let mut bands: [Vec<i64>; 5] = Default::default();
        for (id, birth) in yiwei_store::notifiable::residents_within(store, t).await? {
            let age = birth.map_or(40, |b| yiwei_domain::key_group::age_on(b, today));
            bands[band_of(age)].push(id);
        }
        residents.push(bands);
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
                day: NaiveDate,
                mix: Option<[u32; 5]>| {
        let Some(bands) = residents.get(t) else {
            return;
        };
        let mix = mix
            .or_else(|| AGE_MIX.iter().find(|m| m.0 == disease).map(|m| m.1))
            .unwrap_or_else(|| bands.each_ref().map(|b| b.len() as u32));
        let sizes = bands.each_ref().map(Vec::len);
        let Some(band) = pick_band(mix, sizes, |n| rng.below(n)) else {
            return;
        };
        let r = &bands[band];
        let resident_id = r[rng.below(r.len() as u64) as usize];
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
                    push(&mut rng, &mut batch, t, code, *subtype, day, None);
                }
            }
        }
        // Outbreaks.
        let ago = (today - day).num_days();
        if (9..14).contains(&ago) {
            for _ in 0..3 {
                push(
                    &mut rng,
                    &mut batch,
                    0,
                    "hfmd",
                    None,
                    day,
                    Some(KINDERGARTEN),
                );
            }
        }
        if (20..23).contains(&ago) && n_town > 1 {
            for _ in 0..5 {
                push(
                    &mut rng,
                    &mut batch,
                    1,
                    "other_diarrhoea",
                    None,
                    day,
                    Some(BANQUET),
                );
            }
        }
        if (35..39).contains(&ago) && n_town > 2 {
            for _ in 0..6 {
                push(
                    &mut rng,
                    &mut batch,
                    2,
                    "influenza",
                    None,
                    day,
                    Some(SCHOOL),
                );
            }
        }
        if ago == 4 {
            push(&mut rng, &mut batch, 0, "cholera", None, day, None);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_fall_in_their_bands() {
        let cases = [
            (0, 0),
            (5, 0),
            (6, 1),
            (14, 1),
            (15, 2),
            (24, 2),
            (25, 3),
            (59, 3),
            (60, 4),
            (101, 4),
        ];
        for (age, band) in cases {
            assert_eq!(band_of(age), band, "{age}");
        }
    }

    #[test]
    fn bands_are_picked_by_weight_among_those_with_residents() {
        let everyone = [10, 10, 10, 10, 10];
        // Every draw below the total lands in the band whose share holds it.
        let hfmd = AGE_MIX.iter().find(|m| m.0 == "hfmd").unwrap().1;
        let picks: Vec<usize> = (0..100)
            .map(|d| {
                pick_band(hfmd, everyone, |n| {
                    assert_eq!(n, 100);
                    d
                })
                .unwrap()
            })
            .collect();
        assert_eq!(picks.iter().filter(|&&b| b == 0).count(), 90);
        assert_eq!(picks.iter().filter(|&&b| b == 1).count(), 9);
        assert_eq!(picks.iter().filter(|&&b| b == 2).count(), 1);
        // An empty band takes no share; no child at all falls back to someone.
        let no_toddlers = [0, 10, 10, 10, 10];
        assert_eq!(pick_band(KINDERGARTEN, no_toddlers, |_| 0), Some(1));
        assert_eq!(pick_band(hfmd, no_toddlers, |n| n - 1), Some(2));
        assert_eq!(pick_band(hfmd, [0; 5], |_| 0), None);
    }
}
