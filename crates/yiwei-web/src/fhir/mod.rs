//! FHIR R4 (4.0.1) JSON API under `/fhir`.
//!
//! Resources are hand-written serde types for exactly what we serve (the `fhir` crate's R4
//! models take minutes to compile). Errors are `OperationOutcome`s with the English text
//! in `diagnostics` and the Chinese in `details.text`. Search is strict: an unknown
//! parameter or a malformed value is a 400, not silently ignored, so a client learns of a
//! typo at once (FHIR R4 §3.1.1.5 allows either; `Prefer: handling=lenient` is not yet
//! supported). Paging uses `_count` (default 50, max 500) and `_offset`, with `self`,
//! `next` and `previous` links in the Bundle.

pub mod booking;
pub mod bundle;
pub mod care_plan;
pub mod care_team;
// cost alerts (防返贫监测预警)
pub mod charge_item;
pub mod condition;
pub mod detected_issue;
pub mod diagnostic_report;
pub mod encounter;
pub mod episode_of_care;
pub mod flag;
pub mod imaging_study;
pub mod immunization;
pub mod location;
pub mod measure_report;
pub mod observation;
pub mod organization;
pub mod patient;
pub mod practitioner;
pub mod referral;
pub mod task;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use yiwei_store::StoreError;

pub const FHIR_JSON: &str = "application/fhir+json";

/// A FHIR JSON response with the right content type.
pub struct Fhir(pub StatusCode, pub Value);

impl IntoResponse for Fhir {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(self.1)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        response
    }
}

/// An error as an OperationOutcome.
#[derive(Debug)]
pub struct Outcome {
    pub status: StatusCode,
    /// IssueType code (`invalid`, `not-found`, `forbidden`, `login`, `exception`, …).
    pub code: &'static str,
    pub english: String,
    pub chinese: String,
}

impl Outcome {
    pub fn invalid(english: impl Into<String>, chinese: impl Into<String>) -> Outcome {
        Outcome {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            english: english.into(),
            chinese: chinese.into(),
        }
    }

    pub fn not_found(what: &str) -> Outcome {
        Outcome {
            status: StatusCode::NOT_FOUND,
            code: "not-found",
            english: format!("{what} not found"),
            chinese: "未找到该资源".into(),
        }
    }

    pub fn login() -> Outcome {
        Outcome {
            status: StatusCode::UNAUTHORIZED,
            code: "login",
            english: "send Authorization: Bearer <token>".into(),
            chinese: "请提供访问令牌".into(),
        }
    }
}

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(fhir.issue = self.code, error = %self.english, "fhir request failed");
        }
        let body = json!({
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": if self.status.is_server_error() { "fatal" } else { "error" },
                "code": self.code,
                "details": {"text": self.chinese},
                "diagnostics": self.english,
            }]
        });
        let mut response = Fhir(self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for Outcome {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Outcome::not_found(what),
            StoreError::Invalid(msg) => Outcome::invalid(msg, "请求有误"),
            StoreError::Unavailable(_) => Outcome {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "transient",
                english: "the database is unavailable".into(),
                chinese: "数据库暂时不可用".into(),
            },
            other => Outcome {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "exception",
                english: other.to_string(),
                chinese: "系统内部错误".into(),
            },
        }
    }
}

/// The user of a FHIR request; refused with a `login` OperationOutcome otherwise.
#[derive(Clone, Debug)]
pub struct FhirUser(pub yiwei_store::user::User);

impl axum::extract::FromRequestParts<crate::AppState> for FhirUser {
    type Rejection = Outcome;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, Outcome> {
        match crate::auth::ApiUser::resolve(parts, state).await? {
            Some(user) => Ok(FhirUser(user)),
            None => Err(Outcome::login()),
        }
    }
}

/// The client's address, for the audit log (absent in in-process tests).
#[derive(Clone, Debug)]
pub struct Remote(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Remote(crate::auth::remote_addr(parts)))
    }
}

/// The parsed common search parameters.
#[derive(Clone, Debug)]
pub struct Paging {
    pub count: i64,
    pub offset: i64,
}

