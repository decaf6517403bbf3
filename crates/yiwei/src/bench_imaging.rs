//! `yiwei bench imaging`: the issue-8 targets on a fresh data folder.
//!
//! 1. Index `studies` one-instance studies (default 100,000) through the access gate
//!    (`access::imaging::store_instance`: master-patient-index match, the index rows and
//!    an audit row each), with varied names, dates, modalities and accession numbers.
//! 2. Store one study of `big_study` instances (default 1,000) through the STOW-RS path
//!    without HTTP (`dicomweb::stow::ingest`: parse, DICOM JSON, blob store, index).
//! 3. Over HTTP in process (the router, bearer token, JSON encoding): QIDO-RS study
//!    searches of five kinds, p50/p95 (target p95 < 50 ms at 100,000 studies); the
//!    metadata of the big study (target < 1 s); WADO-RS retrieve of the big study.
//!
//! The result is a markdown section for docs/benchmarks.md. The comparison with Orthanc
//! over real HTTP is `bench/dicomweb_vs_orthanc.py`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::NaiveDate;
use http_body_util::BodyExt;
use tower::ServiceExt;
use yiwei_dicom::generate::Synthetic;
use yiwei_store::access::Viewer;
use yiwei_store::access::imaging as gate;
use yiwei_store::imaging::NewInstance;
use yiwei_store::{Store, user};

use crate::demo::Rng;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    pub studies: usize,
    pub big_study: u32,
    pub queries: usize,
    pub command: String,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

const SURNAMES: &[&str] = &[
    "韦", "覃", "蒙", "谭", "莫", "卢", "黄", "蓝", "罗", "吴", "李", "王",
];
const GIVEN: &[&str] = &[
    "秀英", "桂芳", "志强", "美玲", "建国", "小红", "明", "丽", "伟", "芳", "军", "华",
];
const MODALITIES: &[(&str, &str)] = &[
    ("CT", "CHEST"),
    ("DX", "CHEST"),
    ("CR", "CHEST"),
    ("US", "ABDOMEN"),
    ("MR", "HEAD"),
];

