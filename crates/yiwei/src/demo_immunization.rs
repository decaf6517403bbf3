//! The demo county's vaccination records (预防接种): every child aged 0–14 on the reference
//! day gets the doses of the national schedule, given at the township health centre's
//! vaccination clinic (接种门诊), with realistic coverage and timeliness.
//!
//! Each child's history is simulated visit by visit ([`doses_for`]): at each visit the
//! doses due or overdue under the edition in force that day (`vaccine_due`) are given
//! together, each checked with `check_dose`, so every generated dose fits the schedule the
//! store enforces. A child born before the first edition modelled (2021) is vaccinated
//! under it, as the store checks such doses too. What varies, from a seed per child (the
//! run's seed and the resident id, so a county is the same on every build):
//!
//! - **Timeliness.** Birth doses the same day (90%) or the next; later visits 0–10 days
//!   after the dose falls due (75%), 11–30 days (17%) or 31–150 days (8%).
//! - **Coverage.** The reviews cite 97.08% coverage of the programme's vaccines
//!   (`shared/context.md`). Here 2% of children get their birth doses only (moved away,
//!   refusal, contraindication), and at each later dose a child stops that series with
//!   probability 0.8% (a missed appointment never caught up). Over the basic doses of the
//!   first two years (HepB 1 and 3, BCG, polio 1 and 3, DTaP 1 and 3, MMR 1, JE 1, MPSV-A
//!   1 and 2) of children aged 2 or more that gives about 97% (97.3% in the test).
//! - **Products.** The live JE and hepatitis A vaccines (the first of each choice), lots
//!   and manufacturers from the producers that supply the programme (B), sites as the
//!   schedule's instructions give them.
//!
//! Written with `yiwei_store::immunization::insert_batch`: multi-row INSERTs and one audit
//! event per batch; children are read a page at a time, never the whole county.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use chrono::{Datelike, Duration, Months, NaiveDate};
use yiwei_domain::programme::Status;
use yiwei_domain::programme::immunization::{
    Dose, Edition, Vaccine, check_dose, editions, vaccine_due,
};
use yiwei_domain::ws365::Sex;
use yiwei_store::Store;
use yiwei_store::audit::Who;
use yiwei_store::immunization::{self, BulkDose, edition_for};
use yiwei_store::org;

use crate::demo::Rng;

/// Doses per bulk transaction.
const BATCH: usize = 5_000;
/// Children read per page.
const PAGE: i64 = 2_000;

/// What [`generate`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub children: u64,
    pub doses: u64,
}

