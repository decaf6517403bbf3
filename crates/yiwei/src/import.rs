//! `yiwei import residents FILE.csv`: bring existing resident records into the county,
//! each row through the same checks as the web form and through the master patient index.
//!
//! The file is read as a stream, a batch of [`BATCH_ROWS`] rows at a time (a million rows
//! never sit in memory). A row is either imported whole or not at all: it is checked first
//! (`yiwei_domain::person_input` and the WS 365 value sets); a bad row is skipped and
//! reported as `row, field, reason` — never with the value, which may be an ID-card
//! number. The good rows of a batch are then registered through the master patient index
//! by `yiwei_store::import::register_batch`, which decides each row as a single
//! registration would (rows of a person already known link to the existing resident
//! instead of creating a duplicate, doubtful pairs go to the review queue, and a row is
//! matched against the earlier rows of the file too) and writes the batch, its review
//! pairs and one audit event per row in one transaction. The import runs as a named user
//! (`--as`), so reach rules apply and the audit log shows who imported what.
//!
//! Columns (English or Chinese headers, any order; see docs/import.md):
//! `name 姓名` (required), `sex 性别`, `birth_date 出生日期`, `id_card 身份证号`,
//! `no_id_reason 无证原因`, `phone 电话`, `village 村代码` (required, 12 digits),
//! `address 现住址`, `ethnicity 民族`, `residence_type 常住类型`, `blood_abo ABO血型`,
//! `blood_rh Rh血型`, `education 文化程度`, `occupation 职业`, `marital 婚姻状况`,
//! `payment 支付方式`, `contact_name 联系人`, `contact_phone 联系人电话`, `record_no 档案编号`.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use yiwei_domain::person_input::{self, RawPerson};
use yiwei_domain::ws365;
use yiwei_store::Store;
use yiwei_store::access::{AccessError, Viewer};
use yiwei_store::empi::Outcome;
use yiwei_store::resident::{Details, NewResident};
use yiwei_store::user::User;

/// Every accepted column with its Chinese header.
pub const COLUMNS: &[(&str, &str)] = &[
    ("name", "姓名"),
    ("sex", "性别"),
    ("birth_date", "出生日期"),
    ("id_card", "身份证号"),
    ("no_id_reason", "无证原因"),
    ("phone", "电话"),
    ("village", "村代码"),
    ("address", "现住址"),
    ("ethnicity", "民族"),
    ("residence_type", "常住类型"),
    ("blood_abo", "ABO血型"),
    ("blood_rh", "Rh血型"),
    ("education", "文化程度"),
    ("occupation", "职业"),
    ("marital", "婚姻状况"),
    ("payment", "支付方式"),
    ("contact_name", "联系人"),
    ("contact_phone", "联系人电话"),
    ("record_no", "档案编号"),
];

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub created: u64,
    pub linked: u64,
    pub queued_for_review: u64,
    pub refused: u64,
}

/// One refused row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based data row (the header is row 0), as a spreadsheet user counts after the header.
    pub row: u64,
    pub field: String,
    pub reason: String,
}

/// Map a header to its column name.
fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}');
    COLUMNS
        .iter()
        .find(|(en, zh)| h.eq_ignore_ascii_case(en) || h == *zh)
        .map(|(en, _)| *en)
}

/// Check one coded field against its WS 365 value set.
fn coded(field: &'static str, value: &str, errors: &mut Vec<(String, String)>) -> Option<String> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    let ok = match field {
        "ethnicity" => ws365::Ethnicity::parse(v).map(|x| x.code()).ok(),
        "residence_type" => ws365::ResidenceType::parse(v).map(|x| x.code()).ok(),
        "blood_abo" => ws365::BloodAbo::parse(v).map(|x| x.code()).ok(),
        "blood_rh" => ws365::BloodRh::parse(v).map(|x| x.code()).ok(),
        "education" => ws365::Education::parse(v).map(|x| x.code()).ok(),
        "occupation" => ws365::Occupation::parse(v).map(|x| x.code()).ok(),
        "marital" => ws365::MaritalStatus::parse(v).map(|x| x.code()).ok(),
        "payment" => ws365::PaymentMethod::parse(v).map(|x| x.code()).ok(),
        _ => Some(v),
    };
    match ok {
        Some(code) => Some(code.to_owned()),
        None => {
            errors.push((
                field.to_owned(),
                format!("not a code of the WS 365 {field} value set"),
            ));
            None
        }
    }
}

