//! Logical backup and restore, on either backend and across them.
//!
//! `yiwei backup` reads every table inside one read transaction (a consistent snapshot,
//! taken while the server keeps running: SQLite in WAL mode lets writers go on, PostgreSQL
//! runs it `REPEATABLE READ READ ONLY`) and writes JSON lines:
//!
//! ```text
//! {"format":"yiwei-backup","version":1,"schema_version":1,"backend":"sqlite","key_fingerprint":"…","created_at":"…"}
//! {"table":"division","columns":["code","parent_code",…]}
//! ["451226",null,…]
//! …
//! {"end":true,"rows":1234,"sha256":"…"}
//! ```
//!
//! The trailer's SHA-256 covers every byte before it. Restore reads the whole file once to
//! check the checksum, the format, the schema version, the column lists and the master-key
//! fingerprint, and refuses a non-empty target, before it writes anything; then it loads
//! everything in one transaction. Encrypted columns stay encrypted: the backup is useless
//! without the master key, which is backed up separately. Sessions are not backed up.
//!
//! For very large PostgreSQL installations, `pg_dump --format=custom` and `pg_basebackup`
//! with WAL archiving are the tools (see docs/operations.md); this format is what moves a
//! county between SQLite and PostgreSQL.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Backend, Result, Row, Store, StoreError, Tx, on_pool, on_tx};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
    Bool,
    Bytes,
    Time,
    Date,
}

struct Table {
    name: &'static str,
    key: &'static str,
    key_kind: Kind,
    /// Whether `id` is an identity column whose sequence must move past restored ids.
    identity: bool,
    columns: &'static [(&'static str, Kind)],
}

use Kind::*;

