//! The demo county's reports and mutual recognition (issue 8), run after the imaging demo
//! step (`demo_imaging`) on whatever studies it stored:
//!
//! - accreditation: the county hospital holds the "县域HR" mark for every catalogue item,
//!   the 思恩镇 centre for chest radiographs, chest CT and abdominal ultrasound;
//! - reports: most studies get a signed report by the hospital's `radiology` account, a
//!   few get an AI draft from the shipped reading model (read from the stored pixels) and
//!   wait for review;
//! - recognitions: where a resident has two studies of the same item at the two
//!   institutions, the second clinician recorded a repeat with a reason; for every third
//!   resident with one recognisable study, a clinician at the other institution ordered
//!   the same exam a few days later and recognised it. Each decision goes through the gate
//!   with the order date of its day, and the ledger row is then dated to that day (the only
//!   place a decision is backdated: the figures page should show months, and a clinician's
//!   decision is always dated now).
//!
//! Deterministic: studies in index order, choices by position.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use yiwei_domain::recognition::{Decision, ExceptionReason, Item};
use yiwei_domain::report::{Content, Step};
use yiwei_store::access::Viewer;
use yiwei_store::access::imaging as imaging_gate;
use yiwei_store::access::recognition as gate;
use yiwei_store::imaging::{Study, StudyQuery};
use yiwei_store::recognition::{self as store_recognition, Context as Where};
use yiwei_store::{Store, on_pool, user};

use crate::demo::DemoCounty;

/// What [`add`] made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub signed_reports: usize,
    pub ai_drafts: usize,
    pub recognised: usize,
    pub repeated: usize,
}

/// At most this many AI drafts (each decodes one image).
const AI_DRAFTS: usize = 5;

/// A plausible normal report for a study of `modality`/`body_part` (synthetic images).
fn normal_report(modality: &str, body_part: &str) -> (&'static str, &'static str) {
    match (modality, body_part) {
        ("CR" | "DX", "CHEST") => (
            "胸廓对称，气管居中。双肺纹理清晰，未见明显实变影。心影大小形态正常。双侧膈面光整，肋膈角锐利。",
            "心肺膈未见明显异常。",
        ),
        ("CT", "HEAD") => (
            "脑实质密度均匀，灰白质分界清楚。脑室系统未见扩大，中线结构居中。颅骨未见骨折。",
            "头颅CT平扫未见明显异常。",
        ),
        ("CT", "CHEST") => (
            "双肺野清晰，未见结节及实变。纵隔内未见肿大淋巴结。心脏大小正常，未见胸腔积液。",
            "胸部CT平扫未见明显异常。",
        ),
        ("US", "ABDOMEN") => (
            "肝脏大小形态正常，实质回声均匀。胆囊壁光滑，腔内未见强回声。胰、脾未见异常。",
            "肝胆胰脾超声未见明显异常。",
        ),
        _ => (
            "图像质量满意。所示结构未见明显异常信号或密度。",
            "未见明显异常。",
        ),
    }
}

/// The catalogue item a study is an exam of, if any.
fn item_of<'a>(catalogue: &'a [Item], study: &Study) -> Option<&'a Item> {
    catalogue.iter().find(|i| {
        study
            .modalities
            .iter()
            .any(|m| study.body_parts.iter().any(|b| i.covers(m, b)))
    })
}

