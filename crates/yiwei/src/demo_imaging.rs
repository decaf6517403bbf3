//! The demo county's imaging studies (issue 8): small generated instances
//! (`yiwei_dicom::generate`) of CR, DX, CT, US and MR studies over the past year, sent
//! through the same path as a STOW-RS upload (`yiwei_web::dicomweb::stow::ingest`: parse,
//! blob store, master-patient-index link, audit).
//!
//! Two institutions image: the county hospital (account `radiology`) and 思恩镇中心卫生院
//! (account `doctor.sien`). Both send the ID-card number, except some of the centre's
//! studies, which carry name, sex and birth date only and so are linked by the index's
//! score or wait in the match queue. One resident in five has a second study of the same modality and body
//! part at the other institution 10–80 days later (the mutual-recognition cases), and a
//! few studies are of people who are not residents (the unmatched queue). Deterministic:
//! residents, modalities and dates follow the order of the residents and the seed.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use yiwei_dicom::blob::BlobStore;
use yiwei_dicom::generate::Synthetic;
use yiwei_store::access::{self, Viewer};
use yiwei_store::crypto::Field;
use yiwei_store::{Store, user};

use crate::demo::DemoCounty;

/// What [`add`] made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub studies: usize,
    pub instances: usize,
    pub failed: usize,
}

/// (modality, body part, description, series, instances per series, frames).
const KINDS: &[(&str, &str, &str, u32, u32, u32)] = &[
    ("CR", "CHEST", "胸部正位片", 1, 1, 1),
    ("DX", "CHEST", "胸部DR", 1, 1, 1),
    ("CT", "HEAD", "头颅CT平扫", 2, 3, 1),
    ("CT", "CHEST", "胸部CT平扫", 2, 3, 1),
    ("US", "ABDOMEN", "腹部彩超", 1, 2, 3),
    ("MR", "KNEE", "膝关节MRI", 1, 3, 1),
];

fn dicom_date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// Add the demo studies for up to `max_residents` residents (spread over the county).
pub async fn add(
    store: &Store,
    blobs: &dyn BlobStore,
    demo: &DemoCounty,
    seed: u64,
    today: NaiveDate,
    max_residents: usize,
) -> Result<Summary> {
    let radiology = user::by_username(store, "radiology")
        .await
        .context("the demo's radiology account")?;
    let township = user::by_username(store, "doctor.sien")
        .await
        .context("the demo's doctor.sien account")?;
    let hospital_name = yiwei_store::org::get(store, demo.county_hospital_id)
        .await?
        .name;
    let centre_name = yiwei_store::org::get(store, demo.sien_centre_id)
        .await?
        .name;
    let rad = Viewer {
        user: &radiology,
        remote_addr: None,
    };
    let tw = Viewer {
        user: &township,
        remote_addr: None,
    };
    let (residents, _) = access::list_residents(store, &rad, &demo.county, 20_000, 0).await?;
    let step = (residents.len() / max_residents.max(1)).max(1);
    let mut summary = Summary::default();
    let mut n_study: u64 = 0;
    for (idx, r) in residents
        .iter()
        .step_by(step)
        .take(max_residents)
        .enumerate()
    {
        let Some(birth) = r.birth_date else { continue };
        let sex = match r.sex.as_str() {
            "male" => "M",
            "female" => "F",
            _ => "O",
        };
        let pick = (seed as usize).wrapping_add(idx * 7) % KINDS.len();
        let kind = KINDS[pick];
        let first_day = today - Duration::days(((idx * 37) % 330 + 20) as i64);
        // Every resident's first study at the hospital or the centre, alternately; one in
        // five again at the other institution, same modality and body part.
        let at_hospital = idx % 2 == 0;
        let mut visits = vec![(at_hospital, first_day)];
        if idx % 5 == 0 {
            visits.push((
                !at_hospital,
                first_day + Duration::days((10 + idx % 70) as i64),
            ));
        }
        // Both institutions register patients by ID card (实名就诊), the modality worklist
        // carrying it in Other Patient IDs; the centre forgets it now and then (one visit
        // in six), and those studies are linked by the index's score or wait for a person.
        // The demo reads the number as the hospital's registration would have it (an
        // audited reveal by the radiology account).
        let number = if r.has_id_card {
            access::reveal(store, &rad, r.id, Field::IdCard).await?
        } else {
            None
        };
        for (hospital, day) in visits {
            if day > today {
                continue;
            }
            n_study += 1;
            let mut s = Synthetic::new(seed * 100_000 + n_study)
                .patient(&r.name, sex, &dicom_date(birth))
                .modality(kind.0, kind.1)
                .size(32, 32, kind.5);
            s.study_description = kind.2.into();
            s.study_date = dicom_date(day);
            s.study_time = format!("{:02}{:02}00", 8 + n_study % 9, (n_study * 7) % 60);
            s.accession_number = format!("{}{:08}", if hospital { "H" } else { "T" }, n_study);
            s.patient_id = format!("{}{:07}", if hospital { "MR" } else { "SE" }, r.id);
            s.institution_name = if hospital {
                hospital_name.clone()
            } else {
                centre_name.clone()
            };
            if let Some(n) = &number
                && (hospital || idx % 6 != 1)
            {
                s.other_patient_ids = vec![n.clone()];
            }
            let viewer = if hospital { &rad } else { &tw };
            for bytes in s.study(kind.3, kind.4) {
                let outcome =
                    yiwei_web::dicomweb::stow::ingest(store, blobs, viewer, bytes, None).await;
                match outcome.failure {
                    None => summary.instances += 1,
                    Some((code, why)) => {
                        summary.failed += 1;
                        tracing::warn!(failure = code, reason = %why, "a demo instance was not stored");
                    }
                }
            }
            summary.studies += 1;
        }
    }
    // People who are not residents of the county (visitors): the unmatched queue.
    for (n, (name, sex, birth)) in [
        ("Zhang^Wei", "M", "19790412"),
        ("李^建国", "M", "19560203"),
        ("王^芳", "F", "19881130"),
    ]
    .into_iter()
    .enumerate()
    {
        n_study += 1;
        let mut s = Synthetic::new(seed * 100_000 + n_study)
            .patient(name, sex, birth)
            .modality("DX", "CHEST")
            .size(32, 32, 1);
        s.study_date = dicom_date(today - Duration::days(3 + n as i64));
        s.institution_name = hospital_name.clone();
        s.patient_id = format!("V{n:06}");
        for bytes in s.study(1, 1) {
            let outcome = yiwei_web::dicomweb::stow::ingest(store, blobs, &rad, bytes, None).await;
            if outcome.failure.is_none() {
                summary.instances += 1;
            } else {
                summary.failed += 1;
            }
        }
        summary.studies += 1;
    }
    Ok(summary)
}
