//! The imaging cloud's index (影像云): studies, series and instances received over
//! DICOMweb, the link of each study to a resident through the master patient index, the
//! queue of studies no resident was found for, shares with other institutions, and the
//! QIDO-RS searches (PS3.18 10.6) over all of it.
//!
//! The store never sees DICOM bytes: yiwei-dicom parses an instance, writes the file to the
//! blob store and hands over a [`NewInstance`] (the index attributes, the blob key and the
//! instance's DICOM JSON metadata). Readers of personal data here are `pub(crate)`; code
//! outside the crate goes through `crate::access::imaging`, which checks reach and audits.
//!
//! Linking (`match_state`): an identifier among PatientID / OtherPatientIDs that hits a
//! resident's hashed ID-card number links at once; otherwise the candidates found by name keys and
//! birth date are scored with the county's matcher (`crate::empi::matcher`). At or above
//! the link threshold the study is `linked`; in the grey band it is `review` with its
//! candidates kept; with none it is `unmatched`. Review and unmatched studies wait in
//! [`match_queue`] until a person links them ([`link`]); they are never dropped.
//!
//! Schema: migrations/*/0013_imaging.sql. Tie: a study done at an institution in the last
//! [`STUDY_TIE_DAYS`] days, or shared with it and not expired, ties the resident to that
//! institution (`Tie::Study`, [`institution_holds`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::json;
use yiwei_domain::division::DivisionCode;
use yiwei_domain::empi::{self as rules, Decision, Person};
use yiwei_domain::imaging::{self as imaging_rules, TextMatch};

use crate::audit::{self, Event};
use crate::crypto::Field;
use crate::{Backend, Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// How long a study done at an institution ties its resident to that institution.
pub const STUDY_TIE_DAYS: i64 = 365;

/// The index attributes of one received instance, as extracted by yiwei-dicom, with
/// where its file went. Text values are already decoded to Unicode.
#[derive(Clone, Debug, Default)]
pub struct NewInstance {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub sop_class_uid: String,
    /// PatientID (0010,0020) as sent.
    pub patient_id: String,
    /// OtherPatientIDs (0010,1000) and Other Patient IDs Sequence values.
    pub other_patient_ids: Vec<String>,
    /// PatientName (0010,0010), the whole PN value (`Wei^Ana=韦^阿娜`).
    pub patient_name: String,
    pub patient_birth_date: Option<NaiveDate>,
    /// `M`, `F`, `O` or empty.
    pub patient_sex: String,
    pub study_date: Option<NaiveDate>,
    pub study_time: String,
    pub accession_number: String,
    /// StudyID (0020,0010), the modality's own number.
    pub study_id: String,
    pub study_description: String,
    pub referring_physician: String,
    pub institution_name: String,
    pub modality: String,
    pub body_part: String,
    pub series_number: Option<i64>,
    pub series_description: String,
    pub instance_number: Option<i64>,
    pub transfer_syntax: String,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: i64,
    pub size_bytes: i64,
    /// Hex SHA-256 of the Part 10 file, to tell a re-send from a different instance.
    pub sha256: String,
    /// Where the file is in the blob store.
    pub blob_key: String,
    /// The instance's DICOM JSON object (PS3.18 F.2) without bulk data.
    pub metadata: String,
}

/// How a study was tied to a resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchState {
    /// By the master patient index, at or above the link threshold (or an ID-card hit).
    Linked,
    /// By a person, from the queue.
    Manual,
    /// In the grey band: candidates kept, a person decides.
    Review,
    /// No candidate at all.
    Unmatched,
}

impl MatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchState::Linked => "linked",
            MatchState::Manual => "manual",
            MatchState::Review => "review",
            MatchState::Unmatched => "unmatched",
        }
    }

    pub fn parse(s: &str) -> Option<MatchState> {
        [
            MatchState::Linked,
            MatchState::Manual,
            MatchState::Review,
            MatchState::Unmatched,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A candidate resident of a study in the grey band.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub resident_id: i64,
    pub score: f64,
}

/// 检查: one study as indexed.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    pub id: i64,
    pub study_uid: String,
    pub resident_id: Option<i64>,
    /// The resident's village when linked, else the sending institution's division.
    pub division: String,
    /// The institution that sent (performed) it.
    pub institution_id: i64,
    pub match_state: MatchState,
    pub match_score: Option<f64>,
    pub candidates: Vec<Candidate>,
    /// PatientID as sent, or its masked form when it was an ID-card number.
    pub patient_id: String,
    pub patient_name: String,
    pub patient_birth_date: Option<NaiveDate>,
    pub patient_sex: String,
    pub study_date: Option<NaiveDate>,
    pub study_time: String,
    pub accession_number: String,
    pub study_id: String,
    pub description: String,
    pub referring_physician: String,
    pub institution_name: String,
    /// ModalitiesInStudy, sorted.
    pub modalities: Vec<String>,
    pub body_parts: Vec<String>,
    pub n_series: i64,
    pub n_instances: i64,
    pub size_bytes: i64,
    pub referral_id: Option<i64>,
    pub booking_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// 序列: one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub id: i64,
    pub study_id: i64,
    pub series_uid: String,
    pub study_uid: String,
    pub modality: String,
    pub body_part: String,
    pub series_number: Option<i64>,
    pub description: String,
    pub n_instances: i64,
    pub created_at: DateTime<Utc>,
}

