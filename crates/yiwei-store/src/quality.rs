//! EHR quality (规范化电子健康档案): run the rule set of `yiwei_domain::ehr_quality` over
//! every record of a division, for the village doctor's fix-it list and for the county's
//! record indicators:
//!
//! - 建档率 = records / 常住居民数 (the population is configuration per division; without it
//!   the rate is not shown rather than guessed);
//! - 规范化建档率 = standardised records / 常住居民数;
//! - 档案使用率 = records with a 动态记录 (an exam or visit in the last 365 days) / records
//!   (国家基本公共卫生服务规范 第三版, 居民健康档案管理服务规范, 考核指标).
//!
//! The scan streams the records in pages and keeps only counts and the first flagged
//! records, so it runs at a million residents without holding them.

use std::collections::HashMap;

use chrono::NaiveDate;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::ehr_quality::{self, Issue, NoIdCardReason, RecordFacts};

use crate::crypto::Field;
use crate::{Result, Row, Store, on_pool};

/// The record figures of a division.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub records: i64,
    pub standardised: i64,
    /// Records with an exam or visit in the 365 days before the scan date.
    pub in_use: i64,
}

/// A record with problems, for the work list.
#[derive(Clone, Debug)]
pub struct Flagged {
    pub resident_id: i64,
    pub name: String,
    pub village: String,
    pub issues: Vec<Issue>,
}

fn sex_code(sex: &str) -> &'static str {
    match sex {
        "male" => "1",
        "female" => "2",
        _ => "0",
    }
}

/// Whether the profile answers a question group (an empty list counts as "无", an answer).
fn answered(profile: &serde_json::Value, key: &str) -> bool {
    profile.get(key).is_some_and(|v| !v.is_null())
}

/// The latest exam or visit in the 365 days before `today` of every record inside `root`
/// that had one (from the encounters of any institution), paged through the index.
async fn recent_visits(
    store: &Store,
    root: &DivisionCode,
    today: NaiveDate,
) -> Result<HashMap<i64, NaiveDate>> {
    let since = (today - chrono::Duration::days(365))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let mut out = HashMap::new();
    let mut after = 0i64;
    loop {
        let page =
            crate::encounter::last_encounters_within(store, root, since, after, 5_000).await?;
        let Some(last) = page.last() else { break };
        after = last.0;
        out.extend(page.into_iter().map(|(id, at)| (id, at.date_naive())));
    }
    Ok(out)
}

/// Scan every record inside `root` as of `today`; returns the figures and at most
/// `keep` flagged records (in record order).
pub async fn scan(
    store: &Store,
    root: &DivisionCode,
    today: NaiveDate,
    keep: usize,
) -> Result<(Figures, Vec<Flagged>)> {
    let last_visits = recent_visits(store, root, today).await?;
    let (low, high) = root.subtree_range();
    let keys = store.keys();
    let mut figures = Figures::default();
    let mut flagged = Vec::new();
    let mut last_id = 0i64;
    let since = today - chrono::Duration::days(365);
    loop {
        let rows = on_pool!(store, |pool| {
            let rows = sqlx::query(
                "SELECT r.id, r.name, r.sex, r.birth_date, r.id_card_enc, r.phone_enc, r.contact_phone_enc, \
                 r.division_code, r.residence_type, r.ethnicity, r.blood_abo, r.blood_rh, r.payment, \
                 r.no_id_reason, r.profile, r.created_at, d.name AS village_name \
                 FROM resident r JOIN division d ON d.code = r.division_code \
                 WHERE r.division_code >= $1 AND r.division_code < $2 AND r.merged_into IS NULL AND r.id > $3 \
                 ORDER BY r.id LIMIT 2000",
            )
            .bind(&low)
            .bind(&high)
            .bind(last_id)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.col::<i64>("id")?,
                        r.col::<String>("name")?,
                        r.col::<String>("sex")?,
                        r.col::<Option<NaiveDate>>("birth_date")?,
                        r.col::<Option<Vec<u8>>>("id_card_enc")?,
                        r.col::<Option<Vec<u8>>>("phone_enc")?,
                        r.col::<Option<Vec<u8>>>("contact_phone_enc")?,
                        r.col::<String>("division_code")?,
                        [
                            r.col::<Option<String>>("residence_type")?,
                            r.col::<Option<String>>("ethnicity")?,
                            r.col::<Option<String>>("blood_abo")?,
                            r.col::<Option<String>>("blood_rh")?,
                        ],
                        r.col::<String>("payment")?,
                        r.col::<Option<String>>("no_id_reason")?,
                        r.col::<String>("profile")?,
                        r.col::<chrono::DateTime<chrono::Utc>>("created_at")?,
                        r.col::<String>("village_name")?,
                    ))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        let Some(last) = rows.last() else { break };
        last_id = last.0;
        for (
            id,
            name,
            sex,
            birth,
            id_enc,
            phone_enc,
            contact_enc,
            village,
            codes,
            payment,
            no_id,
            profile,
            created,
            village_name,
        ) in rows
        {
            let id_card = id_enc
                .map(|b| keys.decrypt(Field::IdCard, &b))
                .transpose()?;
            let phone = phone_enc
                .map(|b| keys.decrypt(Field::Phone, &b))
                .transpose()?;
            let contact = contact_enc
                .map(|b| keys.decrypt(Field::Phone, &b))
                .transpose()?;
            let profile: serde_json::Value = serde_json::from_str(&profile).unwrap_or_default();
            let reason = no_id.as_deref().map(|r| match r {
                "newborn" | "新生儿" => NoIdCardReason::Newborn,
                "elderly" | "无证老人" | "老年人无身份证" => {
                    NoIdCardReason::ElderlyWithoutCard
                }
                other => NoIdCardReason::Other(other),
            });
            let last_visit = last_visits.get(&id).copied();
            let facts = RecordFacts {
                name: Some(name.as_str()),
                sex_code: Some(sex_code(&sex)),
                birth_date: birth,
                id_card: id_card.as_deref(),
                no_id_card_reason: reason,
                phone: phone.as_deref(),
                contact_phone: contact.as_deref(),
                village_code: Some(village.as_str()),
                residence_type_code: codes[0].as_deref(),
                ethnicity_code: codes[1].as_deref(),
                blood_abo_code: codes[2].as_deref(),
                blood_rh_code: codes[3].as_deref(),
                payment_method_codes: payment.split(',').filter(|c| !c.is_empty()).collect(),
                allergy_answered: answered(&profile, "allergies"),
                history_answered: answered(&profile, "history"),
                family_history_answered: answered(&profile, "family_history"),
                disability_answered: answered(&profile, "disability"),
                living_conditions_answered: answered(&profile, "living_conditions"),
                last_exam_or_visit: last_visit,
                created: Some(created.date_naive()),
            };
            let issues = ehr_quality::check(&facts, today);
            figures.records += 1;
            if ehr_quality::is_standardised(&issues) {
                figures.standardised += 1;
            }
            if last_visit.is_some_and(|d| d >= since) {
                figures.in_use += 1;
            }
            if !issues.is_empty() && flagged.len() < keep {
                flagged.push(Flagged {
                    resident_id: id,
                    name,
                    village: village_name,
                    issues,
                });
            }
        }
    }
    Ok((figures, flagged))
}
