//! The programme engine: the national basic public-health programmes (国家基本公共卫生服务
//! 项目) as data, and the pure functions that turn a resident's facts and visit history into a
//! work list, check a visit form, and say what follows from the answers.
//!
//! DHIS2's tracker programs are the model: a programme says **who is enrolled**
//! ([`Enrolment`], rules over a [`Subject`]), **which visits are due when** ([`Schedule`]:
//! intervals, age milestones, yearly windows, gestational windows), **what each visit
//! records** ([`VisitForm`], typed fields with validation) and **what follows from the
//! answers** ([`Rules`]: a [`Classification`], referral advice, the next due date). Ours is
//! simpler: a programme is a plain Rust value built by a function from a [`Config`], there
//! is no expression language, and the rule kinds are a closed enum whose thresholds are
//! configuration structs with `Default`.
//!
//! The four entry points:
//! - [`due`]`(programme, subject, history, today)` → [`Due`] entries, each with a window
//!   (`due_from ..= due_by`) and a [`Status`] (upcoming, due, overdue, missed): the work list;
//! - [`validate`]`(form, answers)` → [`ValidAnswers`] or every [`FieldProblem`], in Chinese
//!   and English;
//! - [`outcome`]`(programme, answers, subject, visit_date, history)` → [`Outcome`]
//!   (classification, referral, next due date). It takes the earlier visits because the
//!   规范 looks back: "两次控制不满意 → 转诊";
//! - [`immunization::vaccine_due`] and [`immunization::check_dose`] for the national
//!   immunization schedule, whose editions are data in [`immunization`].
//!
//! The programmes defined here ([`all`]), with the spec each follows (国家基本公共卫生服务
//! 规范（第三版, 2017）unless said otherwise; tags as in `shared/domain.md`: \[S\] seen in a
//! source, \[M\] background knowledge consistent with sources, *unconfirmed* a default to
//! configure):
//!
//! | Programme | Enrolled | Schedule | Rules |
//! |---|---|---|---|
//! | [`hypertension`] | ≥35 y \[S\] with 原发性高血压 | every 90 days (≥4 face-to-face/yr \[S\]) | [`crate::exam::classify_bp`] (<140/90, ≥65 y <150/90 \[M\]); urgent ≥180/110 \[S\]; uncontrolled → 2 weeks, twice → refer \[M\] |
//! | [`diabetes`] | ≥35 y with T2DM \[S\] | every 90 days \[M\] | [`crate::exam::classify_glucose`]; urgent glucose ≥16.7 or ≤3.9, BP ≥180/110, HR >100, T >39 °C \[S partial\] |
//! | [`elderly`] | ≥65 y in the year \[S\] | once a calendar year \[M\] | BP / glucose / self-care flags \[M\] |
//! | [`severe_mental`] | the six diagnoses \[S\] | every 90 days | risk grade 0–5 \[S\]; stable → 3 months, unstable → refer + 2 weeks, basically stable → 2 weeks \[S\]; still basically stable → refer \[M\] |
//! | [`tuberculosis`] | confirmed TB under management | first home visit within 72 h \[S\], then monthly \[M\] | family-supervised intensive phase every 10 days \[M\] |
//! | [`maternal`] | a current pregnancy | <13 w, 16–20, 21–24, 28–36, 37–40 w; postpartum within 7 days; 42 days \[S\] | high risk, BP ≥140/90 → refer \[M\] |
//! | [`child_health`] | 0–6 y | newborn within 7 days of discharge, 28–30 d, 3…36 months, 4, 5, 6 y \[S\] | findings, anaemia \[M\] |
//! | [`student_vision`] | pupils of the configured grades | yearly screening | uncorrected VA < 5.0 → refer \[M\] |
//! | [`student_scoliosis`] | pupils of the configured grades | yearly screening | ATR ≥ 5° → refer \[M\] |
//!
//! What the engine deliberately does not do: it keeps no state and reads no database (the
//! store passes the [`Subject`] and the visits of one programme episode); it does not decide
//! who is *responsible* for a visit (that is the contract and team); it does not print
//! messages to residents (the reminder outbox words them from [`Due`]).
//!
//! # Conventions
//!
//! - **Dates** are calendar days. "Within N days" of a date D ends on D + N. Ages add
//!   months and years as [`crate::key_group::age_on`] counts them: a day that does not exist
//!   in the target month (31st, 29 February) rolls forward to the 1st of the next month.
//! - **Windows**: a visit is `Upcoming` before `due_from`, `Due` from `due_from` to
//!   `due_by` inclusive, `Overdue` after `due_by` while it can still be done, `Missed` once it
//!   can no longer count. Missed entries are reported for one year
//!   ([`MISSED_LOOKBACK_DAYS`]); older ones belong to indicators, not to a work list.
//! - **History** is the visits of this programme for this resident (for maternal care, of
//!   this pregnancy). Visits dated after `today` or before birth are ignored by [`due`].
//! - **Determinism**: every function here is a pure function of its arguments; [`due`]
//!   sorts the history itself, so its order does not matter.
//!
//! # Adding a programme or a schedule edition (a data change)
//!
//! A new **programme** that fits the existing rule kinds is a new builder function in
//! `catalogue.rs` returning a [`Programme`]: pick an [`Enrolment`] (combine rules with
//! `All`/`Any`), a [`Schedule`] (an [`Interval`], a list of [`Milestone`]s with their
//! [`Anchor`] and [`Offset`]s, or a [`Yearly`] window), a [`VisitForm`] built from
//! [`FieldDef`] constructors, and a [`Rules`] variant with its configuration. Add it to
//! [`all`] and give it a table-driven test next to the others. New *logic* (a classification
//! no existing rule kind can express) is a new [`Rules`] variant with a config struct whose
//! fields cite their source.
//!
//! A new **immunization edition** is a function in `immunization.rs` that starts from the
//! previous edition, replaces or adds [`immunization::Series`], and sets `in_force_from`;
//! add it to [`immunization::editions`]. Doses already given are counted by their order in
//! the series, so children who started under an older edition carry over without a
//! migration. A county that changes a threshold (a province's stricter control target, a
//! screening window) changes a field of [`Config`]; no code changes.