/// Add the demo's accreditations, reports and recognitions. `blobs` is where the imaging
/// demo stored the instances (for the AI drafts).
pub async fn add(
    store: &Store,
    blobs: &dyn yiwei_dicom::blob::BlobStore,
    demo: &DemoCounty,
    today: NaiveDate,
) -> Result<Summary> {
    let mut summary = Summary::default();
    let hospital = demo.county_hospital_id;
    let centre = demo.sien_centre_id;
    for item in store_recognition::catalogue(store).await? {
        store_recognition::accredit(store, &item.code, hospital, "县域HR").await?;
        if matches!(item.code.as_str(), "DR-CHEST" | "CT-CHEST" | "US-ABDOMEN") {
            store_recognition::accredit(store, &item.code, centre, "县域HR").await?;
        }
    }
    let catalogue = store_recognition::catalogue(store).await?;
    let radiology = user::by_username(store, "radiology")
        .await
        .context("the demo's radiology account")?;
    let county_doctor = user::by_username(store, "doctor.county")
        .await
        .context("the demo's doctor.county account")?;
    let sien_doctor = user::by_username(store, "doctor.sien")
        .await
        .context("the demo's doctor.sien account")?;
    let rad = Viewer {
        user: &radiology,
        remote_addr: None,
    };

    // Every study the radiologist can see (the county), oldest first.
    let mut studies: Vec<Study> = Vec::new();
    let mut offset = 0;
    loop {
        let query = StudyQuery {
            limit: 500,
            offset,
            ..StudyQuery::default()
        };
        let (page, more) = imaging_gate::search_studies(store, &rad, &query).await?;
        offset += page.len() as i64;
        studies.extend(page);
        if !more {
            break;
        }
    }
    studies.reverse();

    // Reports: four in five signed; a few of the rest get an AI draft.
    for (n, study) in studies.iter().enumerate() {
        if n % 5 != 4 {
            let (findings, impression) = normal_report(
                study.modalities.first().map(String::as_str).unwrap_or(""),
                study.body_parts.first().map(String::as_str).unwrap_or(""),
            );
            let content = Content {
                findings: findings.into(),
                impression: impression.into(),
                amend_reason: String::new(),
            };
            gate::write_report(store, &rad, study.id, Step::Sign, &content).await?;
            summary.signed_reports += 1;
        } else if summary.ai_drafts < AI_DRAFTS
            // A study whose image cannot be read simply gets no draft.
            && yiwei_web::pages::imaging_report::ai_draft(store, blobs, study)
                .await
                .ok()
                .flatten()
                .is_some()
        {
            summary.ai_drafts += 1;
        }
    }

    // Recognitions, by resident and item.
    let mut by_resident: Vec<(i64, &Item, Vec<&Study>)> = Vec::new();
    for study in studies.iter().filter(|s| s.resident_id.is_some()) {
        let Some(item) = item_of(&catalogue, study) else {
            continue;
        };
        let resident = study.resident_id.unwrap_or_default();
        match by_resident
            .iter_mut()
            .find(|(r, i, _)| *r == resident && i.code == item.code)
        {
            Some((_, _, list)) => list.push(study),
            None => by_resident.push((resident, item, vec![study])),
        }
    }
    let reasons = [
        ExceptionReason::ConditionChanged,
        ExceptionReason::PatientRequest,
        ExceptionReason::BeforeIntervention,
        ExceptionReason::TooLongAgo,
    ];
    for (n, (resident, item, list)) in by_resident.iter().enumerate() {
        let exam_date = |s: &Study| store_recognition::exam_date(s);
        let (prior, ordered_at, order_date, decision) = if list.len() >= 2 {
            let (a, b) = (list[0], list[1]);
            let reason = reasons[n % reasons.len()];
            let decision = Decision::Repeated {
                reason,
                note: String::new(),
            };
            // The order was made the day before the repeat exam was done.
            (
                a,
                b.institution_id,
                exam_date(b) - Duration::days(1),
                decision,
            )
        } else if n % 3 == 0 {
            let a = list[0];
            let other = if a.institution_id == hospital {
                centre
            } else {
                hospital
            };
            let later = exam_date(a) + Duration::days(3 + (n % 7) as i64);
            if later > today {
                continue;
            }
            (a, other, later, Decision::Recognised)
        } else {
            continue;
        };
        let clinician = if ordered_at == centre {
            &sien_doctor
        } else {
            &county_doctor
        };
        let viewer = Viewer {
            user: clinician,
            remote_addr: None,
        };
        let input = gate::DecisionInput {
            resident_id: *resident,
            prior_study_id: prior.id,
            item_code: item.code.clone(),
            context: Where::Order,
            context_id: None,
            decision: decision.clone(),
            order_date,
        };
        // A prior past its window, from an unaccredited place or outside the clinician's
        // reach is simply not offered: skip it, as the prompt would.
        let Ok(id) = gate::record_decision(store, &viewer, &input).await else {
            continue;
        };
        backdate(store, id, order_date).await?;
        match decision {
            Decision::Recognised => summary.recognised += 1,
            Decision::Repeated { .. } => summary.repeated += 1,
        }
    }
    Ok(summary)
}