/// Every table that holds data, parents before children. A test checks this list against
/// the live schema, so a migration that adds a column without adding it here fails.
const TABLES: &[Table] = &[
    Table {
        name: "division",
        key: "code",
        key_kind: Text,
        identity: false,
        columns: &[
            ("code", Text),
            ("parent_code", Text),
            ("level", Text),
            ("name", Text),
            ("name_en", Text),
        ],
    },
    Table {
        name: "division_population",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("code", Text),
            ("year", Int),
            ("population", Int),
        ],
    },
    Table {
        name: "medical_community",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("name", Text),
            ("name_en", Text),
            ("county_code", Text),
        ],
    },
    Table {
        name: "institution",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("code", Text),
            ("name", Text),
            ("name_en", Text),
            ("kind", Text),
            ("division_code", Text),
            ("community_id", Int),
            ("is_lead", Bool),
            ("active", Bool),
        ],
    },
    Table {
        name: "household",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("division_code", Text),
            ("address", Text),
            ("head_resident_id", Int),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "resident",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("division_code", Text),
            ("name", Text),
            ("sex", Text),
            ("birth_date", Date),
            ("id_card_enc", Bytes),
            ("id_card_hash", Bytes),
            ("phone_enc", Bytes),
            ("phone_hash", Bytes),
            ("created_at", Time),
            ("updated_at", Time),
            ("record_no", Text),
            ("household_id", Int),
            ("relation", Text),
            ("address", Text),
            ("residence_type", Text),
            ("ethnicity", Text),
            ("blood_abo", Text),
            ("blood_rh", Text),
            ("education", Text),
            ("occupation", Text),
            ("marital", Text),
            ("payment", Text),
            ("key_groups", Text),
            ("no_id_reason", Text),
            ("contact_name", Text),
            ("contact_phone_enc", Bytes),
            ("profile", Text),
            ("merged_into", Int),
            ("version", Int),
        ],
    },
    Table {
        name: "app_user",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("username", Text),
            ("display_name", Text),
            ("role", Text),
            ("institution_id", Int),
            ("reach_code", Text),
            ("resident_id", Int),
            ("password_hash", Text),
            ("failed_logins", Int),
            ("locked_until", Time),
            ("disabled", Bool),
            ("phone_enc", Bytes),
            ("phone_hash", Bytes),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "api_token",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("token_hash", Bytes),
            ("user_id", Int),
            ("label", Text),
            ("created_at", Time),
            ("expires_at", Time),
            ("revoked_at", Time),
        ],
    },
    Table {
        name: "break_glass",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("user_id", Int),
            ("resident_id", Int),
            ("reason", Text),
            ("created_at", Time),
            ("expires_at", Time),
            ("reviewed_by", Int),
            ("reviewed_at", Time),
            ("review_note", Text),
        ],
    },
    Table {
        name: "match_review",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("candidate_id", Int),
            ("score", Real),
            ("explanation", Text),
            ("state", Text),
            ("created_at", Time),
            ("decided_by", Int),
            ("decided_at", Time),
        ],
    },
    Table {
        name: "resident_merge",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("survivor_id", Int),
            ("merged_id", Int),
            ("score", Real),
            ("reason", Text),
            ("by_user", Int),
            ("at", Time),
            ("undone_by", Int),
            ("undone_at", Time),
        ],
    },
    Table {
        name: "match_weights",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("trained_at", Time),
            ("trained_by", Int),
            ("residents", Int),
            ("random_pairs", Int),
            ("blocked_pairs", Int),
            ("prior", Real),
            ("review", Real),
            ("link", Real),
            ("weights", Text),
        ],
    },
    Table {
        name: "encounter",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("institution_id", Int),
            ("author_id", Int),
            ("kind", Text),
            ("started_at", Time),
            ("summary", Text),
            ("diagnoses", Text),
            ("created_at", Time),
            ("version", Int),
            ("voided_at", Time),
            ("voided_by", Int),
            ("void_reason", Text),
        ],
    },
    Table {
        name: "health_exam",
        key: "encounter_id",
        key_kind: Int,
        identity: false,
        columns: &[
            ("encounter_id", Int),
            ("exam_date", Date),
            ("temperature", Real),
            ("pulse", Real),
            ("respiration", Real),
            ("bp_left_sys", Real),
            ("bp_left_dia", Real),
            ("bp_right_sys", Real),
            ("bp_right_dia", Real),
            ("height_cm", Real),
            ("weight_kg", Real),
            ("waist_cm", Real),
            ("bmi", Real),
            ("fasting_glucose_mmol", Real),
            ("self_care", Text),
            ("cognition", Text),
            ("emotion", Text),
            ("sections", Text),
        ],
    },
    Table {
        name: "exam_revision",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("encounter_id", Int),
            ("version", Int),
            ("previous", Text),
            ("reason", Text),
            ("changed_by", Int),
            ("changed_at", Time),
        ],
    },
    Table {
        name: "fd_team",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("institution_id", Int),
            ("name", Text),
            ("lead_user_id", Int),
            ("created_at", Time),
            ("active", Bool),
        ],
    },
    Table {
        name: "fd_team_member",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("team_id", Int),
            ("user_id", Int),
            ("role", Text),
        ],
    },
    Table {
        name: "fd_team_village",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[("id", Int), ("team_id", Int), ("division_code", Text)],
    },
    Table {
        name: "service_package",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("code", Text),
            ("name", Text),
            ("name_en", Text),
            ("kind", Text),
            ("price_fen", Int),
            ("items", Text),
            ("active", Bool),
        ],
    },
    Table {
        name: "contract",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("team_id", Int),
            ("doctor_id", Int),
            ("package_id", Int),
            ("status", Text),
            ("starts_on", Date),
            ("ends_on", Date),
            ("ended_on", Date),
            ("signed_at", Time),
            ("signature", Text),
            ("ended_reason", Text),
            ("replaced_by", Int),
            ("created_by", Int),
            ("created_at", Time),
            ("version", Int),
        ],
    },
    Table {
        name: "contract_service",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("contract_id", Int),
            ("item_code", Text),
            ("delivered_on", Date),
            ("encounter_id", Int),
            ("recorded_by", Int),
            ("recorded_at", Time),
        ],
    },
    Table {
        name: "programme_enrolment",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("programme", Text),
            ("started_on", Date),
            ("ended_on", Date),
            ("end_reason", Text),
            ("episode", Text),
            ("created_by", Int),
            ("created_at", Time),
        ],
    },
    Table {
        name: "programme_visit",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("encounter_id", Int),
            ("enrolment_id", Int),
            ("programme", Text),
            ("visit_code", Text),
            ("visit_date", Date),
            ("division_code", Text),
            ("answers", Text),
            ("classification", Text),
            ("referral", Text),
            ("next_due_kind", Text),
            ("next_due_on", Date),
            ("recorded_by", Int),
            ("recorded_at", Time),
            ("voided_at", Time),
            ("voided_by", Int),
            ("void_reason", Text),
        ],
    },
    Table {
        name: "immunization",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("vaccine", Text),
            ("given_on", Date),
            ("lot", Text),
            ("manufacturer", Text),
            ("site", Text),
            ("institution_id", Int),
            ("division_code", Text),
            ("problems", Text),
            ("override_reason", Text),
            ("recorded_by", Int),
            ("recorded_at", Time),
            ("voided_at", Time),
            ("voided_by", Int),
            ("void_reason", Text),
        ],
    },
    Table {
        name: "outbox",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("channel", Text),
            ("topic", Text),
            ("dedupe_key", Text),
            ("body", Text),
            ("created_at", Time),
            ("status", Text),
            ("exported_at", Time),
            ("exported_by", Int),
        ],
    },
    Table {
        name: "case_report",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("card_no", Text),
            ("kind", Text),
            ("corrects_id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("township_code", Text),
            ("institution_id", Int),
            ("author_id", Int),
            ("patient_name", Text),
            ("guardian_name", Text),
            ("sex", Text),
            ("birth_date", Date),
            ("work_unit", Text),
            ("phone_enc", Bytes),
            ("belongs", Text),
            ("address_code", Text),
            ("address_detail", Text),
            ("occupation", Text),
            ("disease", Text),
            ("subtype", Text),
            ("case_class", Text),
            ("course", Text),
            ("onset_date", Date),
            ("diagnosed_at", Time),
            ("diagnosed_on", Date),
            ("death_date", Date),
            ("fill_date", Date),
            ("doctor", Text),
            ("remarks", Text),
            ("reported_at", Time),
            ("deadline_hours", Int),
            ("on_time", Bool),
            ("status", Text),
            ("duplicate_of", Int),
            ("version", Int),
        ],
    },
    Table {
        name: "case_review",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("case_id", Int),
            ("action", Text),
            ("from_status", Text),
            ("to_status", Text),
            ("reason", Text),
            ("correction_id", Int),
            ("user_id", Int),
            ("at", Time),
        ],
    },
    Table {
        name: "foodborne_case",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("institution_id", Int),
            ("author_id", Int),
            ("patient_name", Text),
            ("sex", Text),
            ("birth_date", Date),
            ("phone_enc", Bytes),
            ("address_code", Text),
            ("onset_at", Time),
            ("visit_at", Time),
            ("symptoms", Text),
            ("suspected_food", Text),
            ("food_place", Text),
            ("shared_meal", Int),
            ("shared_ill", Int),
            ("specimen_taken", Bool),
            ("diagnosis", Text),
            ("fill_date", Date),
            ("doctor", Text),
            ("reported_at", Time),
            ("on_time", Bool),
            ("status", Text),
            ("review_reason", Text),
            ("reviewed_by", Int),
            ("reviewed_at", Time),
            ("version", Int),
        ],
    },
    Table {
        name: "foodborne_review",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("case_id", Int),
            ("action", Text),
            ("from_status", Text),
            ("to_status", Text),
            ("reason", Text),
            ("by_user", Int),
            ("at", Time),
        ],
    },
    Table {
        name: "warning_signal",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("day", Date),
            ("disease", Text),
            ("division_code", Text),
            ("method", Text),
            ("parameters", Text),
            ("observed", Real),
            ("threshold", Real),
            ("expected", Real),
            ("baseline", Text),
            ("status", Text),
            ("outbreak", Bool),
            ("assigned_to", Int),
            ("raised_at", Time),
            ("verified_at", Time),
            ("closed_at", Time),
            ("version", Int),
        ],
    },
    Table {
        name: "signal_event",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("signal_id", Int),
            ("step", Text),
            ("from_status", Text),
            ("to_status", Text),
            ("notes", Text),
            ("assignee", Int),
            ("user_id", Int),
            ("at", Time),
        ],
    },
    Table {
        name: "schedule",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("institution_id", Int),
            ("department", Text),
            ("doctor_id", Int),
            ("service", Text),
            ("name", Text),
            ("sessions", Text),
            ("holidays", Text),
            ("horizon_days", Int),
            ("booking_cutoff_minutes", Int),
            ("cancel_cutoff_minutes", Int),
            ("max_reschedules", Int),
            ("green_reserved", Int),
            ("active", Bool),
            ("created_by", Int),
            ("created_at", Time),
            ("version", Int),
        ],
    },
    Table {
        name: "slot",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("schedule_id", Int),
            ("institution_id", Int),
            ("starts_at", Time),
            ("ends_at", Time),
            ("local_date", Date),
            ("capacity", Int),
            ("green_reserved", Int),
            ("booked", Int),
            ("status", Text),
        ],
    },
    Table {
        name: "booking",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("slot_id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("institution_id", Int),
            ("status", Text),
            ("channel", Text),
            ("reschedules", Int),
            ("rescheduled_from", Int),
            ("booked_by", Int),
            ("created_at", Time),
            ("updated_at", Time),
            ("cancel_reason", Text),
            ("version", Int),
        ],
    },
    Table {
        name: "waitlist",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("schedule_id", Int),
            ("local_date", Date),
            ("resident_id", Int),
            ("division_code", Text),
            ("status", Text),
            ("booking_id", Int),
            ("created_by", Int),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "referral",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("from_institution_id", Int),
            ("to_institution_id", Int),
            ("direction", Text),
            ("urgency", Text),
            ("reason", Text),
            ("summary", Text),
            ("attachments", Text),
            ("green_channel", Bool),
            ("state", Text),
            ("requested_by", Int),
            ("requested_at", Time),
            ("respond_by", Time),
            ("accepted_at", Time),
            ("closed_at", Time),
            ("decline_reason", Text),
            ("return_summary", Text),
            ("booking_id", Int),
            ("parent_id", Int),
            ("version", Int),
        ],
    },
    Table {
        name: "referral_event",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("referral_id", Int),
            ("event", Text),
            ("from_state", Text),
            ("to_state", Text),
            ("note", Text),
            ("by_user", Int),
            ("at", Time),
        ],
    },
    // cost alerts (防返贫监测预警, migration 0014)
    Table {
        name: "cost_alert_rule",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("code", Text),
            ("name_zh", Text),
            ("name_en", Text),
            ("population", Text),
            ("basis", Text),
            ("threshold_fen", Int),
            ("window_months", Int),
            ("active", Bool),
            ("version", Int),
            ("updated_by", Int),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "cost_alert_rule_history",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("rule_id", Int),
            ("version", Int),
            ("name_zh", Text),
            ("population", Text),
            ("basis", Text),
            ("threshold_fen", Int),
            ("window_months", Int),
            ("active", Bool),
            ("changed_by", Int),
            ("changed_at", Time),
            ("note", Text),
        ],
    },
    Table {
        name: "cost_charge",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("institution_id", Int),
            ("external_visit_id", Text),
            ("visit_date", Date),
            ("kind", Text),
            ("total_fen", Int),
            ("insurance_paid_fen", Int),
            ("out_of_pocket_fen", Int),
            ("policy_oop_fen", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("id_card_enc", Bytes),
            ("id_card_hash", Bytes),
            ("patient_name", Text),
            ("source", Text),
            ("matched_how", Text),
            ("matched_by", Int),
            ("matched_at", Time),
            ("received_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "cost_alert",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("month", Text),
            ("rule_id", Int),
            ("division_code", Text),
            ("population", Text),
            ("basis", Text),
            ("threshold_fen", Int),
            ("window_months", Int),
            ("window_start", Date),
            ("window_end", Date),
            ("amount_fen", Int),
            ("n_charges", Int),
            ("status", Text),
            ("outcome", Text),
            ("raised_at", Time),
            ("closed_at", Time),
            ("version", Int),
        ],
    },
    Table {
        name: "cost_alert_check",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("alert_id", Int),
            ("action", Text),
            ("outcome", Text),
            ("note", Text),
            ("checked_on", Date),
            ("from_status", Text),
            ("to_status", Text),
            ("checked_by", Int),
            ("recorded_at", Time),
        ],
    },
    Table {
        name: "cost_alert_run",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("month", Text),
            ("started_at", Time),
            ("finished_at", Time),
            ("n_rules", Int),
            ("n_hits", Int),
            ("n_new", Int),
            ("n_attached", Int),
            ("by_user", Int),
            ("source", Text),
        ],
    },
    // imaging
    Table {
        name: "imaging_study",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("study_uid", Text),
            ("resident_id", Int),
            ("division_code", Text),
            ("institution_id", Int),
            ("match_state", Text),
            ("match_score", Real),
            ("match_candidates", Text),
            ("patient_id", Text),
            ("id_card_hash", Bytes),
            ("patient_name", Text),
            ("patient_birth_date", Date),
            ("patient_sex", Text),
            ("study_date", Date),
            ("study_time", Text),
            ("accession_number", Text),
            ("study_id", Text),
            ("description", Text),
            ("referring_physician", Text),
            ("institution_name", Text),
            ("modalities", Text),
            ("body_parts", Text),
            ("n_series", Int),
            ("n_instances", Int),
            ("size_bytes", Int),
            ("referral_id", Int),
            ("booking_id", Int),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "imaging_series",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("study_id", Int),
            ("series_uid", Text),
            ("resident_id", Int),
            ("division_code", Text),
            ("institution_id", Int),
            ("modality", Text),
            ("body_part", Text),
            ("series_number", Int),
            ("description", Text),
            ("n_instances", Int),
            ("created_at", Time),
        ],
    },
    Table {
        name: "imaging_instance",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("series_id", Int),
            ("study_id", Int),
            ("sop_uid", Text),
            ("sop_class_uid", Text),
            ("resident_id", Int),
            ("division_code", Text),
            ("institution_id", Int),
            ("instance_number", Int),
            ("transfer_syntax", Text),
            ("n_rows", Int),
            ("n_columns", Int),
            ("n_frames", Int),
            ("size_bytes", Int),
            ("sha256", Text),
            ("blob_key", Text),
            ("metadata", Text),
            ("stored_by", Int),
            ("created_at", Time),
        ],
    },
    Table {
        name: "imaging_share",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("study_id", Int),
            ("institution_id", Int),
            ("reason", Text),
            ("shared_by", Int),
            ("created_at", Time),
            ("expires_at", Time),
        ],
    },
    // recognition (reports, 互认, share links)
    Table {
        name: "imaging_report",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("study_id", Int),
            ("resident_id", Int),
            ("version", Int),
            ("status", Text),
            ("findings", Text),
            ("impression", Text),
            ("amend_reason", Text),
            ("ai_model", Text),
            ("author_id", Int),
            ("signer_id", Int),
            ("signed_at", Time),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "recognition_item",
        key: "code",
        key_kind: Text,
        identity: false,
        columns: &[
            ("code", Text),
            ("name_zh", Text),
            ("name_en", Text),
            ("modality", Text),
            ("body_part", Text),
            ("validity_days", Int),
            ("price_fen", Int),
            ("patient_share_permille", Int),
            ("active", Bool),
        ],
    },
    Table {
        name: "recognition_accreditation",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("item_code", Text),
            ("institution_id", Int),
            ("hr_scope", Text),
        ],
    },
    Table {
        name: "recognition",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("resident_id", Int),
            ("division_code", Text),
            ("item_code", Text),
            ("prior_study_id", Int),
            ("performing_institution_id", Int),
            ("ordering_institution_id", Int),
            ("context", Text),
            ("context_id", Int),
            ("decision", Text),
            ("reason", Text),
            ("note", Text),
            ("hr_scope", Text),
            ("price_fen", Int),
            ("saved_patient_fen", Int),
            ("saved_institution_fen", Int),
            ("clinician_id", Int),
            ("decided_at", Time),
            ("period", Text),
        ],
    },
    Table {
        name: "imaging_share_link",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("study_id", Int),
            ("resident_id", Int),
            ("token_hash", Bytes),
            ("pin_hash", Bytes),
            ("failures", Int),
            ("n_opens", Int),
            ("created_by", Int),
            ("created_at", Time),
            ("expires_at", Time),
            ("revoked_at", Time),
            ("last_opened_at", Time),
        ],
    },
    Table {
        name: "audit_log",
        key: "seq",
        key_kind: Int,
        identity: false,
        columns: &[
            ("seq", Int),
            ("at", Time),
            ("user_id", Int),
            ("username", Text),
            ("role", Text),
            ("institution_id", Int),
            ("action", Text),
            ("outcome", Text),
            ("object_type", Text),
            ("object_id", Text),
            ("resident_id", Int),
            ("basis", Text),
            ("reason", Text),
            ("remote_addr", Text),
            ("prev_hash", Bytes),
            ("hash", Bytes),
        ],
    },
    Table {
        name: "audit_head",
        key: "id",
        key_kind: Int,
        identity: false,
        columns: &[("id", Int), ("seq", Int), ("hash", Bytes)],
    },
    // indicators: the published figures (a closed period's cannot be recomputed from
    // edited facts) and the closing records
    Table {
        name: "indicator_value",
        key: "id",
        key_kind: Int,
        identity: true,
        columns: &[
            ("id", Int),
            ("indicator", Text),
            ("period", Text),
            ("division_code", Text),
            ("breakdown", Text),
            ("numerator", Int),
            ("denominator", Int),
            ("computed_at", Time),
            ("source_version", Text),
        ],
    },
    Table {
        name: "period_close",
        key: "period",
        key_kind: Text,
        identity: false,
        columns: &[
            ("period", Text),
            ("closed_at", Time),
            ("closed_by", Int),
            ("note", Text),
        ],
    },
];