/// 图像: one instance (a Part 10 file in the blob store).
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub id: i64,
    pub series_id: i64,
    pub study_id: i64,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub instance_number: Option<i64>,
    pub transfer_syntax: String,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: i64,
    pub size_bytes: i64,
    pub sha256: String,
    pub blob_key: String,
    pub created_at: DateTime<Utc>,
}

/// What [`store_instance`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    /// A new instance was indexed; `new_study` when it opened the study.
    New {
        study_id: i64,
        series_id: i64,
        instance_id: i64,
        new_study: bool,
    },
    /// The same SOP instance with the same bytes was already stored: nothing changed.
    AlreadyStored { study_id: i64, instance_id: i64 },
}

/// Which studies a search may return: the gate builds this from the viewer.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    /// Every study (only for jobs and the CLI, never a person's request).
    Everything,
    /// Studies whose division is inside `root`, or done at / shared with `institution`,
    /// or of a resident in `residents` (break-glass grants).
    Reach {
        root: DivisionCode,
        institution: Option<i64>,
        residents: Vec<i64>,
    },
    /// One resident's own studies.
    OwnRecord(i64),
}

/// The QIDO-RS matching keys (PS3.18 10.6.1.2, PS3.4 C.6.1.1) this index answers, as the
/// web layer parsed them. `None` is the universal match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StudyQuery {
    pub study_uids: Vec<String>,
    /// PatientID; also finds studies whose ID-card number equals it.
    pub patient_id: Option<String>,
    /// PatientName with `*`/`?` wildcards.
    pub patient_name: Option<String>,
    pub birth_date_from: Option<NaiveDate>,
    pub birth_date_to: Option<NaiveDate>,
    pub study_date_from: Option<NaiveDate>,
    pub study_date_to: Option<NaiveDate>,
    pub accession_number: Option<String>,
    /// ModalitiesInStudy: a study with a series of this modality.
    pub modality: Option<String>,
    pub resident_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub match_state: Option<MatchState>,
    pub limit: i64,
    pub offset: i64,
}

/// The study columns every reader selects (prefixed `s.`).
const STUDY_COLUMNS: &str = "s.id, s.study_uid, s.resident_id, s.division_code, s.institution_id, \
    s.match_state, s.match_score, s.match_candidates, s.patient_id, s.patient_name, \
    s.patient_birth_date, s.patient_sex, s.study_date, s.study_time, s.accession_number, \
    s.study_id, s.description, s.referring_physician, s.institution_name, s.modalities, \
    s.body_parts, s.n_series, s.n_instances, s.size_bytes, s.referral_id, s.booking_id, \
    s.created_at, s.updated_at";

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

fn candidates_of(text: &str) -> Vec<Candidate> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            Some(Candidate {
                resident_id: c.get("resident_id")?.as_i64()?,
                score: c.get("score")?.as_f64()?,
            })
        })
        .collect()
}

fn study(row: &impl Row) -> Result<Study> {
    let state: String = row.col("match_state")?;
    let candidates: String = row.col("match_candidates")?;
    let modalities: String = row.col("modalities")?;
    let body_parts: String = row.col("body_parts")?;
    Ok(Study {
        id: row.col("id")?,
        study_uid: row.col("study_uid")?,
        resident_id: row.col("resident_id")?,
        division: row.col("division_code")?,
        institution_id: row.col("institution_id")?,
        match_state: MatchState::parse(&state)
            .ok_or_else(|| StoreError::Other(format!("stored match state {state:?}")))?,
        match_score: row.col("match_score")?,
        candidates: candidates_of(&candidates),
        patient_id: row.col("patient_id")?,
        patient_name: row.col("patient_name")?,
        patient_birth_date: row.col("patient_birth_date")?,
        patient_sex: row.col("patient_sex")?,
        study_date: row.col("study_date")?,
        study_time: row.col("study_time")?,
        accession_number: row.col("accession_number")?,
        study_id: row.col("study_id")?,
        description: row.col("description")?,
        referring_physician: row.col("referring_physician")?,
        institution_name: row.col("institution_name")?,
        modalities: split_list(&modalities),
        body_parts: split_list(&body_parts),
        n_series: row.col("n_series")?,
        n_instances: row.col("n_instances")?,
        size_bytes: row.col("size_bytes")?,
        referral_id: row.col("referral_id")?,
        booking_id: row.col("booking_id")?,
        created_at: row.col("created_at")?,
        updated_at: row.col("updated_at")?,
    })
}

const SERIES_COLUMNS: &str = "se.id, se.study_id, se.series_uid, s.study_uid, se.modality, \
    se.body_part, se.series_number, se.description, se.n_instances, se.created_at";

fn series(row: &impl Row) -> Result<Series> {
    Ok(Series {
        id: row.col("id")?,
        study_id: row.col("study_id")?,
        series_uid: row.col("series_uid")?,
        study_uid: row.col("study_uid")?,
        modality: row.col("modality")?,
        body_part: row.col("body_part")?,
        series_number: row.col("series_number")?,
        description: row.col("description")?,
        n_instances: row.col("n_instances")?,
        created_at: row.col("created_at")?,
    })
}