/// Split a raw query into pairs, refusing parameters outside `allowed` (plus `_count`,
/// `_offset`, `_format`), and read the paging parameters.
pub fn parse_search(
    raw: Option<&str>,
    allowed: &[&str],
) -> Result<(Vec<(String, String)>, Paging), Outcome> {
    let mut pairs = Vec::new();
    let mut paging = Paging {
        count: 50,
        offset: 0,
    };
    for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let k = percent_decode(k)
            .ok_or_else(|| Outcome::invalid("query is not valid UTF-8", "查询参数编码有误"))?;
        let v = percent_decode(v)
            .ok_or_else(|| Outcome::invalid("query is not valid UTF-8", "查询参数编码有误"))?;
        match k.as_str() {
            "_count" => {
                paging.count = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (0..=500).contains(n))
                    .ok_or_else(|| {
                        Outcome::invalid(
                            format!("_count must be a number from 0 to 500, got {v:?}"),
                            "_count 须为 0 到 500 的整数",
                        )
                    })?
            }
            "_offset" => {
                paging.offset = v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                    Outcome::invalid(
                        format!("_offset must be a non-negative number, got {v:?}"),
                        "_offset 须为非负整数",
                    )
                })?
            }
            "_format" => {
                if !matches!(v.as_str(), "json" | "application/json" | FHIR_JSON) {
                    return Err(Outcome::invalid(
                        "only JSON is supported (_format=json)",
                        "仅支持 JSON 格式",
                    ));
                }
            }
            name if allowed.contains(&name) => pairs.push((k, v)),
            _ => {
                return Err(Outcome::invalid(
                    format!(
                        "unknown search parameter {k:?}; supported: {}",
                        allowed.join(", ")
                    ),
                    format!("不支持的查询参数 {k}"),
                ));
            }
        }
    }
    Ok((pairs, paging))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A searchset Bundle with paging links.
pub fn bundle<T: Serialize>(
    base: &str,
    resource_type: &str,
    query: &str,
    resources: &[T],
    total: i64,
    paging: &Paging,
) -> Value {
    let link = |offset: i64| {
        let mut q = query.to_owned();
        if !q.is_empty() {
            q.push('&');
        }
        format!(
            "{base}/{resource_type}?{q}_count={}&_offset={offset}",
            paging.count
        )
    };
    let mut links = vec![json!({"relation": "self", "url": link(paging.offset)})];
    if paging.offset + paging.count < total {
        links.push(json!({"relation": "next", "url": link(paging.offset + paging.count)}));
    }
    if paging.offset > 0 {
        links.push(
            json!({"relation": "previous", "url": link((paging.offset - paging.count).max(0))}),
        );
    }
    let entries: Vec<Value> = resources
        .iter()
        .map(|r| {
            let resource = serde_json::to_value(r).unwrap_or(Value::Null);
            let id = resource.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
            json!({"fullUrl": format!("{base}/{resource_type}/{id}"), "resource": resource, "search": {"mode": "match"}})
        })
        .collect();
    json!({"resourceType": "Bundle", "type": "searchset", "total": total, "link": links, "entry": entries})
}