/// Tables deliberately left out of backups: sessions (a restore logs everyone out), the
/// migration ledger (the target is migrated by its own binary), and the job queue
/// (periodic jobs are enqueued again by the runner, and every job is idempotent), and the
/// name search keys (derived from names; [`restore`] rebuilds them), and the programme
/// work list (derived from visits and doses; the `programme_due` job rebuilds it), and the
/// daily case counts (derived from the case reports; the `warning_run` job refreshes them).
pub const NOT_BACKED_UP: &[&str] = &[
    "web_session",
    "schema_migrations",
    "job",
    "resident_name_key",
    "programme_due",
    "case_count",
    // indicators: refresh bookkeeping and the latest differences, rebuilt by a refresh
    "indicator_refresh",
    "indicator_difference",
];

/// Names and columns of every backed-up table, for the schema check in the tests.
pub fn covered_tables() -> Vec<(&'static str, Vec<&'static str>)> {
    TABLES
        .iter()
        .map(|t| (t.name, t.columns.iter().map(|c| c.0).collect()))
        .collect()
}

const FORMAT: &str = "yiwei-backup";
const VERSION: i64 = 1;
const PAGE: i64 = 2_000;

fn fail(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("backup file: {e}"))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Unavailable(format!("{}: {e}", path.display()))
}