const INSTANCE_COLUMNS: &str = "i.id, i.series_id, i.study_id, s.study_uid, se.series_uid, \
    i.sop_uid, i.sop_class_uid, i.instance_number, i.transfer_syntax, i.n_rows, i.n_columns, \
    i.n_frames, i.size_bytes, i.sha256, i.blob_key, i.created_at";

const INSTANCE_FROM: &str = "imaging_instance i JOIN imaging_series se ON se.id = i.series_id \
    JOIN imaging_study s ON s.id = i.study_id";

fn instance(row: &impl Row) -> Result<Instance> {
    Ok(Instance {
        id: row.col("id")?,
        series_id: row.col("series_id")?,
        study_id: row.col("study_id")?,
        study_uid: row.col("study_uid")?,
        series_uid: row.col("series_uid")?,
        sop_uid: row.col("sop_uid")?,
        sop_class_uid: row.col("sop_class_uid")?,
        instance_number: row.col("instance_number")?,
        transfer_syntax: row.col("transfer_syntax")?,
        rows: row.col("n_rows")?,
        columns: row.col("n_columns")?,
        frames: row.col("n_frames")?,
        size_bytes: row.col("size_bytes")?,
        sha256: row.col("sha256")?,
        blob_key: row.col("blob_key")?,
        created_at: row.col("created_at")?,
    })
}

/// A bind parameter of a query built at run time.
#[derive(Clone, Debug)]
enum Param {
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Bytes(Vec<u8>),
    Time(DateTime<Utc>),
}

/// Bind `params` in order onto a `sqlx::query` (expanded once per backend).
macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for p in $params {
            q = match p {
                Param::Text(v) => q.bind(v.clone()),
                Param::Int(v) => q.bind(*v),
                Param::Date(v) => q.bind(*v),
                Param::Bytes(v) => q.bind(v.clone()),
                Param::Time(v) => q.bind(*v),
            };
        }
        q
    }};
}

/// A WHERE clause under construction: conditions joined by AND, with `$n` placeholders.
#[derive(Default)]
struct Where {
    conditions: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    fn next(&mut self, p: Param) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    fn text(&mut self, column: &str, m: &TextMatch) {
        let condition = match m {
            TextMatch::Exact(v) => {
                let p = self.next(Param::Text(v.clone()));
                format!("{column} = {p}")
            }
            TextMatch::Prefix(v) => {
                // A range on the index: every string that starts with `v` sorts between
                // `v` and `v` followed by the highest code point.
                let low = self.next(Param::Text(v.clone()));
                let high = self.next(Param::Text(format!("{v}\u{10FFFF}")));
                format!("{column} >= {low} AND {column} < {high}")
            }
            TextMatch::Like(v) => {
                let p = self.next(Param::Text(v.clone()));
                format!("{column} LIKE {p} ESCAPE '\\'")
            }
        };
        self.push(condition);
    }

    fn sql(&self) -> String {
        if self.conditions.is_empty() {
            "TRUE".to_owned()
        } else {
            self.conditions.join(" AND ")
        }
    }
}

/// The condition of `scope` on the study aliased `s`.
fn scope_condition(w: &mut Where, scope: &Scope) {
    match scope {
        Scope::Everything => {}
        Scope::OwnRecord(resident) => {
            let p = w.next(Param::Int(*resident));
            w.push(format!("s.resident_id = {p}"));
        }
        Scope::Reach {
            root,
            institution,
            residents,
        } => {
            let (low, high) = root.subtree_range();
            let low = w.next(Param::Text(low));
            let high = w.next(Param::Text(high));
            let mut any = vec![format!(
                "(s.division_code >= {low} AND s.division_code < {high})"
            )];
            if let Some(institution) = institution {
                let p = w.next(Param::Int(*institution));
                let now = w.next(Param::Time(crate::now()));
                any.push(format!("s.institution_id = {p}"));
                any.push(format!(
                    "EXISTS (SELECT 1 FROM imaging_share sh WHERE sh.study_id = s.id \
                     AND sh.institution_id = {p} AND sh.expires_at > {now})"
                ));
            }
            for r in residents {
                let p = w.next(Param::Int(*r));
                any.push(format!("s.resident_id = {p}"));
            }
            w.push(format!("({})", any.join(" OR ")));
        }
    }
}