/// The CapabilityStatement at `/fhir/metadata`.
pub fn capability_statement(base: &str) -> Value {
    let common = [
        ("_count", "number", "Page size (0-500, default 50)"),
        ("_offset", "number", "Rows to skip (paging)"),
    ];
    let params = |list: &[(&str, &str, &str)]| -> Vec<Value> {
        list.iter()
            .chain(common.iter())
            .map(|(name, ty, doc)| json!({"name": name, "type": ty, "documentation": doc}))
            .collect()
    };
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "yiwei",
        "kind": "instance",
        "software": {"name": "yiwei", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "yiwei county health information platform (医卫)", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "interaction": [{"code": "batch"}, {"code": "transaction"}],
            "security": {
                "cors": false,
                "description": "Bearer tokens (yiwei user token NAME) or a browser session; the user's role and division reach apply."
            },
            "resource": [
                {
                    "type": "Organization",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("_id", "token", "Logical id"),
                        ("name", "string", "Part of the name, Chinese or English"),
                        ("type", "token", "Institution kind (urn:yiwei:institution-kind)"),
                        ("identifier", "token", "Registration code"),
                        ("partof", "reference", "Medical community: Organization/mc-N"),
                    ]),
                },
                {
                    "type": "Location",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("_id", "token", "Division code"),
                        ("name", "string", "Part of the name"),
                        ("partof", "reference", "Location/<parent division code>"),
                    ]),
                },
                {
                    "type": "Patient",
                    "documentation": "Residents. Reads are audited and reveal the ID-card number and phone; search results omit both. Create goes through the master patient index (200 + X-Yiwei-Empi: linked when the person exists). Update needs If-Match.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}, {"code": "update"}],
                    "versioning": "versioned-update",
                    "updateCreate": false,
                    "searchParam": params(&[
                        ("_id", "token", "Logical id"),
                        ("identifier", "token", "urn:yiwei:id-card|<number> or urn:yiwei:health-record-no|<17 digits>"),
                        ("name", "string", "Name in hanzi, pinyin or initials (prefix)"),
                        ("telecom", "token", "Mobile number"),
                    ]),
                },
                {
                    "type": "Encounter",
                    "documentation": "Encounters from every institution of the county (health exams, outpatient, inpatient, follow-up, home visits). Reads are audited; search needs patient or subject. class is AMB, HH or IMP; type carries urn:yiwei:encounter-kind.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("date", "date", "period.start, with eq, ge, gt, le, lt; dates without a zone are county time"),
                    ]),
                },
                {
                    "type": "Observation",
                    "documentation": "Measured figures of health exams (健康体检表) and programme visits (随访), LOINC-coded with UCUM units, id <encounter id>-<figure>; vital signs follow the R4 vital-signs profiles (blood pressure as an 85354-9 panel, per arm for exams). Fasting glucose is 14771-0 (mmol/L). Search needs patient, subject or encounter.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id>"),
                        ("subject", "reference", "Patient/<id>"),
                        ("encounter", "reference", "Encounter/<id>"),
                        ("code", "token", "http://loinc.org|<code> (comma for or)"),
                        ("date", "date", "effectiveDateTime, with eq, ge, gt, le, lt"),
                    ]),
                },
                {
                    "type": "CareTeam",
                    "documentation": "Family-doctor teams (家庭医生团队): members as participants (Practitioner/<user id>, role urn:yiwei:fd-team-role), managingOrganization the team's institution. Search by patient returns the teams holding or having held the resident's contracts (checked and audited); without it, the teams of the user's area.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id>: teams of the resident's contracts"),
                        ("subject", "reference", "Patient/<id> (as patient)"),
                        ("status", "token", "active | inactive"),
                        ("_id", "token", "Logical id"),
                    ]),
                },
                {
                    "type": "Condition",
                    "documentation": "Notifiable-disease case reports (传染病报告卡). code: urn:yiwei:notifiable-disease (local codes; no ICD-10 is sent, the list carries none) with the subtype in urn:yiwei:notifiable-disease-subtype. verificationStatus from 病例分类1: 疑似 provisional, 临床诊断/确诊/病原携带者 confirmed, 阳性检测 unconfirmed, deleted duplicate entered-in-error; the exact class is a second coding (urn:yiwei:case-class). clinicalStatus is not sent: the card does not record resolution. Reads are audited; search without patient is for CDC staff within their reach and returns the cards that count (pending, probable duplicate, accepted).",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id>"),
                        ("subject", "reference", "Patient/<id>"),
                        ("code", "token", "urn:yiwei:notifiable-disease|<code> or a bare code (comma for or)"),
                        ("onset-date", "date", "onsetDateTime (onset date), with eq, ge, gt, le, lt"),
                        ("recorded-date", "date", "recordedDate (when the card reached yiwei), with eq, ge, gt, le, lt"),
                        ("area", "token", "yiwei custom parameter (R4 Condition has none): a GB/T 2260 division code; cards whose resident's village lies inside it"),
                    ]),
                },
                {
                    "type": "DetectedIssue",
                    "documentation": "Early-warning signals (预警信号). code: the method (urn:yiwei:warning-method); evidence.code the disease; evidence.detail points at contained Observations #observed (count, threshold as referenceRange.high, expected and the method's parameters as components, subject Location/<area>) and #baseline (window, n, mean, sd, note). status preliminary while raised/assigned, final once verified; the workflow status is meta.tag urn:yiwei:signal-status; workflow steps are mitigations. Not audited: no personal data.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("identified", "date", "The signal's day, with eq, ge, gt, le, lt"),
                        ("date", "date", "yiwei alias of identified"),
                        ("code", "token", "A disease (urn:yiwei:notifiable-disease) or a method (urn:yiwei:warning-method); at most one of each"),
                        ("area", "token", "yiwei custom parameter: a GB/T 2260 division code inside the user's reach (default: the user's reach)"),
                        ("status", "token", "yiwei custom parameter: raised | assigned | verified | responding | closed (comma for or)"),
                    ]),
                },
                // cost alerts (防返贫监测预警)
                {
                    "type": "ChargeItem",
                    "documentation": "Medical charges per visit for the cost alerts (防返贫监测预警). identifier urn:yiwei:visit-id (unique per performingOrganization: posting a visit again updates it), occurrenceDateTime the visit date, code urn:yiwei:visit-kind, priceOverride the total (CNY), extensions urn:yiwei:fhir:StructureDefinition:charge-insurance-paid, -out-of-pocket (required) and -policy-out-of-pocket (valueMoney). subject Patient/<id> or an identifier in urn:yiwei:id-card (an unknown person waits in the unmatched queue). Bad amounts or dates: 400 naming each field. A batch or transaction Bundle of POST ChargeItem at /fhir is stored in one database transaction. Search needs patient (audited).",
                    "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("date", "date", "occurrenceDateTime, with eq, ge, gt, le, lt"),
                    ]),
                },
                {
                    "type": "Flag",
                    "documentation": "Monthly cost alerts (防返贫监测预警) on a resident: status active while open or being checked, inactive once closed (meta.tag urn:yiwei:cost-alert-status open | checking | closed); code the rule (urn:yiwei:cost-alert-rule); period the window; extensions urn:yiwei:fhir:StructureDefinition:cost-alert-month, -amount, -threshold, -basis and -outcome. With patient: an audited read of the record; without: the alerts of the user's reach (one audited list read; masked names for the bureau).",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id>"),
                        ("subject", "reference", "Patient/<id>"),
                        ("date", "date", "The alert month, YYYY-MM"),
                        ("status", "token", "yiwei custom parameter: open | checking | closed"),
                    ]),
                },
                {
                    "type": "Schedule",
                    "documentation": "Booking schedules (排班) of an institution: actor the Organization (and Practitioner), serviceCategory urn:yiwei:service-kind, sessions in comment.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("actor", "reference", "Organization/<id>"),
                        ("active", "token", "true | false"),
                    ]),
                },
                {
                    "type": "Slot",
                    "documentation": "Bookable slots (号源): status free while an ordinary seat is left, busy when full, busy-unavailable when closed; seat counts in the urn:yiwei:slot-seats extension.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("schedule", "reference", "Schedule/<id>"),
                        ("start", "date", "with eq, ge, gt, le, lt; dates without a zone are county time"),
                        ("status", "token", "free | busy | busy-unavailable"),
                    ]),
                },
                {
                    "type": "Appointment",
                    "documentation": "Bookings (预约). Create books participant Patient into slot[0] (409 when full or already held, 422 for a past or unopened slot); update with status cancelled cancels. Reads are audited; search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}, {"code": "update"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or actor)"),
                        ("actor", "reference", "Patient/<id>"),
                    ]),
                },
                {
                    "type": "ServiceRequest",
                    "documentation": "Two-way referrals (双向转诊): code urn:yiwei:referral-direction up|down, priority routine|urgent|stat, requester and performer the two Organizations. Reads are audited; search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("status", "token", "active | completed | revoked (comma for or)"),
                    ]),
                },
                {
                    "type": "EpisodeOfCare",
                    "documentation": "Family-doctor contracts (家庭医生签约服务): type urn:yiwei:episode-type|family-doctor-contract, period from the first to the last day in force, careManager the contract doctor, team the CareTeam. Reads are audited; search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id> (yiwei alias of patient)"),
                        ("status", "token", "planned | active | finished | cancelled (comma for or)"),
                    ]),
                },
                {
                    "type": "Practitioner",
                    "documentation": "Staff (医务人员): one per staff account, name the display name, identifier urn:yiwei:username. Residents' own accounts are not practitioners. No phones.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("_id", "token", "The user id"),
                        ("name", "string", "Part of the display name or username"),
                        ("identifier", "token", "urn:yiwei:username|<username>"),
                        ("active", "token", "true | false (disabled accounts)"),
                    ]),
                },
                {
                    "type": "PractitionerRole",
                    "documentation": "A staff account's platform role (code urn:yiwei:role), its institution and its area (Location); same id as its Practitioner.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("_id", "token", "The user id"),
                        ("practitioner", "reference", "Practitioner/<id>"),
                        ("organization", "reference", "Organization/<id>"),
                        ("role", "token", "urn:yiwei:role|clinician, village_doctor, …"),
                        ("active", "token", "true | false"),
                    ]),
                },
                {
                    "type": "Immunization",
                    "documentation": "Doses of the national immunization programme (预防接种). vaccineCode uses urn:yiwei:vaccine; protocolApplied gives the series and doseNumberPositiveInt; voided doses are entered-in-error. Create checks the dose against the schedule in force on its date: a dose that breaks it is refused with 422 and one issue per rule, unless the extension urn:yiwei:fhir:StructureDefinition:immunization-override-reason gives a reason. Reads are audited; search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required)"),
                        ("date", "date", "occurrenceDateTime, with eq, ge, gt, le, lt"),
                        ("vaccine-code", "token", "[urn:yiwei:vaccine|]<code> (comma for or)"),
                        ("status", "token", "completed | entered-in-error (comma for or)"),
                    ]),
                },
                // imaging
                {
                    "type": "ImagingStudy",
                    "documentation": "Studies of the imaging cloud (影像检查): identifier the Study Instance UID (urn:dicom:uid) and accession number (ACSN); modality in the DICOM code system; subject the Patient when the master patient index linked the study; series with instances (read only). The images themselves are served by DICOMweb at /dicom-web. Reads are audited; search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("date", "date", "yiwei alias of started (StudyDate), with eq, ge, gt, le, lt"),
                        ("modality", "token", "A DICOM modality code (CT, MR, US, CR, DX …; comma for or)"),
                    ]),
                },
                {
                    "type": "CarePlan",
                    "documentation": "Public-health programmes (国家基本公共卫生服务项目): one plan per enrolment (enr-<id>), per age-based programme (age-<patient>-<programme>) and per condition programme enrolled from the record (rec-<patient>-<programme>), with _ written -. category is the programme (urn:yiwei:programme); activity.detail one per work-list row (not-started while open, cancelled when missed, statusReason as text, scheduledPeriod the window) and per visit (completed, outcomeReference the Encounter). Reads are audited; search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("status", "token", "active | completed (comma for or)"),
                        ("category", "token", "[urn:yiwei:programme|]<programme code> (comma for or)"),
                        ("date", "date", "period overlaps, with eq, ge, gt, le, lt"),
                    ]),
                },
                // recognition
                {
                    "type": "DiagnosticReport",
                    "documentation": "Radiology reports (影像诊断报告), one resource per version: status registered (draft), preliminary (AI draft, extension urn:yiwei:ai-model), final, amended; conclusion the impression, presentedForm the findings as text/plain; imagingStudy the ImagingStudy. Reads are audited as reads of the study; a resident sees only signed versions. Search needs patient.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (required, or subject)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("status", "token", "registered | preliminary | final | amended"),
                        ("date", "date", "last change (signing) on a county date, with eq, ge, le"),
                    ]),
                },
                {
                    "type": "Task",
                    "documentation": "Two kinds of work item. Referral work items (双向转诊): id referral-<n>, focus the ServiceRequest, owner the receiving Organization, restriction.period.end the time to answer by; searched with owner (your institution) and optionally status=requested,accepted,in-progress. The programme work list (工作清单): one Task per due visit, id <patient>.<programme>.<visit>.<YYYYMMDD>. status draft (upcoming), ready (due, overdue), cancelled (missed); businessStatus urn:yiwei:due-status keeps upcoming | due | overdue | missed. restriction.period is the window; basedOn the CarePlan. With patient: one audited read of the record; without: the work list of the user's area (list rule, one audit row; windows opening by the le bound or this month's end, misses of the last 31 days).",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("patient", "reference", "Patient/<id> (optional: without it, the user's area)"),
                        ("subject", "reference", "Patient/<id>"),
                        ("status", "token", "draft | ready | cancelled (comma for or)"),
                        ("code", "token", "[urn:yiwei:programme|]<programme code> (comma for or)"),
                        ("period", "date", "restriction.period (the window) overlaps, with eq, ge, gt, le, lt"),
                        ("owner", "reference", "Organization/<your institution>: the incoming referral queue instead (ids referral-<n>, focus the ServiceRequest); only with status"),
                    ]),
                },
                {
                    "type": "MeasureReport",
                    "documentation": "Indicator figures (summary) from the maintained aggregates: one report per indicator for a division and period; id <indicator>.<period>.<division>. Aggregates only; the division must be inside the user's reach.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": params(&[
                        ("measure", "token", "Indicator code or <base>/Measure/<code> (comma for or); default every maintained indicator"),
                        ("period", "date", "2025, 2025-Q1 or 2025-03 (default this year)"),
                        ("subject", "reference", "Location/<division code> (default the user's reach)"),
                    ]),
                }
            ]
        }]
    })
}