fn cell(row: &impl Row, name: &str, kind: Kind) -> Result<Value> {
    Ok(match kind {
        // PostgreSQL's `audit_head.id` is INTEGER (INT4), which does not decode as i64.
        Int => match row.col::<Option<i64>>(name) {
            Ok(v) => v,
            Err(_) => row.col::<Option<i32>>(name)?.map(i64::from),
        }
        .map_or(Value::Null, Value::from),
        Real => row
            .col::<Option<f64>>(name)?
            .map_or(Value::Null, Value::from),
        Text => row
            .col::<Option<String>>(name)?
            .map_or(Value::Null, Value::from),
        Bool => row
            .col::<Option<bool>>(name)?
            .map_or(Value::Null, Value::from),
        Bytes => row
            .col::<Option<Vec<u8>>>(name)?
            .map_or(Value::Null, |b| Value::from(hex::encode(b))),
        Time => row
            .col::<Option<DateTime<Utc>>>(name)?
            .map_or(Value::Null, |t| {
                Value::from(t.to_rfc3339_opts(SecondsFormat::Micros, true))
            }),
        Date => row
            .col::<Option<NaiveDate>>(name)?
            .map_or(Value::Null, |d| {
                Value::from(d.format("%Y-%m-%d").to_string())
            }),
    })
}