/// Turn one CSV record into a resident, or the problems of the row.
pub fn row_to_resident(
    columns: &[Option<&'static str>],
    record: &csv::StringRecord,
    today: NaiveDate,
) -> Result<NewResident, Vec<(String, String)>> {
    let get = |name: &str| -> &str {
        columns
            .iter()
            .position(|c| *c == Some(name))
            .and_then(|i| record.get(i))
            .unwrap_or("")
    };
    let raw = RawPerson {
        name: get("name").to_owned(),
        sex: get("sex").to_owned(),
        birth_date: get("birth_date").to_owned(),
        id_card: get("id_card").to_owned(),
        no_id_reason: get("no_id_reason").to_owned(),
        phone: get("phone").to_owned(),
        contact_phone: get("contact_phone").to_owned(),
        village: get("village").to_owned(),
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    let person = person_input::check(&raw, today, false).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| (p.field.to_owned(), p.en))
            .collect::<Vec<_>>()
    });
    let mut details = Details {
        address: get("address").trim().to_owned(),
        ethnicity: coded("ethnicity", get("ethnicity"), &mut errors),
        residence_type: coded("residence_type", get("residence_type"), &mut errors),
        blood_abo: coded("blood_abo", get("blood_abo"), &mut errors),
        blood_rh: coded("blood_rh", get("blood_rh"), &mut errors),
        education: coded("education", get("education"), &mut errors),
        occupation: coded("occupation", get("occupation"), &mut errors),
        marital: coded("marital", get("marital"), &mut errors),
        payment: coded("payment", get("payment"), &mut errors)
            .into_iter()
            .collect(),
        contact_name: Some(get("contact_name").trim().to_owned()).filter(|c| !c.is_empty()),
        profile: serde_json::json!({}),
        ..Details::default()
    };
    let record_no = get("record_no").trim();
    if !record_no.is_empty() {
        match yiwei_domain::record_no::RecordNo::parse(record_no) {
            Ok(n) => details.record_no = Some(n.to_string()),
            Err(e) => errors.push(("record_no".into(), e.to_string())),
        }
    }
    match person {
        Err(mut problems) => {
            problems.append(&mut errors);
            Err(problems)
        }
        Ok(_) if !errors.is_empty() => Err(errors),
        Ok(p) => {
            details.no_id_reason = p.no_id_reason;
            Ok(NewResident {
                division: p.village,
                name: p.name,
                sex: p.sex.to_owned(),
                birth_date: p.birth_date,
                id_card: p.id_card,
                phone: p.phone,
                contact_phone: p.contact_phone,
                details,
            })
        }
    }
}

/// Rows registered per batch: matched with set-based lookups and written in one
/// transaction. Measured on a 1,000,000-resident county (docs/benchmarks.md): per-row
/// overhead is gone by about 2,000 rows, and larger batches only hold the write lock
/// longer and keep more candidates in memory.
pub const BATCH_ROWS: usize = 5_000;

/// Import residents from `input` as `user`; refused rows go to `report`. `progress` is
/// called after each batch is written, with the bytes read so far and the summary so far.
pub async fn residents(
    store: &Store,
    user: &User,
    input: impl Read + Send + 'static,
    today: NaiveDate,
    report: impl Write,
    progress: impl FnMut(u64, &Summary),
) -> Result<Summary> {
    residents_in_batches(store, user, input, today, report, progress, BATCH_ROWS).await
}

/// The rows of one batch, with the report lines of the rows refused while reading it.
#[derive(Default)]
struct Batch {
    /// Data rows read into this batch, refused ones included.
    lines: u64,
    /// Rows of this batch refused while reading (bad line or bad field).
    refused_rows: u64,
    rows: Vec<u64>,
    residents: Vec<NewResident>,
    refused: Vec<(u64, String, String)>,
    /// Bytes of the input read when the batch was complete.
    bytes: u64,
}

/// Batches read ahead of the one being written. One is enough to keep the reader busy
/// while a batch is written; more would only hold more rows in memory.
const READ_AHEAD: usize = 1;