/// Search studies (QIDO-RS `/studies`), newest study date first, inside `scope`. Returns
/// the page and whether more rows follow it.
pub(crate) async fn search_studies(
    store: &Store,
    scope: &Scope,
    q: &StudyQuery,
) -> Result<(Vec<Study>, bool)> {
    let mut w = Where::default();
    scope_condition(&mut w, scope);
    if !q.study_uids.is_empty() {
        let marks: Vec<String> = q
            .study_uids
            .iter()
            .map(|u| w.next(Param::Text(u.clone())))
            .collect();
        w.push(format!("s.study_uid IN ({})", marks.join(", ")));
    }
    if let Some(pid) = q.patient_id.as_deref().and_then(TextMatch::parse) {
        match &pid {
            TextMatch::Exact(v) => {
                let p = w.next(Param::Text(v.clone()));
                let h = w.next(Param::Bytes(store.keys().lookup_hash(Field::IdCard, v)));
                w.push(format!("(s.patient_id = {p} OR s.id_card_hash = {h})"));
            }
            other => w.text("s.patient_id", other),
        }
    }
    if let Some(name) = q.patient_name.as_deref().and_then(TextMatch::parse) {
        w.text("s.patient_name", &name);
    }
    if let Some(acc) = q.accession_number.as_deref().and_then(TextMatch::parse) {
        w.text("s.accession_number", &acc);
    }
    for (column, from, to) in [
        ("s.study_date", q.study_date_from, q.study_date_to),
        ("s.patient_birth_date", q.birth_date_from, q.birth_date_to),
    ] {
        if let Some(from) = from {
            let p = w.next(Param::Date(from));
            w.push(format!("{column} >= {p}"));
        }
        if let Some(to) = to {
            let p = w.next(Param::Date(to));
            w.push(format!("{column} <= {p}"));
        }
    }
    if let Some(m) = q.modality.as_deref().filter(|m| !m.trim().is_empty()) {
        let p = w.next(Param::Text(m.trim().to_owned()));
        w.push(format!(
            "EXISTS (SELECT 1 FROM imaging_series x WHERE x.study_id = s.id AND x.modality = {p})"
        ));
    }
    if let Some(r) = q.resident_id {
        let p = w.next(Param::Int(r));
        w.push(format!("s.resident_id = {p}"));
    }
    if let Some(i) = q.institution_id {
        let p = w.next(Param::Int(i));
        w.push(format!("s.institution_id = {p}"));
    }
    if let Some(m) = q.match_state {
        let p = w.next(Param::Text(m.as_str().to_owned()));
        w.push(format!("s.match_state = {p}"));
    }
    let limit = q.limit.clamp(1, 1000);
    let lim = w.next(Param::Int(limit + 1));
    let off = w.next(Param::Int(q.offset.max(0)));
    // Study date newest first, NULL dates (a modality that sent none) last on both
    // backends, in an order the index (study_date, id) gives by a backward scan: SQLite
    // sorts NULL first ascending, so last descending; PostgreSQL needs NULLS LAST said.
    let order = match store.backend() {
        Backend::Sqlite => "s.study_date DESC, s.id DESC",
        Backend::Postgres => "s.study_date DESC NULLS LAST, s.id DESC",
    };
    let sql = format!(
        "SELECT {STUDY_COLUMNS} FROM imaging_study s WHERE {} \
         ORDER BY {order} LIMIT {lim} OFFSET {off}",
        w.sql()
    );
    let mut rows: Vec<Study> = on_pool!(store, |pool| {
        let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &w.params)
            .fetch_all(pool)
            .await?;
        rows.iter().map(study).collect::<Result<Vec<_>>>()
    })?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

/// One study by its Study Instance UID.
pub(crate) async fn study_by_uid(store: &Store, study_uid: &str) -> Result<Study> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM imaging_study s WHERE s.study_uid = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(study_uid)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("study"))?;
        study(&row)
    })
}

/// One study by its id.
pub(crate) async fn study_by_id(store: &Store, id: i64) -> Result<Study> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM imaging_study s WHERE s.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("study"))?;
        study(&row)
    })
}

/// The series of a study, by series number.
pub(crate) async fn series_of(store: &Store, study_id: i64) -> Result<Vec<Series>> {
    let sql = format!(
        "SELECT {SERIES_COLUMNS} FROM imaging_series se JOIN imaging_study s ON s.id = se.study_id \
         WHERE se.study_id = $1 ORDER BY se.series_number IS NULL, se.series_number, se.id"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(study_id)
            .fetch_all(pool)
            .await?;
        rows.iter().map(series).collect::<Result<Vec<_>>>()
    })
}

/// Which instances of a study to list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceFilter {
    pub series_uid: Option<String>,
    pub sop_uid: Option<String>,
    pub modality: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// The instances of a study (optionally one series or one instance), by series and
/// instance number.
pub(crate) async fn instances_of(
    store: &Store,
    study_id: i64,
    filter: &InstanceFilter,
) -> Result<Vec<Instance>> {
    let mut w = Where::default();
    let p = w.next(Param::Int(study_id));
    w.push(format!("i.study_id = {p}"));
    if let Some(s) = &filter.series_uid {
        let p = w.next(Param::Text(s.clone()));
        w.push(format!("se.series_uid = {p}"));
    }
    if let Some(s) = &filter.sop_uid {
        let p = w.next(Param::Text(s.clone()));
        w.push(format!("i.sop_uid = {p}"));
    }
    if let Some(m) = &filter.modality {
        let p = w.next(Param::Text(m.clone()));
        w.push(format!("se.modality = {p}"));
    }
    let limit = if filter.limit <= 0 {
        i64::MAX
    } else {
        filter.limit
    };
    let lim = w.next(Param::Int(limit));
    let off = w.next(Param::Int(filter.offset.max(0)));
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM {INSTANCE_FROM} WHERE {} \
         ORDER BY se.series_number IS NULL, se.series_number, se.id, \
         i.instance_number IS NULL, i.instance_number, i.id LIMIT {lim} OFFSET {off}",
        w.sql()
    );
    on_pool!(store, |pool| {
        let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &w.params)
            .fetch_all(pool)
            .await?;
        rows.iter().map(instance).collect::<Result<Vec<_>>>()
    })
}