/// A writer that hashes what it writes.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Hashing<W> {
    fn line(&mut self, value: &Value) -> std::io::Result<()> {
        let mut text = serde_json::to_vec(value).map_err(std::io::Error::other)?;
        text.push(b'\n');
        self.hash.update(&text);
        self.inner.write_all(&text)
    }
}

/// Write a backup of the whole store to `path`; returns the number of rows written. The
/// file appears under its name only when complete.
pub async fn write(store: &Store, path: &Path, mut progress: impl FnMut(&str, u64)) -> Result<u64> {
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).map_err(io(&partial))?;
    let mut out = Hashing {
        inner: BufWriter::new(file),
        hash: Sha256::new(),
    };
    let header = json!({
        "format": FORMAT,
        "version": VERSION,
        "schema_version": crate::migrate::current_version(store).await?,
        "backend": store.backend().as_str(),
        "key_fingerprint": store.keys().fingerprint(),
        "created_at": crate::now().to_rfc3339_opts(SecondsFormat::Micros, true),
    });
    out.line(&header).map_err(io(&partial))?;
    let mut total = 0u64;
    // One read transaction for a consistent snapshot.
    let mut tx = match store.pool() {
        crate::Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        crate::Pool::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
            Tx::Postgres(tx)
        }
    };
    for table in TABLES {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.0).collect();
        out.line(&json!({"table": table.name, "columns": columns}))
            .map_err(io(&partial))?;
        let sql = format!(
            "SELECT {} FROM {} WHERE {} > $1 ORDER BY {} LIMIT {PAGE}",
            columns.join(", "),
            table.name,
            table.key,
            table.key
        );
        let mut last_int = i64::MIN;
        let mut last_text = String::new();
        loop {
            let rows: Vec<Vec<Value>> = on_tx!(&mut tx, |conn| {
                let query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                let query = match table.key_kind {
                    Int => query.bind(last_int),
                    _ => query.bind(last_text.clone()),
                };
                let rows = query.fetch_all(&mut *conn).await?;
                rows.iter()
                    .map(|r| {
                        table
                            .columns
                            .iter()
                            .map(|(n, k)| cell(r, n, *k))
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<Vec<_>>>()
            })?;
            let Some(last) = rows.last() else { break };
            match table.key_kind {
                Int => last_int = last[0].as_i64().unwrap_or(i64::MAX),
                _ => last_text = last[0].as_str().unwrap_or_default().to_owned(),
            }
            for row in &rows {
                out.line(&Value::Array(row.clone())).map_err(io(&partial))?;
            }
            total += rows.len() as u64;
            progress(table.name, total);
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
    }
    drop(tx);
    let digest = hex::encode(out.hash.clone().finalize());
    let trailer = json!({"end": true, "rows": total, "sha256": digest});
    let mut text = serde_json::to_vec(&trailer).map_err(fail)?;
    text.push(b'\n');
    out.inner.write_all(&text).map_err(io(&partial))?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| io(&partial)(e.into_error()))?;
    file.sync_all().map_err(io(&partial))?;
    std::fs::rename(&partial, path).map_err(io(path))?;
    Ok(total)
}