/// Date a demo ledger row to its order day (10:00 county time) and month.
async fn backdate(store: &Store, id: i64, day: NaiveDate) -> Result<()> {
    let at = Utc.from_utc_datetime(&day.and_hms_opt(2, 0, 0).unwrap_or_default());
    let period = day.format("%Y-%m").to_string();
    on_pool!(store, |pool| sqlx::query(
        "UPDATE recognition SET decided_at = $2, period = $3 WHERE id = $1"
    )
    .bind(id)
    .bind(at)
    .bind(&period)
    .execute(pool)
    .await
    .map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yiwei_dicom::blob::{BlobStore, LocalFolder};
    use yiwei_dicom::generate::Synthetic;
    use yiwei_store::imaging::{NewInstance, Stored};

    /// Store a one-instance study (its file in `blobs`) for `resident`, done `days_ago`.
    #[expect(
        clippy::too_many_arguments,
        reason = "a test helper naming each attribute of the study"
    )]
    async fn study(
        store: &Store,
        blobs: &LocalFolder,
        by: &yiwei_store::user::User,
        n: u32,
        resident: i64,
        kind: (&str, &str),
        today: NaiveDate,
        days_ago: i64,
    ) {
        let s = Synthetic::new(u64::from(n))
            .modality(kind.0, kind.1)
            .size(32, 32, 1);
        let bytes = s.instance(1, 1);
        let key = format!("test/{n}.dcm");
        blobs.put(&key, bytes.clone().into()).await.expect("blob");
        let new = NewInstance {
            study_uid: format!("1.2.826.0.1.3680043.10.77.{n}"),
            series_uid: format!("1.2.826.0.1.3680043.10.77.{n}.1"),
            sop_uid: s.sop_uid(1, 1),
            sop_class_uid: s.sop_class().into(),
            patient_id: format!("P{n}"),
            study_date: Some(today - Duration::days(days_ago)),
            modality: kind.0.into(),
            body_part: kind.1.into(),
            series_number: Some(1),
            instance_number: Some(1),
            transfer_syntax: "1.2.840.10008.1.2.1".into(),
            frames: 1,
            size_bytes: bytes.len() as i64,
            sha256: format!("sha{n}"),
            blob_key: key,
            metadata: "{}".into(),
            ..NewInstance::default()
        };
        let v = Viewer {
            user: by,
            remote_addr: None,
        };
        let Stored::New { study_id, .. } = imaging_gate::store_instance(store, &v, &new)
            .await
            .expect("stored")
        else {
            panic!("new study");
        };
        let radiology = user::by_username(store, "radiology").await.expect("user");
        let rv = Viewer {
            user: &radiology,
            remote_addr: None,
        };
        imaging_gate::link_study(store, &rv, study_id, resident)
            .await
            .expect("linked");
    }

    #[tokio::test]
    async fn the_demo_accredits_signs_drafts_and_records_both_decisions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open("", dir.path(), yiwei_store::Keys::from_master(&[5u8; 32]))
            .await
            .expect("store");
        let opts = crate::demo::DemoOptions {
            residents_per_village: 1,
            services: false,
            ..Default::default()
        };
        let demo = crate::demo::build_with(&store, &opts, |_| {})
            .await
            .expect("demo");
        let blobs = LocalFolder::new(dir.path().join("images"));
        let today = store_recognition::county_date(yiwei_store::now());
        let radiology = user::by_username(&store, "radiology").await.expect("user");
        let sien = user::by_username(&store, "doctor.sien")
            .await
            .expect("user");
        let (a, b) = (
            demo.first_village.resident_id,
            demo.second_village.resident_id,
        );
        // a: a chest radiograph at the centre, repeated at the hospital ten days later.
        study(&store, &blobs, &sien, 1, a, ("DX", "CHEST"), today, 20).await;
        study(&store, &blobs, &radiology, 2, a, ("DX", "CHEST"), today, 10).await;
        // b: one chest CT at the hospital; three more studies for the report mix.
        study(&store, &blobs, &radiology, 3, b, ("CT", "CHEST"), today, 12).await;
        study(&store, &blobs, &radiology, 4, b, ("MR", "KNEE"), today, 40).await;
        study(&store, &blobs, &radiology, 5, b, ("CR", "CHEST"), today, 50).await;

        let summary = add(&store, &blobs, &demo, today).await.expect("demo step");
        assert_eq!(summary.signed_reports, 4, "{summary:?}");
        assert_eq!(summary.ai_drafts, 1, "{summary:?}");
        assert_eq!(summary.repeated, 1, "{summary:?}");
        assert!(summary.recognised <= 1, "{summary:?}");
        let month = today.format("%Y-%m").to_string();
        let figures = store_recognition::figures(&store, "2000-01", &month)
            .await
            .expect("figures");
        let totals = store_recognition::totals(&figures);
        assert_eq!(totals.repeated, 1);
        assert_eq!(totals.recognised as usize, summary.recognised);
    }
}