/// The stored DICOM JSON metadata of the instances of a study (optionally one series or
/// one instance), in the order of [`instances_of`].
pub(crate) async fn metadata_of(
    store: &Store,
    study_id: i64,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> Result<Vec<String>> {
    let mut w = Where::default();
    let p = w.next(Param::Int(study_id));
    w.push(format!("i.study_id = {p}"));
    if let Some(s) = series_uid {
        let p = w.next(Param::Text(s.to_owned()));
        w.push(format!("se.series_uid = {p}"));
    }
    if let Some(s) = sop_uid {
        let p = w.next(Param::Text(s.to_owned()));
        w.push(format!("i.sop_uid = {p}"));
    }
    let sql = format!(
        "SELECT i.metadata FROM imaging_instance i JOIN imaging_series se ON se.id = i.series_id \
         WHERE {} ORDER BY se.series_number IS NULL, se.series_number, se.id, \
         i.instance_number IS NULL, i.instance_number, i.id",
        w.sql()
    );
    on_pool!(store, |pool| {
        bind_all!(
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.as_str())),
            &w.params
        )
        .fetch_all(pool)
        .await
    })
    .map_err(Into::into)
}

/// The ID-card number among the patient identifiers, if any (the hash is what is kept).
fn id_card_of(new: &NewInstance) -> Option<String> {
    let today = crate::now().date_naive();
    imaging_rules::id_card_among(
        std::iter::once(new.patient_id.as_str())
            .chain(new.other_patient_ids.iter().map(String::as_str)),
        today,
    )
    .map(|n| n.as_str().to_owned())
}

/// The matching view of a study's patient.
fn person_of(new: &NewInstance, id_card: Option<String>) -> Person {
    Person {
        name: imaging_rules::matching_name(&new.patient_name),
        sex: imaging_rules::sex(&new.patient_sex),
        birth_date: new.patient_birth_date,
        id_card,
        phone: None,
        village: None,
        household: None,
        address: None,
    }
}

/// The outcome of matching a study's patient against the residents.
#[derive(Clone, Debug, PartialEq)]
pub struct MatchResult {
    pub state: MatchState,
    pub resident_id: Option<i64>,
    pub score: Option<f64>,
    pub candidates: Vec<Candidate>,
}

/// Match a study's patient: an ID-card hit links; else name keys with the birth date
/// give candidates, scored by the county's matcher. See the module docs.
pub async fn match_patient(store: &Store, new: &NewInstance) -> Result<MatchResult> {
    let id_card = id_card_of(new);
    let keys = store.keys();
    // Every identifier sent is tried against the residents' hashed ID-card numbers, not
    // only the valid ones: a number mistyped once is usually stored mistyped everywhere,
    // and a hospital number cannot hash to a resident's ID card by chance.
    let hashes: Vec<Vec<u8>> = std::iter::once(new.patient_id.as_str())
        .chain(new.other_patient_ids.iter().map(String::as_str))
        .map(str::trim)
        .filter(|v| v.len() >= 15)
        .map(|v| keys.lookup_hash(Field::IdCard, v))
        .collect();
    for hash in &hashes {
        let hit: Option<i64> = on_pool!(store, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM resident WHERE id_card_hash = $1 AND merged_into IS NULL",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await
        })?;
        if let Some(id) = hit {
            return Ok(MatchResult {
                state: MatchState::Linked,
                resident_id: Some(id),
                score: None,
                candidates: Vec::new(),
            });
        }
    }
    let me = person_of(new, id_card);
    if me.name.is_empty() {
        return Ok(MatchResult {
            state: MatchState::Unmatched,
            resident_id: None,
            score: None,
            candidates: Vec::new(),
        });
    }
    let name_keys = yiwei_domain::name::pinyin_keys(&me.name);
    let mut ids: Vec<i64> = on_pool!(store, |pool| {
        let mut ids: Vec<i64> = Vec::new();
        for key in name_keys.iter().take(8) {
            ids.extend(
                sqlx::query_scalar::<_, i64>(
                    "SELECT r.id FROM resident_name_key k JOIN resident r ON r.id = k.resident_id \
                     WHERE k.key = $1 AND r.merged_into IS NULL \
                     AND ($2 IS NULL OR r.birth_date = $2) LIMIT 20",
                )
                .bind(key)
                .bind(me.birth_date)
                .fetch_all(pool)
                .await?,
            );
        }
        Ok::<_, StoreError>(ids)
    })?;
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(50);
    let matcher = crate::empi::matcher(store).await?;
    let mut scored = Vec::new();
    for id in ids {
        let other = crate::empi::stored_person(store, id).await?;
        let s = rules::score(&me, &other, &matcher.weights, &matcher.thresholds);
        if s.decision != Decision::Distinct {
            scored.push((id, s));
        }
    }
    scored.sort_by(|a, b| b.1.total.total_cmp(&a.1.total));
    let candidates: Vec<Candidate> = scored
        .iter()
        .map(|(id, s)| Candidate {
            resident_id: *id,
            score: (s.total * 100.0).round() / 100.0,
        })
        .collect();
    Ok(match scored.first() {
        // A single link-level candidate links; two at link level is for a person to decide.
        Some((id, best))
            if best.decision == Decision::Link
                && scored
                    .get(1)
                    .is_none_or(|(_, s)| s.decision != Decision::Link) =>
        {
            MatchResult {
                state: MatchState::Linked,
                resident_id: Some(*id),
                score: Some(best.total),
                candidates: Vec::new(),
            }
        }
        Some(_) => MatchResult {
            state: MatchState::Review,
            resident_id: None,
            score: None,
            candidates,
        },
        None => MatchResult {
            state: MatchState::Unmatched,
            resident_id: None,
            score: None,
            candidates,
        },
    })
}