/// [`residents`] with `batch_rows` rows per batch (tests use small batches to cross batch
/// boundaries with few rows).
///
/// Reading and checking the file runs on a thread of its own, a batch ahead of the batch
/// being matched and written, over a bounded channel: the two stages use both cores. The
/// batches reach the master index one after the other and in file order, so every row is
/// decided exactly as in a single stream (matching itself stays inside each batch's write
/// transaction, see `yiwei_store::import`).
pub async fn residents_in_batches(
    store: &Store,
    user: &User,
    input: impl Read + Send + 'static,
    today: NaiveDate,
    mut report: impl Write,
    mut progress: impl FnMut(u64, &Summary),
    batch_rows: usize,
) -> Result<Summary> {
    let batch_rows = batch_rows.max(1) as u64;
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let headers = reader
        .headers()
        .context("cannot read the header line (is the file CSV?)")?
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
    for required in ["name", "village"] {
        if !columns.contains(&Some(required)) {
            bail!("the file has no {required} column");
        }
    }
    writeln!(report, "row,field,reason").context("cannot write the error report")?;
    let viewer = Viewer {
        user,
        remote_addr: None,
    };

    let (batches, mut received) = tokio::sync::mpsc::channel::<Batch>(READ_AHEAD);
    let read = tokio::task::spawn_blocking(move || {
        read_batches(reader, &columns, today, batch_rows, &batches)
    });
    let session = yiwei_store::import::Session::start(store)
        .await
        .context("cannot prepare the database for the import")?;
    let mut summary = Summary::default();
    let mut failed = None;
    while let Some(batch) = received.recv().await {
        summary.rows += batch.lines;
        summary.refused += batch.refused_rows;
        let bytes = batch.bytes;
        if let Err(e) = register(store, &session, &viewer, batch, &mut summary, &mut report).await {
            failed = Some(e);
            break;
        }
        progress(bytes, &summary);
    }
    // Stop the reader (if the import failed) before waiting for it.
    drop(received);
    let finished = session.finish(store).await;
    read.await.context("the file reader stopped")?;
    if let Some(e) = failed {
        return Err(e);
    }
    finished.context("cannot restore the database settings after the import")?;
    report.flush().context("cannot write the error report")?;
    Ok(summary)
}

/// Read and check the file's rows into batches of `batch_rows` lines and send them on, in
/// file order. Stops at the end of the file, or when the receiver is gone.
fn read_batches<R: Read>(
    mut reader: csv::Reader<R>,
    columns: &[Option<&'static str>],
    today: NaiveDate,
    batch_rows: u64,
    batches: &tokio::sync::mpsc::Sender<Batch>,
) {
    let mut row = 0u64;
    let mut record = csv::StringRecord::new();
    let mut batch = Batch::default();
    loop {
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                // A malformed line (wrong number of fields, bad quoting, not UTF-8):
                // report it and go on with the next line.
                row += 1;
                batch.lines += 1;
                batch.refused_rows += 1;
                batch.refused.push((row, "(line)".into(), e.to_string()));
                continue;
            }
        };
        if more {
            row += 1;
            batch.lines += 1;
            match row_to_resident(columns, &record, today) {
                Ok(new) => {
                    batch.rows.push(row);
                    batch.residents.push(new);
                }
                Err(problems) => {
                    batch.refused_rows += 1;
                    batch
                        .refused
                        .extend(problems.into_iter().map(|(f, r)| (row, f, r)));
                }
            }
        }
        if batch.lines >= batch_rows || (!more && batch.lines > 0) {
            let mut done = std::mem::take(&mut batch);
            done.bytes = reader.position().byte();
            if batches.blocking_send(done).is_err() {
                return;
            }
        }
        if !more {
            return;
        }
    }
}

/// Register one batch through the master index, count what happened and write the
/// report lines of its refused rows in row order.
async fn register(
    store: &Store,
    session: &yiwei_store::import::Session,
    viewer: &Viewer<'_>,
    mut batch: Batch,
    summary: &mut Summary,
    report: &mut impl Write,
) -> Result<()> {
    let outcomes = match session
        .register_batch(store, viewer, &batch.residents)
        .await
    {
        Ok(registered) => registered.outcomes,
        Err(e) => {
            let first = batch.rows.first().copied().unwrap_or(summary.rows);
            let last = batch.rows.last().copied().unwrap_or(summary.rows);
            return Err(e).context(format!(
                "the database failed at rows {first}-{last}; rows before {first} are imported"
            ));
        }
    };
    for (row, outcome) in batch.rows.iter().zip(outcomes) {
        match outcome {
            Ok(Outcome::Created { review, .. }) => {
                summary.created += 1;
                summary.queued_for_review += review.len() as u64;
            }
            Ok(Outcome::Linked { .. }) => summary.linked += 1,
            Err(e) => {
                summary.refused += 1;
                let field = match &e {
                    AccessError::Refused(_) => "village",
                    _ => "(row)",
                };
                batch.refused.push((*row, field.into(), e.to_string()));
            }
        }
    }
    // Rows refused while reading come before those refused by the index: keep row order,
    // and within a row the order the problems were found in.
    batch.refused.sort_by_key(|(row, _, _)| *row);
    for (row, field, reason) in &batch.refused {
        write_error(report, *row, field, reason)?;
    }
    Ok(())
}

fn write_error(report: &mut impl Write, row: u64, field: &str, reason: &str) -> Result<()> {
    let reason = reason.replace('"', "'");
    writeln!(report, "{row},{field},\"{reason}\"").context("cannot write the error report")
}

/// The default report path: `FILE.errors.csv` beside the input.
pub fn report_path(input: &Path) -> std::path::PathBuf {
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(".errors.csv");
    input.with_file_name(name)
}