/// The seed of one child's history.
fn child_seed(seed: u64, resident_id: i64) -> u64 {
    seed ^ (resident_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x1A2B_3C4D
}

/// Days after the dose falls due that it is given.
fn delay(rng: &mut Rng, at_birth: bool) -> i64 {
    if at_birth {
        return i64::from(!rng.chance(90));
    }
    match rng.weighted(&[75, 17, 8]) {
        0 => rng.between(0, 10) as i64,
        1 => rng.between(11, 30) as i64,
        _ => rng.between(31, 150) as i64,
    }
}

/// One child's doses up to `today`, in date order (see the module docs).
pub fn doses_for(
    editions: &[Edition],
    birth: NaiveDate,
    sex: Option<Sex>,
    today: NaiveDate,
    rng: &mut Rng,
) -> Vec<Dose> {
    let mut given: Vec<Dose> = Vec::new();
    let birth_doses_only = rng.chance_per_mille(20);
    let mut stopped: HashSet<&'static str> = HashSet::new();
    let mut t = birth;
    // A child has at most about 25 visits before 15; the bound only guards the loop.
    for visit in 0..80 {
        if t > today {
            break;
        }
        let Some(edition) = edition_for(editions, t) else {
            break;
        };
        let next = vaccine_due(edition, birth, sex, &given, t)
            .into_iter()
            .filter(|d| d.status != Status::Missed && !stopped.contains(d.series))
            .map(|d| d.due_from)
            .min();
        let Some(next) = next else { break };
        let day = next.max(t) + Duration::days(delay(rng, next == birth));
        if day > today {
            break;
        }
        let Some(edition) = edition_for(editions, day) else {
            break;
        };
        for due in vaccine_due(edition, birth, sex, &given, day) {
            if !matches!(due.status, Status::Due | Status::Overdue) || stopped.contains(due.series)
            {
                continue;
            }
            if visit > 0 && rng.chance_per_mille(8) {
                stopped.insert(due.series);
                continue;
            }
            let dose = Dose {
                vaccine: due.vaccine,
                date: day,
            };
            if check_dose(edition, birth, sex, &given, dose).is_empty() {
                given.push(dose);
            }
        }
        if birth_doses_only {
            break;
        }
        t = day + Duration::days(1);
    }
    given
}

fn manufacturers(v: Vaccine) -> &'static [&'static str] {
    match v {
        Vaccine::HepB => &["深圳康泰生物制品", "大连汉信生物制药", "北京天坛生物制品"],
        Vaccine::Bcg => &["上海生物制品研究所", "成都生物制品研究所"],
        Vaccine::Ipv => &["北京科兴生物制品", "中国医学科学院医学生物学研究所"],
        Vaccine::Bopv => &["中国医学科学院医学生物学研究所", "北京生物制品研究所"],
        Vaccine::Dtap | Vaccine::Dt => &["武汉生物制品研究所", "成都生物制品研究所"],
        Vaccine::Mmr => &["北京生物制品研究所", "上海生物制品研究所"],
        Vaccine::JeLive => &["成都生物制品研究所"],
        Vaccine::JeInactivated => &["辽宁成大生物"],
        Vaccine::MenA | Vaccine::MenAc => &["兰州生物制品研究所", "玉溪沃森生物技术"],
        Vaccine::HepALive => &["长春生物制品研究所", "浙江普康生物技术"],
        Vaccine::HepAInactivated => &["北京科兴生物制品"],
        Vaccine::Hpv2 => &["厦门万泰沧海生物技术"],
    }
}

fn site(v: Vaccine, rng: &mut Rng) -> &'static str {
    let left = rng.chance(50);
    match v {
        Vaccine::Bopv => "口服",
        Vaccine::Bcg => "左上臂三角肌外下缘",
        Vaccine::Mmr | Vaccine::JeLive | Vaccine::HepALive | Vaccine::MenA | Vaccine::MenAc => {
            if left {
                "左上臂外侧三角肌下缘"
            } else {
                "右上臂外侧三角肌下缘"
            }
        }
        _ => {
            if left {
                "左上臂三角肌"
            } else {
                "右上臂三角肌"
            }
        }
    }
}

/// A lot number of a batch made some months before `given_on`: `YYYYMM` + letter + serial.
fn lot(given_on: NaiveDate, rng: &mut Rng) -> String {
    let made = given_on
        .checked_sub_months(Months::new(rng.between(2, 10) as u32))
        .unwrap_or(given_on);
    let letter = char::from(b'A' + rng.below(6) as u8);
    format!(
        "{}{:02}{letter}{:03}",
        made.year(),
        made.month(),
        rng.between(1, 120)
    )
}