/// The division a study's rows carry: the resident's village, else the institution's.
async fn division_for(store: &Store, resident: Option<i64>, institution: i64) -> Result<String> {
    on_pool!(store, |pool| {
        let d: Option<String> = match resident {
            Some(r) => {
                sqlx::query_scalar("SELECT division_code FROM resident WHERE id = $1")
                    .bind(r)
                    .fetch_optional(pool)
                    .await?
            }
            None => None,
        };
        match d {
            Some(d) => Ok::<_, StoreError>(d),
            None => Ok(
                sqlx::query_scalar("SELECT division_code FROM institution WHERE id = $1")
                    .bind(institution)
                    .fetch_optional(pool)
                    .await?
                    .ok_or(StoreError::NotFound("institution"))?,
            ),
        }
    })
}

fn masked_patient_id(new: &NewInstance, id_card: &Option<String>) -> String {
    match id_card {
        Some(n) if new.patient_id.trim().eq_ignore_ascii_case(n) => yiwei_domain::mask::id_card(n),
        _ => new.patient_id.trim().to_owned(),
    }
}

/// Index one instance received from `institution_id` (the file is already in the blob
/// store). A new study is matched to a resident first (`matched`, from [`match_patient`];
/// ignored when the study exists). `event` is the gate's allowed-write event; it is
/// completed with the instance and appended in the same transaction. A SOP instance
/// stored before with the same bytes is [`Stored::AlreadyStored`]; with other bytes it is
/// refused as `Conflict { constraint: "imaging_instance.sop_uid" }`; an instance whose
/// series belongs to another study as `Conflict { constraint: "imaging_series.study" }`.
pub(crate) async fn store_instance(
    store: &Store,
    institution_id: i64,
    stored_by: Option<i64>,
    new: &NewInstance,
    matched: &MatchResult,
    event: Event,
) -> Result<Stored> {
    let now = crate::now();
    let id_card = id_card_of(new);
    let id_hash = id_card
        .as_deref()
        .map(|n| store.keys().lookup_hash(Field::IdCard, n));
    let division = division_for(store, matched.resident_id, institution_id).await?;
    let candidates = json!(
        matched
            .candidates
            .iter()
            .map(|c| json!({"resident_id": c.resident_id, "score": c.score}))
            .collect::<Vec<_>>()
    )
    .to_string();
    let mut tx = store.begin().await?;

    // The instance, if it is already here.
    let existing: Option<(i64, i64, String)> = on_tx!(&mut tx, |conn| {
        let row =
            sqlx::query("SELECT id, study_id, sha256 FROM imaging_instance WHERE sop_uid = $1")
                .bind(&new.sop_uid)
                .fetch_optional(&mut *conn)
                .await?;
        row.map(|r| Ok::<_, StoreError>((r.col("id")?, r.col("study_id")?, r.col("sha256")?)))
            .transpose()
    })?;
    if let Some((instance_id, study_id, sha)) = existing {
        if sha == new.sha256 {
            return Ok(Stored::AlreadyStored {
                study_id,
                instance_id,
            });
        }
        return Err(StoreError::Conflict {
            constraint: "imaging_instance.sop_uid".into(),
        });
    }

    // The study: found, or opened with the match result.
    let found: Option<(i64, Option<i64>, String)> = on_tx!(&mut tx, |conn| {
        let row = sqlx::query(
            "SELECT id, resident_id, division_code FROM imaging_study WHERE study_uid = $1",
        )
        .bind(&new.study_uid)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok::<_, StoreError>((r.col("id")?, r.col("resident_id")?, r.col("division_code")?))
        })
        .transpose()
    })?;
    let (study_id, resident_id, division, new_study) = match found {
        Some((id, resident, division)) => (id, resident, division, false),
        None => {
            let id: i64 = on_tx!(&mut tx, |conn| {
                sqlx::query_scalar(
                    "INSERT INTO imaging_study (study_uid, resident_id, division_code, institution_id, \
                     match_state, match_score, match_candidates, patient_id, id_card_hash, patient_name, \
                     patient_birth_date, patient_sex, study_date, study_time, accession_number, study_id, \
                     description, referring_physician, institution_name, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                     $18, $19, $20, $20) RETURNING id",
                )
                .bind(&new.study_uid)
                .bind(matched.resident_id)
                .bind(&division)
                .bind(institution_id)
                .bind(matched.state.as_str())
                .bind(matched.score)
                .bind(&candidates)
                .bind(masked_patient_id(new, &id_card))
                .bind(&id_hash)
                .bind(new.patient_name.trim())
                .bind(new.patient_birth_date)
                .bind(new.patient_sex.trim())
                .bind(new.study_date)
                .bind(new.study_time.trim())
                .bind(new.accession_number.trim())
                .bind(new.study_id.trim())
                .bind(new.study_description.trim())
                .bind(new.referring_physician.trim())
                .bind(new.institution_name.trim())
                .bind(now)
                .fetch_one(&mut *conn)
                .await
            })?;
            (id, matched.resident_id, division, true)
        }
    };

    // The series.
    let found: Option<(i64, i64)> = on_tx!(&mut tx, |conn| {
        let row = sqlx::query("SELECT id, study_id FROM imaging_series WHERE series_uid = $1")
            .bind(&new.series_uid)
            .fetch_optional(&mut *conn)
            .await?;
        row.map(|r| Ok::<_, StoreError>((r.col("id")?, r.col("study_id")?)))
            .transpose()
    })?;
    let (series_id, new_series) = match found {
        Some((_, other)) if other != study_id => {
            return Err(StoreError::Conflict {
                constraint: "imaging_series.study".into(),
            });
        }
        Some((id, _)) => (id, false),
        None => {
            let id: i64 = on_tx!(&mut tx, |conn| {
                sqlx::query_scalar(
                    "INSERT INTO imaging_series (study_id, series_uid, resident_id, division_code, \
                     institution_id, modality, body_part, series_number, description, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                )
                .bind(study_id)
                .bind(&new.series_uid)
                .bind(resident_id)
                .bind(&division)
                .bind(institution_id)
                .bind(new.modality.trim())
                .bind(new.body_part.trim())
                .bind(new.series_number)
                .bind(new.series_description.trim())
                .bind(now)
                .fetch_one(&mut *conn)
                .await
            })?;
            (id, true)
        }
    };

    let instance_id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO imaging_instance (series_id, study_id, sop_uid, sop_class_uid, resident_id, \
             division_code, institution_id, instance_number, transfer_syntax, n_rows, n_columns, \
             n_frames, size_bytes, sha256, blob_key, metadata, stored_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             RETURNING id",
        )
        .bind(series_id)
        .bind(study_id)
        .bind(&new.sop_uid)
        .bind(&new.sop_class_uid)
        .bind(resident_id)
        .bind(&division)
        .bind(institution_id)
        .bind(new.instance_number)
        .bind(&new.transfer_syntax)
        .bind(new.rows)
        .bind(new.columns)
        .bind(new.frames.max(1))
        .bind(new.size_bytes)
        .bind(&new.sha256)
        .bind(&new.blob_key)
        .bind(&new.metadata)
        .bind(stored_by)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })?;

    // Counters, and the study's modality and body-part lists when a series was added.
    on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE imaging_series SET n_instances = n_instances + 1 WHERE id = $1")
            .bind(series_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE imaging_study SET n_instances = n_instances + 1, size_bytes = size_bytes + $2, \
             n_series = n_series + $3, updated_at = $4 WHERE id = $1",
        )
        .bind(study_id)
        .bind(new.size_bytes)
        .bind(i64::from(new_series))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok::<_, StoreError>(())
    })?;
    if new_series {
        refresh_lists(&mut tx, store.backend(), study_id).await?;
    }

    let mut event = event.object("imaging_instance", instance_id);
    if let Some(r) = resident_id {
        event = event.resident(r);
    }
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(Stored::New {
        study_id,
        series_id,
        instance_id,
        new_study,
    })
}