mod catalogue;
mod enrolment;
mod form;
pub mod immunization;
pub mod indicator;
mod rules;
mod schedule;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;

use crate::key_group::{Condition, KeyGroup};
use crate::ws365::Sex;

pub use catalogue::{
    Config, all, by_code, child_health, diabetes, elderly, hypertension, maternal, severe_mental,
    student_scoliosis, student_vision, tuberculosis,
};
pub use enrolment::{Enrolment, Period};
pub use form::{
    Check, FieldDef, FieldKind, FieldProblem, ValidAnswers, Value, VisitForm, check_visit_date,
    validate,
};
pub use rules::{
    ChildRules, Classification, DiabetesRules, ElderlyRules, HypertensionRules, MaternalRules,
    MentalRules, Message, Outcome, Referral, Rules, ScoliosisRules, TuberculosisRules, Urgency,
    VisionRules, outcome,
};
pub use schedule::{
    Anchor, Due, Interval, MISSED_LOOKBACK_DAYS, Milestone, NextDue, Offset, Schedule, Status,
    Visit, VisitKind, Yearly, due,
};

/// A programme (服务项目): who, when, what is recorded, and what follows. Built by the
/// functions of this module from a [`Config`]; a plain value that can be compared and
/// printed.
#[derive(Clone, Debug, PartialEq)]
pub struct Programme {
    /// Stable ASCII code for storage and URLs (`hypertension`, `child_health`, …).
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// The text the programme follows, with its chapter.
    pub source: &'static str,
    pub enrolment: Enrolment,
    pub schedule: Schedule,
    pub form: VisitForm,
    pub rules: Rules,
}

impl Programme {
    /// Whether `subject` is enrolled on `on`.
    pub fn enrolled(&self, subject: &Subject, on: NaiveDate) -> bool {
        self.enrolment
            .period(subject)
            .is_some_and(|p| p.contains(on))
    }

    /// The kinds of visit the schedule names, in schedule order (for labels and pickers).
    pub fn visit_kinds(&self) -> Vec<VisitKind> {
        self.schedule.visit_kinds()
    }
}

/// What the engine knows of a resident: the facts enrolment and schedules read. The store
/// builds it from the record; nothing here is stored as such.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subject {
    pub birth_date: Option<NaiveDate>,
    pub sex: Option<Sex>,
    /// Diagnoses under management, each with the date management started.
    pub conditions: Vec<Diagnosis>,
    /// The current pregnancy (maternal-care episode), if any. The caller closes the
    /// episode (drops this) after the 42-day check or at a pregnancy loss.
    pub pregnancy: Option<Pregnancy>,
    /// The school and grade, for pupils.
    pub school: Option<Schooling>,
    /// Key groups as [`crate::key_group::key_groups`] computes them on the day asked.
    pub key_groups: Vec<KeyGroup>,
    /// The day a newborn left hospital (出院), which starts the newborn home visit's week.
    /// When unknown, the birth date is used.
    pub discharged_after_birth: Option<NaiveDate>,
    /// The latest day a referral brought the resident back to primary care: an
    /// up-referral returned down (下转回基层) or a down-referral accepted by the primary
    /// institution. Interval programmes then want a visit soon
    /// ([`schedule::Interval::after_referral_days`]).
    pub referred_back: Option<NaiveDate>,
}

/// A diagnosis under management.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub condition: Condition,
    /// The day management started: the diagnosis, or for tuberculosis the day the notice
    /// (肺结核患者管理通知单) reached the township, from which the 72 hours run.
    pub since: NaiveDate,
}

/// The dates of a pregnancy episode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pregnancy {
    /// 末次月经 (last menstrual period).
    pub last_menstrual_period: Option<NaiveDate>,
    /// 预产期 (expected date of delivery); used for the LMP when that is unknown.
    pub expected_delivery: Option<NaiveDate>,
    /// 分娩日期.
    pub delivered_on: Option<NaiveDate>,
    /// 出院日期 after delivery; when unknown, the delivery date.
    pub discharged_on: Option<NaiveDate>,
}

impl Pregnancy {
    /// The LMP, or 280 days before the EDD (Naegele's rule) \[M\].
    pub fn lmp(&self) -> Option<NaiveDate> {
        self.last_menstrual_period.or_else(|| {
            self.expected_delivery
                .and_then(|edd| edd.checked_sub_signed(chrono::TimeDelta::days(280)))
        })
    }
}

/// A pupil's school and grade.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schooling {
    /// The school's code (学校代码) as the store keeps it.
    pub school: String,
    /// 年级: 0 for kindergarten (幼儿园), 1–6 primary, 7–9 junior middle, 10–12 senior
    /// middle (and the years of a vocational school).
    pub grade: u8,
}
