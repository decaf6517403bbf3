//! Trained match weights (`empi::train`, `save_weights`, `matcher`): a county trains `m` and
//! `u` on its own residents, the matcher uses them, degenerate weights and too little data
//! are refused; on both backends.

use chrono::NaiveDate;
use yiwei_domain::empi::{Level, Thresholds, Weights};
use yiwei_store::audit::{self, Filter, Who};
use yiwei_store::empi::{self, Training};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::{Store, StoreError};

use crate::support::{County, int, new_resident};

fn trainer() -> Who {
    Who {
        username: Some("trainer".into()),
        role: Some("county_admin".into()),
        ..Who::default()
    }
}

/// A fixed xorshift64 generator, so the population is the same every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

const SURNAMES: &[&str] = &["韦", "覃", "蒙", "谭", "卢", "莫", "吴", "黄", "罗", "潘"];
const GIVEN: &[&str] = &[
    "建国", "秀英", "丽华", "志强", "春燕", "海燕", "明", "娜", "桂兰", "金凤", "永生", "德华",
    "小红", "文", "玉梅", "国庆", "晓东", "美玲",
];

/// `people` residents of the fixture's villages, and for one in `dup_every` of them a second
/// record of the same person as another institution typed it: no ID card, the same phone
/// most of the time, now and then a birth-date digit mistyped or a homophone of the name.
fn population(county: &County, people: usize, dup_every: usize) -> Vec<NewResident> {
    let villages = [&county.village_a1, &county.village_a2, &county.village_b1];
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut out = Vec::new();
    for i in 0..people {
        let name = format!(
            "{}{}",
            SURNAMES[rng.below(SURNAMES.len() as u64) as usize],
            GIVEN[rng.below(GIVEN.len() as u64) as usize]
        );
        let sex = if rng.below(2) == 0 { "male" } else { "female" };
        let birth = NaiveDate::from_ymd_opt(
            1940 + rng.below(70) as i32,
            1 + rng.below(12) as u32,
            1 + rng.below(28) as u32,
        );
        let village = villages[rng.below(3) as usize];
        let phone = format!("139{:08}", 10_000_000 + i);
        let mut r = new_resident(village, &name, sex, None, Some(&phone));
        r.birth_date = birth;
        r.details.address = format!("{}组{}号", 1 + rng.below(9), 1 + rng.below(60));
        out.push(r.clone());
        if i % dup_every == 0 {
            let mut copy = r;
            if rng.below(10) < 3 {
                copy.phone = None;
            }
            if rng.below(10) < 2 {
                copy.birth_date = copy
                    .birth_date
                    .and_then(|d| d.with_day(if d.day() == 9 { 19 } else { 9 }));
            }
            if rng.below(10) < 2 {
                copy.name = copy.name.replacen('韦', "伟", 1).replacen('覃', "秦", 1);
            }
            if rng.below(10) < 4 {
                copy.details.address = String::new();
            }
            out.push(copy);
        }
    }
    out
}

use chrono::Datelike;