/// Recompute a study's ModalitiesInStudy and body parts from its series.
async fn refresh_lists(tx: &mut Tx<'_>, backend: Backend, study_id: i64) -> Result<()> {
    let agg = match backend {
        Backend::Sqlite => {
            "(SELECT COALESCE(group_concat(v, ','), '') FROM \
             (SELECT DISTINCT {c} AS v FROM imaging_series WHERE study_id = $1 AND {c} <> '' ORDER BY v))"
        }
        Backend::Postgres => {
            "(SELECT COALESCE(string_agg(DISTINCT {c}, ',' ORDER BY {c}), '') \
             FROM imaging_series WHERE study_id = $1 AND {c} <> '')"
        }
    };
    let sql = format!(
        "UPDATE imaging_study SET modalities = {}, body_parts = {} WHERE id = $1",
        agg.replace("{c}", "modality"),
        agg.replace("{c}", "body_part")
    );
    on_tx!(tx, |conn| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(study_id)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// Studies waiting for a person to link them (review, then unmatched), oldest first,
/// inside `scope`.
pub(crate) async fn match_queue(
    store: &Store,
    scope: &Scope,
    limit: i64,
    offset: i64,
) -> Result<Vec<Study>> {
    let mut w = Where::default();
    scope_condition(&mut w, scope);
    w.push("s.match_state IN ('review', 'unmatched')".to_owned());
    let lim = w.next(Param::Int(limit.clamp(1, 1000)));
    let off = w.next(Param::Int(offset.max(0)));
    let sql = format!(
        "SELECT {STUDY_COLUMNS} FROM imaging_study s WHERE {} \
         ORDER BY s.match_state, s.id LIMIT {lim} OFFSET {off}",
        w.sql()
    );
    on_pool!(store, |pool| {
        let rows = bind_all!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &w.params)
            .fetch_all(pool)
            .await?;
        rows.iter().map(study).collect::<Result<Vec<_>>>()
    })
}

/// Link a study (and its series and instances) to a resident by a person's decision:
/// `match_state` becomes `manual`, the rows take the resident's village. `event` is the
/// gate's allowed-write event, appended in the same transaction.
pub(crate) async fn link(
    store: &Store,
    study_id: i64,
    resident_id: i64,
    event: Event,
) -> Result<()> {
    let study = study_by_id(store, study_id).await?;
    let division = division_for(store, Some(resident_id), study.institution_id).await?;
    let now = crate::now();
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE imaging_study SET resident_id = $2, division_code = $3, match_state = 'manual', \
             match_candidates = '[]', updated_at = $4 WHERE id = $1",
        )
        .bind(study_id)
        .bind(resident_id)
        .bind(&division)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        for table in ["imaging_series", "imaging_instance"] {
            let sql = format!(
                "UPDATE {table} SET resident_id = $2, division_code = $3 WHERE study_id = $1"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(study_id)
                .bind(resident_id)
                .bind(&division)
                .execute(&mut *conn)
                .await?;
        }
        Ok::<_, StoreError>(())
    })?;
    let event = event
        .object("imaging_study", study_id)
        .resident(resident_id)
        .reason("link study to resident");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Share a study with another institution until `expires_at` (ties the resident to it).