/// Give every child of the store aged 0–14 on `today` their doses; see the module docs.
pub async fn generate(store: &Store, seed: u64, today: NaiveDate, by: &Who) -> Result<Summary> {
    let born_from = today
        .checked_sub_months(Months::new(15 * 12))
        .context("the reference day is too early")?
        + Duration::days(1);
    let editions = editions();
    // The township health centre of each township (its vaccination clinic), by code.
    let mut clinics: HashMap<String, Option<i64>> = HashMap::new();
    let mut batch: Vec<BulkDose> = Vec::with_capacity(BATCH);
    let mut summary = Summary::default();
    let mut after = 0;
    loop {
        let page = immunization::children_born_since(store, born_from, after, PAGE)
            .await
            .context("cannot read the demo county's children")?;
        let Some(last) = page.last() else { break };
        after = last.resident_id;
        for child in &page {
            let township = child
                .division
                .as_str()
                .get(..9)
                .unwrap_or_default()
                .to_owned();
            let clinic = match clinics.get(&township) {
                Some(id) => *id,
                None => {
                    let code = format!("451226-T{}", township.get(6..).unwrap_or_default());
                    let id = org::by_code(store, &code).await.ok().map(|i| i.id);
                    clinics.insert(township, id);
                    id
                }
            };
            let mut rng = Rng::new(child_seed(seed, child.resident_id));
            let doses = doses_for(&editions, child.birth, child.sex, today, &mut rng);
            summary.children += 1;
            for dose in doses {
                let makers = manufacturers(dose.vaccine);
                batch.push(BulkDose {
                    resident_id: child.resident_id,
                    division: child.division.clone(),
                    vaccine: dose.vaccine,
                    given_on: dose.date,
                    lot: lot(dose.date, &mut rng),
                    manufacturer: (*rng.pick(makers)).to_owned(),
                    site: site(dose.vaccine, &mut rng).to_owned(),
                    institution_id: clinic,
                });
            }
            if batch.len() >= BATCH {
                summary.doses += immunization::insert_batch(store, &batch, by)
                    .await
                    .context("cannot bulk-load a batch of doses")?;
                batch.clear();
            }
        }
    }
    summary.doses += immunization::insert_batch(store, &batch, by)
        .await
        .context("cannot bulk-load a batch of doses")?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// The basic doses of the first two years: (products, dose count).
    const BASIC: &[(&[Vaccine], usize)] = &[
        (&[Vaccine::HepB], 1),
        (&[Vaccine::HepB], 3),
        (&[Vaccine::Bcg], 1),
        (&[Vaccine::Ipv, Vaccine::Bopv], 1),
        (&[Vaccine::Ipv, Vaccine::Bopv], 3),
        (&[Vaccine::Dtap], 1),
        (&[Vaccine::Dtap], 3),
        (&[Vaccine::Mmr], 1),
        (&[Vaccine::JeLive], 1),
        (&[Vaccine::MenA], 1),
        (&[Vaccine::MenA], 2),
    ];

    #[test]
    fn histories_fit_the_schedule_are_deterministic_and_reach_about_97_percent() {
        let editions = editions();
        let today = d(2026, 1, 1);
        let (mut due_total, mut due_given) = (0u64, 0u64);
        for k in 0..1500u64 {
            let birth = d(2012, 1, 2) + Duration::days((k * 3) as i64 % 5000);
            let sex = Some(if k % 2 == 0 { Sex::Male } else { Sex::Female });
            let mut rng = Rng::new(child_seed(7, k as i64));
            let doses = doses_for(&editions, birth, sex, today, &mut rng);
            let again = doses_for(
                &editions,
                birth,
                sex,
                today,
                &mut Rng::new(child_seed(7, k as i64)),
            );
            assert_eq!(doses, again, "deterministic");
            // Every dose passes the store's check against the doses before it.
            for (i, dose) in doses.iter().enumerate() {
                let e = edition_for(&editions, dose.date).unwrap();
                assert_eq!(
                    check_dose(e, birth, sex, &doses[..i], *dose),
                    [],
                    "child {k} born {birth}: {dose:?}"
                );
                assert!(dose.date <= today);
            }
            // Coverage of the basic doses (基础免疫) among children aged 2 or more: a
            // child counts for a dose when they have at least that many of the vaccine.
            if birth + Duration::days(2 * 366) <= today {
                for (products, count) in BASIC {
                    let n = doses
                        .iter()
                        .filter(|x| products.contains(&x.vaccine))
                        .count();
                    due_total += 1;
                    due_given += u64::from(n >= *count);
                }
            }
        }
        let coverage = due_given as f64 / due_total as f64;
        assert!(
            (0.96..0.985).contains(&coverage),
            "coverage {coverage:.4} ({due_given} of {due_total})"
        );
    }
}