conformance!(a_county_trains_saves_and_matches_with_its_own_weights);
async fn a_county_trains_saves_and_matches_with_its_own_weights(store: Store) {
    let county = County::build(&store).await;
    let before = empi::matcher(&store).await.expect("matcher");
    assert_eq!(
        before,
        empi::Matcher::default(),
        "no saved weights: the defaults"
    );
    assert!(empi::saved_weights(&store).await.expect("saved").is_none());

    let people = population(&county, 900, 4);
    resident::insert_batch(&store, &people, &trainer())
        .await
        .expect("insert");
    let training = empi::train(&store, 20_000).await.expect("train");
    let t = &training.trained;
    // The fixture's residents count too.
    assert!(training.residents >= people.len() as i64);
    assert!(t.prior > 0.0 && t.prior < 1e-2, "prior {}", t.prior);
    assert_eq!(t.thresholds, Thresholds::from_prior(t.prior));
    // Names and birth dates were learnt; nobody has an ID card, so its default stays.
    assert!(
        t.estimated(yiwei_domain::empi::FieldName::Name),
        "{:?}",
        t.sessions
    );
    assert!(t.estimated(yiwei_domain::empi::FieldName::BirthDate));
    assert!(!t.estimated(yiwei_domain::empi::FieldName::IdCard));
    assert_eq!(t.weights.id_card, Weights::default().id_card);
    assert!(t.weights.name.weight(Level::Exact) > t.weights.name.weight(Level::Disagree));
    // Training repeats: the same residents give the same weights.
    let again = empi::train(&store, 20_000).await.expect("train again");
    assert_eq!(again, training);

    let id = empi::save_weights(&store, &training, &trainer())
        .await
        .expect("save");
    let saved = empi::saved_weights(&store)
        .await
        .expect("saved")
        .expect("a row");
    assert_eq!(saved.id, id);
    // Every probability as trained (JSON keeps them to the last digit or so).
    let close = |a: &Weights, b: &Weights| {
        yiwei_domain::empi::em::FIELDS.iter().all(|f| {
            let (x, y) = (a.field(*f), b.field(*f));
            [
                (x.exact, y.exact),
                (x.close, y.close),
                (x.disagree, y.disagree),
            ]
            .iter()
            .all(|(p, q)| (p.m - q.m).abs() < 1e-12 && (p.u - q.u).abs() < 1e-12)
        })
    };
    assert!(close(&saved.weights, &t.weights), "{saved:?}");
    assert_eq!(
        (saved.review, saved.link),
        (t.thresholds.review, t.thresholds.link)
    );
    let m = empi::matcher(&store).await.expect("matcher");
    assert_eq!(m.trained, Some(id));
    assert_eq!(m.weights, saved.weights);

    // The matcher scores with the saved weights, and the explanation shows each of them.
    let probe = people[1].clone();
    let scored = empi::candidates(&store, &probe).await.expect("candidates");
    let (_, best) = scored.first().expect("a candidate");
    for c in &best.comparisons {
        let w = saved.weights.field(c.field).weight(c.level);
        assert!(
            c.weight == w || c.weight == 0.0,
            "{:?} {:?}: {} vs {w}",
            c.field,
            c.level,
            c.weight
        );
    }
    let explained = empi::explain(best);
    assert!(explained.contains("\"fields\""), "{explained}");

    // The training is audited, without personal data.
    let entries = audit::list(&store, &Filter::default(), 5, 0)
        .await
        .expect("audit");
    let e = entries
        .iter()
        .find(|e| e.event.object_type.as_deref() == Some("match_weights"))
        .expect("an audit entry for the training");
    assert_eq!(e.event.object_id.as_deref(), Some(id.to_string().as_str()));
    let reason = e.event.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("empi train"), "{reason}");
    assert!(!reason.contains(&people[1].name), "{reason}");
    assert_eq!(
        int(&store, "SELECT COUNT(*) FROM match_weights").await,
        1,
        "one row"
    );
}

conformance!(degenerate_weights_and_too_little_data_are_refused);
async fn degenerate_weights_and_too_little_data_are_refused(store: Store) {
    let county = County::build(&store).await;
    // The fixture's few residents: nothing to learn from.
    let err = empi::train(&store, 20_000).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("refused") || m.contains("too few")),
        "{err}"
    );

    let people = population(&county, 900, 4);
    resident::insert_batch(&store, &people, &trainer())
        .await
        .expect("insert");
    let mut training: Training = empi::train(&store, 20_000).await.expect("train");
    // Agreement on an address made to weigh less than disagreement.
    let address = &mut training.trained.weights.address;
    std::mem::swap(&mut address.exact, &mut address.disagree);
    let err = empi::save_weights(&store, &training, &trainer())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("degenerate") && m.contains("address")),
        "{err}"
    );
    assert_eq!(int(&store, "SELECT COUNT(*) FROM match_weights").await, 0);
    assert_eq!(empi::matcher(&store).await.expect("matcher").trained, None);
}