/// `event` is the gate's allowed event, appended in the same transaction.
pub(crate) async fn share(
    store: &Store,
    study_id: i64,
    institution_id: i64,
    reason: &str,
    shared_by: Option<i64>,
    lasts: Duration,
    event: Event,
) -> Result<i64> {
    let now = crate::now();
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO imaging_share (study_id, institution_id, reason, shared_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(study_id)
        .bind(institution_id)
        .bind(reason.trim())
        .bind(shared_by)
        .bind(now)
        .bind(now + lasts)
        .fetch_one(&mut *conn)
        .await
    })?;
    audit::append_in(
        &mut tx,
        store.keys().audit_key(),
        &event.object("imaging_share", id),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Whether a study is shared with `institution_id` and the share has not expired.
pub(crate) async fn shared_with(store: &Store, study_id: i64, institution_id: i64) -> Result<bool> {
    let now = crate::now();
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM imaging_share WHERE study_id = $1 AND institution_id = $2 AND expires_at > $3",
        )
        .bind(study_id)
        .bind(institution_id)
        .bind(now)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// Whether `institution_id` holds a study tie to the resident: a study done there in the
/// last [`STUDY_TIE_DAYS`] days, or a study shared with it and not expired.
pub(crate) async fn institution_holds(
    store: &Store,
    institution_id: i64,
    resident_id: i64,
) -> Result<bool> {
    let now = crate::now();
    let since = now - Duration::days(STUDY_TIE_DAYS);
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM imaging_study WHERE resident_id = $2 AND institution_id = $1 \
                     AND created_at > $3) \
                  + (SELECT COUNT(*) FROM imaging_share sh JOIN imaging_study s ON s.id = sh.study_id \
                     WHERE s.resident_id = $2 AND sh.institution_id = $1 AND sh.expires_at > $4)",
        )
        .bind(institution_id)
        .bind(resident_id)
        .bind(since)
        .bind(now)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// Counts for the imaging overview: studies, instances, bytes, and studies waiting in the
/// match queue. Aggregate, no personal data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub studies: i64,
    pub instances: i64,
    pub bytes: i64,
    pub waiting: i64,
}

/// The county's imaging totals (aggregate figures, open to any role with aggregates).
pub async fn totals(store: &Store) -> Result<Totals> {
    on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT COUNT(*) AS studies, CAST(COALESCE(SUM(n_instances), 0) AS BIGINT) AS instances, \
             CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes, \
             CAST(COALESCE(SUM(CASE WHEN match_state IN ('review', 'unmatched') THEN 1 ELSE 0 END), 0) AS BIGINT) AS waiting \
             FROM imaging_study",
        )
        .fetch_one(pool)
        .await?;
        Ok(Totals {
            studies: row.col("studies")?,
            instances: row.col("instances")?,
            bytes: row.col("bytes")?,
            waiting: row.col("waiting")?,
        })
    })
}

/// Where an indexed instance's file is and what it held when stored (`yiwei imaging
/// verify`). No personal data: keys are UIDs and a hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceFile {
    pub id: i64,
    pub blob_key: String,
    pub size_bytes: i64,
    pub sha256: String,
}

/// How many instances are indexed.
pub async fn instance_count(store: &Store) -> Result<i64> {
    Ok(on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM imaging_instance")
            .fetch_one(pool)
            .await
    })?)
}

/// The files of the indexed instances with ids above `after`, in id order, at most `limit`.
pub async fn instance_files(store: &Store, after: i64, limit: i64) -> Result<Vec<InstanceFile>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT id, blob_key, size_bytes, sha256 FROM imaging_instance \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InstanceFile {
                    id: r.col("id")?,
                    blob_key: r.col("blob_key")?,
                    size_bytes: r.col("size_bytes")?,
                    sha256: r.col("sha256")?,
                })
            })
            .collect()
    })
}