/// What a checked backup file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub schema_version: i64,
    pub backend: String,
    pub created_at: String,
}

/// Read the whole file and check it without touching any database.
pub fn check(path: &Path, key_fingerprint: &str) -> Result<Summary> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut reader = BufReader::new(file);
    let mut hash = Sha256::new();
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut header: Option<Value> = None;
    let mut table: Option<&Table> = None;
    let mut rows = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io(path))?;
        if n == 0 {
            return Err(fail("it ends without its trailer: the file is truncated"));
        }
        line_no += 1;
        let value: Value = serde_json::from_slice(&line).map_err(|e| {
            fail(format_args!(
                "line {line_no} is not JSON ({e}): the file is damaged"
            ))
        })?;
        if value.get("end").is_some() {
            let want = value
                .get("sha256")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if hex::encode(hash.finalize()) != want {
                return Err(fail("checksum mismatch: the file was altered or damaged"));
            }
            if value.get("rows").and_then(Value::as_u64) != Some(rows) {
                return Err(fail("row count does not match the trailer"));
            }
            let mut rest = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut rest).map_err(io(path))?;
            if !rest.iter().all(u8::is_ascii_whitespace) {
                return Err(fail("data after the trailer"));
            }
            break;
        }
        hash.update(&line);
        match (&header, &value) {
            (None, v) => {
                if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
                    return Err(fail("not a yiwei backup (no yiwei-backup header)"));
                }
                if v.get("version").and_then(Value::as_i64) != Some(VERSION) {
                    return Err(fail("unknown backup format version"));
                }
                let schema = v
                    .get("schema_version")
                    .and_then(Value::as_i64)
                    .unwrap_or(-1);
                if schema != crate::migrate::latest_version() {
                    return Err(fail(format_args!(
                        "made at schema version {schema}, this build is at {}: restore with the matching yiwei version",
                        crate::migrate::latest_version()
                    )));
                }
                if v.get("key_fingerprint").and_then(Value::as_str) != Some(key_fingerprint) {
                    return Err(fail(
                        "made with another master key: restore with the key the backup was made with \
                         (YIWEI_MASTER_KEY or keys/master.key)",
                    ));
                }
                header = Some(v.clone());
            }
            (Some(_), Value::Object(o)) if o.contains_key("table") => {
                let name = o.get("table").and_then(Value::as_str).unwrap_or_default();
                let t = TABLES
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| fail(format_args!("line {line_no}: unknown table {name:?}")))?;
                let columns: Vec<&str> = o
                    .get("columns")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if columns != t.columns.iter().map(|c| c.0).collect::<Vec<_>>() {
                    return Err(fail(format_args!(
                        "line {line_no}: columns of {name} do not match this schema"
                    )));
                }
                table = Some(t);
            }
            (Some(_), Value::Array(cells)) => {
                let t = table
                    .ok_or_else(|| fail(format_args!("line {line_no}: a row before any table")))?;
                if cells.len() != t.columns.len() {
                    return Err(fail(format_args!("line {line_no}: wrong number of cells")));
                }
                rows += 1;
            }
            _ => return Err(fail(format_args!("line {line_no}: unexpected content"))),
        }
    }
    let header = header.ok_or_else(|| fail("empty file"))?;
    Ok(Summary {
        rows,
        schema_version: header["schema_version"].as_i64().unwrap_or_default(),
        backend: header["backend"].as_str().unwrap_or_default().to_owned(),
        created_at: header["created_at"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Whether the store holds no data yet (a freshly migrated database).
pub async fn is_empty(store: &Store) -> Result<bool> {
    on_pool!(store, |pool| {
        let divisions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM division")
            .fetch_one(pool)
            .await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_user")
            .fetch_one(pool)
            .await?;
        let seq: i64 = sqlx::query_scalar("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
        Ok(divisions == 0 && users == 0 && seq == 0)
    })
}

/// Restore `path` into this (empty) store. Checks everything first; writes in one
/// transaction. Returns the number of rows restored.
pub async fn restore(
    store: &Store,
    path: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64> {
    let summary = check(path, store.keys().fingerprint())?;
    if !is_empty(store).await? {
        return Err(StoreError::Invalid(
            "the target database is not empty: restore into a new data folder or an empty database"
                .into(),
        ));
    }
    let file = std::fs::File::open(path).map_err(io(path))?;
    let reader = BufReader::new(file);
    let mut tx = store.begin().await?;
    on_tx!(&mut tx, |conn| sqlx::query("DELETE FROM audit_head")
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
    // recognition: the migration seeds a default catalogue; the backup holds the county's.
    on_tx!(&mut tx, |conn| sqlx::query("DELETE FROM recognition_item")
        .execute(&mut *conn)
        .await
        .map(|_| ()))?;
    let mut table: Option<&Table> = None;
    let mut insert = String::new();
    let mut done = 0u64;
    for (i, line) in reader.lines().enumerate().skip(1) {
        let line = line.map_err(io(path))?;
        let value: Value = serde_json::from_str(&line).map_err(fail)?;
        match value {
            Value::Object(o) if o.contains_key("end") => break,
            Value::Object(o) => {
                let name = o.get("table").and_then(Value::as_str).unwrap_or_default();
                let t = TABLES
                    .iter()
                    .find(|t| t.name == name)
                    .ok_or_else(|| fail("unknown table"))?;
                let names: Vec<&str> = t.columns.iter().map(|c| c.0).collect();
                let marks: Vec<String> = (1..=names.len()).map(|n| format!("${n}")).collect();
                insert = format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    t.name,
                    names.join(", "),
                    marks.join(", ")
                );
                table = Some(t);
            }
            Value::Array(cells) => {
                let t = table.ok_or_else(|| fail("row before table"))?;
                on_tx!(&mut tx, |conn| {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.as_str()));
                    for ((_, kind), v) in t.columns.iter().zip(&cells) {
                        let bad = || {
                            fail(format_args!(
                                "line {}: a value does not fit its column",
                                i + 1
                            ))
                        };
                        query = match kind {
                            Int => query.bind(if v.is_null() {
                                None
                            } else {
                                Some(v.as_i64().ok_or_else(bad)?)
                            }),
                            Real => query.bind(v.as_f64()),
                            Text => query.bind(v.as_str().map(str::to_owned)),
                            Bool => query.bind(v.as_bool()),
                            Bytes => query
                                .bind(v.as_str().map(hex::decode).transpose().map_err(|_| bad())?),
                            Time => query.bind(
                                v.as_str()
                                    .map(|s| {
                                        DateTime::parse_from_rfc3339(s)
                                            .map(|t| t.with_timezone(&Utc))
                                    })
                                    .transpose()
                                    .map_err(|_| bad())?,
                            ),
                            Date => query.bind(
                                v.as_str()
                                    .map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
                                    .transpose()
                                    .map_err(|_| bad())?,
                            ),
                        };
                    }
                    query.execute(&mut *conn).await?;
                    Ok::<_, StoreError>(())
                })?;
                done += 1;
                if done.is_multiple_of(1000) {
                    progress(done, summary.rows);
                }
            }
            _ => return Err(fail("unexpected line")),
        }
    }
    if store.backend() == Backend::Postgres {
        for t in TABLES.iter().filter(|t| t.identity) {
            let sql = format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                t.name
            );
            on_tx!(&mut tx, |conn| sqlx::query(sqlx::AssertSqlSafe(
                sql.as_str()
            ))
            .execute(&mut *conn)
            .await
            .map(|_| ()))?;
        }
    }
    tx.commit().await?;
    crate::resident::reindex_names(store).await?;
    progress(done, summary.rows);
    Ok(done)
}
