//! `yiwei import charges FILE.csv`: the medical charges per visit that institutions send
//! for the cost alerts (防返贫监测预警, docs/cost_alerts.md).
//!
//! Streamed like `yiwei import residents` ([`crate::import`]): [`BATCH_ROWS`] rows at a
//! time, each row checked whole by `yiwei_domain::cost_alert::Charge::parse` and the
//! column parsers here; a bad row is skipped and reported as `row, field, reason` (never
//! with the value: it may be an ID-card number), nothing of it is stored. Good rows are
//! stored by `yiwei_store::access::cost_alert::submit_charges` in one transaction per
//! batch. A visit already on file (same institution and visit number) is updated in place,
//! so importing a file twice changes nothing. A patient the master index does not know is
//! kept in the unmatched-charges queue, never dropped.
//!
//! Columns (English or Chinese headers, any order):
//! `institution 机构代码` (required unless `--institution`), `visit_id 就诊流水号`
//! (required), `visit_date 就诊日期` (required, YYYY-MM-DD), `kind 就诊类型`
//! (outpatient|inpatient|other, default outpatient), `total_fen 总费用`,
//! `insurance_paid_fen 医保支付`, `out_of_pocket_fen 个人自付` (required, integer fen),
//! `policy_out_of_pocket_fen 政策范围内自付` (optional fen), and the patient: `id_card
//! 身份证号`, `resident_id 居民ID`, `name 姓名` (at least one of them).

use std::collections::HashMap;
use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use yiwei_domain::cost_alert::{Charge, ChargeInput, VisitKind, parse_fen};
use yiwei_domain::id_card::IdCardNumber;
use yiwei_store::Store;
use yiwei_store::access::Viewer;
use yiwei_store::cost_alert::{NewCharge, Patient};
use yiwei_store::user::User;

/// Every accepted column with its Chinese header.
pub const COLUMNS: &[(&str, &str)] = &[
    ("institution", "机构代码"),
    ("visit_id", "就诊流水号"),
    ("visit_date", "就诊日期"),
    ("kind", "就诊类型"),
    ("total_fen", "总费用"),
    ("insurance_paid_fen", "医保支付"),
    ("out_of_pocket_fen", "个人自付"),
    ("policy_out_of_pocket_fen", "政策范围内自付"),
    ("id_card", "身份证号"),
    ("resident_id", "居民ID"),
    ("name", "姓名"),
];

/// Rows per transaction.
pub const BATCH_ROWS: usize = 5_000;

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    /// New visits stored.
    pub created: u64,
    /// Visits already on file (re-submitted, updated in place).
    pub updated: u64,
    /// Stored but matched to no resident: in the unmatched queue.
    pub unmatched: u64,
    pub refused: u64,
}

fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}');
    COLUMNS
        .iter()
        .find(|(en, zh)| h.eq_ignore_ascii_case(en) || h == *zh)
        .map(|(en, _)| *en)
}