/// Run the imaging benchmarks and return the markdown report.
pub async fn run(store: &Store, web: yiwei_web::WebConfig, opts: &Options) -> Result<String> {
    let demo = crate::demo::build(
        store,
        &crate::demo::DemoOptions {
            residents_per_village: 2,
            services: false,
            ..crate::demo::DemoOptions::default()
        },
    )
    .await
    .context("cannot build the small county the benchmark indexes into")?;
    let radiology = user::by_username(store, "radiology").await?;
    let viewer = Viewer {
        user: &radiology,
        remote_addr: None,
    };

    // 1. The index.
    let mut rng = Rng::new(8);
    let start = Instant::now();
    let base = NaiveDate::from_ymd_opt(2022, 1, 1).expect("a date");
    for n in 0..opts.studies {
        let (modality, body) = MODALITIES[rng.below(MODALITIES.len() as u64) as usize];
        let name = format!(
            "{}{}",
            SURNAMES[rng.below(SURNAMES.len() as u64) as usize],
            GIVEN[rng.below(GIVEN.len() as u64) as usize]
        );
        let study = format!("2.25.9000{n}");
        let new = NewInstance {
            study_uid: study.clone(),
            series_uid: format!("{study}.1"),
            sop_uid: format!("{study}.1.1"),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            patient_id: format!("P{:07}", n / 3),
            patient_name: name,
            patient_birth_date: base.checked_sub_days(chrono::Days::new(7_000 + rng.below(20_000))),
            patient_sex: if rng.below(2) == 0 { "M" } else { "F" }.into(),
            study_date: base.checked_add_days(chrono::Days::new(rng.below(5 * 365))),
            study_time: "093000".into(),
            accession_number: format!("A{n:09}"),
            study_description: "bench".into(),
            modality: modality.into(),
            body_part: body.into(),
            series_number: Some(1),
            instance_number: Some(1),
            transfer_syntax: yiwei_dicom::ts::EXPLICIT_VR_LITTLE_ENDIAN.into(),
            rows: Some(512),
            columns: Some(512),
            frames: 1,
            size_bytes: 525_000,
            sha256: format!("{n:064}"),
            blob_key: format!("bench/{n}.dcm"),
            metadata: "{}".into(),
            ..NewInstance::default()
        };
        gate::store_instance(store, &viewer, &new).await?;
        if n > 0 && n % 10_000 == 0 {
            eprintln!(
                "  indexed {n} studies in {:.0} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
    let index_time = start.elapsed();

    // 2. The big study, through the STOW path.
    let blobs = web.imaging.blobs.clone();
    let big = Synthetic::new(77)
        .patient("韦秀英", "F", "19580309")
        .size(64, 64, 1);
    let files: Vec<Vec<u8>> = (0..opts.big_study)
        .map(|i| big.instance(i / 100, i % 100))
        .collect();
    let bytes_total: usize = files.iter().map(Vec::len).sum();
    let start = Instant::now();
    for f in files {
        let outcome =
            yiwei_web::dicomweb::stow::ingest(store, blobs.as_ref(), &viewer, f, None).await;
        if let Some((code, why)) = outcome.failure {
            bail!("the big study was refused ({code:#06x}): {why}");
        }
    }
    let ingest_time = start.elapsed();

    // 3. Over HTTP, in process.
    let token = yiwei_store::session::create_api_token(store, radiology.id, "bench", None).await?;
    let router = yiwei_web::app(store.clone(), web);
    let get = |uri: String| {
        let router = router.clone();
        let token = token.clone();
        async move {
            let request = Request::get(&uri)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("a request");
            let t = Instant::now();
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes());
            let took = t.elapsed();
            match (status, body) {
                (StatusCode::OK, Ok(b)) => Ok((took, b.len())),
                (s, _) => Err(anyhow::anyhow!("{uri}: {s}")),
            }
        }
    };
    let kinds: Vec<(&str, QueryMaker)> = vec![
        (
            "PatientName prefix",
            Box::new(|r: &mut Rng| {
                format!(
                    "/dicom-web/studies?PatientName={}*&limit=50",
                    urlencode(SURNAMES[r.below(SURNAMES.len() as u64) as usize])
                )
            }),
        ),
        (
            "PatientID",
            Box::new(|r: &mut Rng| format!("/dicom-web/studies?PatientID=P{:07}", r.below(30_000))),
        ),
        (
            "StudyDate range + ModalitiesInStudy",
            Box::new(|r: &mut Rng| {
                // One month of one of the four years.
                let d = 20220001 + r.below(4) * 10000 + 100 * (1 + r.below(12));
                format!(
                    "/dicom-web/studies?StudyDate={d}-{}&ModalitiesInStudy=CT&limit=50",
                    d + 27
                )
            }),
        ),
        (
            "AccessionNumber",
            Box::new(|r: &mut Rng| {
                format!(
                    "/dicom-web/studies?AccessionNumber=A{:09}",
                    r.below(100_000)
                )
            }),
        ),
        (
            "newest 100, no filter",
            Box::new(|_: &mut Rng| "/dicom-web/studies?limit=100".to_owned()),
        ),
    ];
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for (label, make) in &kinds {
        let mut times = Vec::with_capacity(opts.queries);
        for _ in 0..opts.queries {
            let (t, _) = get(make(&mut rng)).await?;
            times.push(t);
        }
        times.sort();
        all.extend(times.iter().copied());
        rows.push(format!(
            "| {label} | {} | {} | {} |",
            ms(percentile(&times, 50.0)),
            ms(percentile(&times, 95.0)),
            ms(*times.last().unwrap_or(&Duration::ZERO))
        ));
    }
    all.sort();
    let meta_uri = format!("/dicom-web/studies/{}/metadata", big.study_uid());
    let mut meta = Vec::new();
    let mut meta_bytes = 0;
    for _ in 0..10 {
        let (t, n) = get(meta_uri.clone()).await?;
        meta.push(t);
        meta_bytes = n;
    }
    meta.sort();
    let mut wado = Vec::new();
    let mut wado_bytes = 0;
    for _ in 0..3 {
        let (t, n) = get(format!("/dicom-web/studies/{}", big.study_uid())).await?;
        wado.push(t);
        wado_bytes = n;
    }
    wado.sort();
    let per_s = |n: f64, d: Duration| n / d.as_secs_f64().max(1e-9);
    Ok(format!(
        "### Imaging (issue 8): `{command}`\n\n\
         Machine: 2 cores, 23 GiB, {backend}; a county of {residents} residents; {studies} one-instance \
         studies indexed, then one study of {big} instances ({mb:.1} MiB) stored.\n\n\
         | step | result |\n|---|---|\n\
         | index {studies} studies through the gate (match, rows, audit) | {index:.0} s ({index_rate:.0} studies/s) |\n\
         | store the {big}-instance study through the STOW path (parse, JSON, blob, index) | {ingest:.1} s ({ingest_rate:.0} instances/s) |\n\
         | study metadata of the {big}-instance study ({meta_kb} KiB), p50 / max of 10 | {meta50} / {metamax} |\n\
         | WADO-RS retrieve of the whole study, best of 3 | {wado_best} ({wado_rate:.0} instances/s, {wado_mb:.1} MiB) |\n\n\
         QIDO-RS study searches at {studies} studies, {queries} of each kind, in process over the router:\n\n\
         | query | p50 | p95 | max |\n|---|---|---|---|\n{rows}\n| **all** | {all50} | **{all95}** | {allmax} |\n",
        command = opts.command,
        backend = store.backend().as_str(),
        residents = demo.residents,
        studies = opts.studies,
        big = opts.big_study,
        mb = bytes_total as f64 / 1_048_576.0,
        index = index_time.as_secs_f64(),
        index_rate = per_s(opts.studies as f64, index_time),
        ingest = ingest_time.as_secs_f64(),
        ingest_rate = per_s(f64::from(opts.big_study), ingest_time),
        meta_kb = meta_bytes / 1024,
        meta50 = ms(percentile(&meta, 50.0)),
        metamax = ms(*meta.last().unwrap_or(&Duration::ZERO)),
        wado_best = ms(wado[0]),
        wado_rate = per_s(f64::from(opts.big_study), wado[0]),
        wado_mb = wado_bytes as f64 / 1_048_576.0,
        queries = opts.queries,
        rows = rows.join("\n"),
        all50 = ms(percentile(&all, 50.0)),
        all95 = ms(percentile(&all, 95.0)),
        allmax = ms(*all.last().unwrap_or(&Duration::ZERO)),
    ))
}

/// Makes the URL of one QIDO-RS request of a kind.
type QueryMaker = Box<dyn Fn(&mut Rng) -> String>;

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}