/// Turn one CSV record into a charge, or the problems of the row as (field, reason).
pub fn row_to_charge(
    columns: &[Option<&'static str>],
    record: &csv::StringRecord,
    institutions: &HashMap<String, i64>,
    default_institution: Option<i64>,
    today: NaiveDate,
) -> Result<NewCharge, Vec<(String, String)>> {
    let get = |name: &str| -> &str {
        columns
            .iter()
            .position(|c| *c == Some(name))
            .and_then(|i| record.get(i))
            .map(str::trim)
            .unwrap_or("")
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut err = |field: &str, reason: &str| errors.push((field.to_owned(), reason.to_owned()));
    let institution = match get("institution") {
        "" => default_institution,
        code => institutions.get(code).copied(),
    };
    if institution.is_none() {
        err(
            "institution",
            "unknown or missing institution code (机构代码不存在)",
        );
    }
    let visit_id = get("visit_id");
    if visit_id.is_empty() || visit_id.chars().count() > 64 {
        err(
            "visit_id",
            "give the institution's visit number, 1-64 characters",
        );
    }
    let visit_date = NaiveDate::parse_from_str(get("visit_date"), "%Y-%m-%d").ok();
    if visit_date.is_none() {
        err("visit_date", "not a date (YYYY-MM-DD)");
    }
    let kind = VisitKind::parse(get("kind"));
    if kind.is_none() {
        err("kind", "use outpatient, inpatient or other");
    }
    let mut amount = |field: &str, required: bool| -> Option<Option<i64>> {
        let text = get(field);
        if text.is_empty() && !required {
            return Some(None);
        }
        match parse_fen(text) {
            Some(v) => Some(Some(v)),
            None => {
                errors.push((
                    field.to_owned(),
                    "not a whole number of fen (整数，单位为分)".into(),
                ));
                None
            }
        }
    };
    let total = amount("total_fen", true);
    let paid = amount("insurance_paid_fen", true);
    let oop = amount("out_of_pocket_fen", true);
    let policy = amount("policy_out_of_pocket_fen", false);
    let id_card = get("id_card");
    let id_card = if id_card.is_empty() {
        None
    } else {
        match IdCardNumber::parse(id_card, today) {
            Ok(n) => Some(n.as_str().to_owned()),
            Err(e) => {
                errors.push(("id_card".into(), e.to_string()));
                None
            }
        }
    };
    let resident_id = match get("resident_id") {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => {
                errors.push(("resident_id".into(), "not a resident id".into()));
                None
            }
        },
    };
    let name = get("name");
    if name.chars().count() > 50 {
        errors.push(("name".into(), "longer than 50 characters".into()));
    }
    if get("id_card").is_empty() && get("resident_id").is_empty() && name.is_empty() {
        errors.push((
            "id_card".into(),
            "name the patient: id_card, resident_id or at least name".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let (
        Some(institution),
        Some(visit_date),
        Some(kind),
        Some(Some(total)),
        Some(Some(paid)),
        Some(Some(oop)),
        Some(policy),
    ) = (institution, visit_date, kind, total, paid, oop, policy)
    else {
        return Err(vec![("(row)".into(), "incomplete row".into())]);
    };
    let charge = Charge::parse(
        ChargeInput {
            visit_date,
            kind,
            total_fen: total,
            insurance_paid_fen: paid,
            out_of_pocket_fen: oop,
            policy_out_of_pocket_fen: policy,
        },
        today,
    )
    .map_err(|problems| {
        problems
            .into_iter()
            .map(|p| (p.field().code().to_owned(), p.to_string()))
            .collect::<Vec<_>>()
    })?;
    Ok(NewCharge {
        institution_id: institution,
        external_visit_id: visit_id.to_owned(),
        charge,
        patient: Patient {
            resident_id,
            id_card,
            name: name.to_owned(),
        },
        source: "import",
    })
}

/// Import charges from `input` as `user`; refused rows go to `report`. `progress` gets
/// the bytes read after each batch.
#[expect(
    clippy::too_many_arguments,
    reason = "the CLI's inputs, passed through"
)]
pub async fn charges(
    store: &Store,
    user: &User,
    default_institution: Option<i64>,
    input: impl Read,
    today: NaiveDate,
    mut report: impl Write,
    mut progress: impl FnMut(u64),
    batch_rows: usize,
) -> Result<Summary> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers = reader
        .headers()
        .context("cannot read the header line (is the file UTF-8 CSV?)")?
        .clone();
    let columns: Vec<Option<&'static str>> = headers.iter().map(column_of).collect();
    let unknown: Vec<&str> = headers
        .iter()
        .zip(&columns)
        .filter(|(_, c)| c.is_none())
        .map(|(h, _)| h)
        .collect();
    if !unknown.is_empty() {
        let accepted: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
        bail!(
            "unknown columns {unknown:?}; accepted: {}",
            accepted.join(", ")
        );
    }
    for required in [
        "visit_id",
        "visit_date",
        "total_fen",
        "insurance_paid_fen",
        "out_of_pocket_fen",
    ] {
        if !columns.contains(&Some(required)) {
            bail!("the file has no {required} column");
        }
    }
    if default_institution.is_none() && !columns.contains(&Some("institution")) {
        bail!("the file has no institution column; give --institution CODE");
    }
    let institutions: HashMap<String, i64> =
        yiwei_store::org::list(store, &Default::default(), 100_000, 0)
            .await?
            .0
            .into_iter()
            .map(|i| (i.code, i.id))
            .collect();
    writeln!(report, "row,field,reason").context("cannot write the error report")?;
    let viewer = Viewer {
        user,
        remote_addr: None,
    };
    let mut summary = Summary::default();
    let mut record = csv::StringRecord::new();
    let mut batch: Vec<NewCharge> = Vec::new();
    let mut refused: Vec<(u64, String, String)> = Vec::new();
    let mut lines = 0usize;
    loop {
        let row = summary.rows + 1;
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                summary.rows += 1;
                summary.refused += 1;
                lines += 1;
                refused.push((row, "(line)".into(), e.to_string()));
                continue;
            }
        };
        if more {
            summary.rows += 1;
            lines += 1;
            match row_to_charge(&columns, &record, &institutions, default_institution, today) {
                Ok(c) => batch.push(c),
                Err(problems) => {
                    summary.refused += 1;
                    refused.extend(problems.into_iter().map(|(f, r)| (row, f, r)));
                }
            }
        }
        if lines >= batch_rows.max(1) || (!more && lines > 0) {
            let rows = std::mem::take(&mut batch);
            if !rows.is_empty() {
                let out = yiwei_store::access::cost_alert::submit_charges(
                    store, &viewer, &rows, "import",
                )
                .await
                .with_context(|| {
                    format!(
                        "the database failed in the batch ending at row {}",
                        summary.rows
                    )
                })?;
                for s in out {
                    if s.created {
                        summary.created += 1;
                    } else {
                        summary.updated += 1;
                    }
                    if s.resident_id.is_none() {
                        summary.unmatched += 1;
                    }
                }
            }
            for (row, field, reason) in refused.drain(..) {
                let reason = reason.replace('"', "'");
                writeln!(report, "{row},{field},\"{reason}\"")
                    .context("cannot write the error report")?;
            }
            lines = 0;
            progress(reader.position().byte());
        }
        if !more {
            break;
        }
    }
    report.flush().context("cannot write the error report")?;
    Ok(summary)
}
