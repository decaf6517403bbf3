//! Programme-level tests: each definition through `due`, `validate` and `outcome`, as tables,
//! and properties of `due` over every programme.

use chrono::NaiveDate;

use super::*;
use crate::exam::{BpClass, classify_bp};

/// Answers as typed: (key, text).
type Answers = [(&'static str, &'static str)];

/// A work-list row: (visit code, due from, due by, status).
type Row = (&'static str, NaiveDate, NaiveDate, Status);

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn config() -> Config {
    Config::default()
}

fn patient(birth: NaiveDate, condition: Condition, since: NaiveDate) -> Subject {
    Subject {
        birth_date: Some(birth),
        sex: Some(Sex::Male),
        conditions: vec![Diagnosis { condition, since }],
        ..Subject::default()
    }
}

fn visit(date: NaiveDate, code: &str, c: Option<Classification>, next: Option<NextDue>) -> Visit {
    Visit {
        date,
        code: code.to_owned(),
        classification: c,
        next_due: next,
    }
}

/// The work list as (code, from, by, status).
fn list(p: &Programme, s: &Subject, history: &[Visit], today: NaiveDate) -> Vec<Row> {
    due(p, s, history, today)
        .into_iter()
        .map(|e| (e.visit.code, e.due_from, e.due_by, e.status))
        .collect()
}

/// Validate `answers` on the programme's form (panicking with the problems if refused) and
/// return the outcome.
#[track_caller]
fn run(
    p: &Programme,
    s: &Subject,
    answers: &[(&str, &str)],
    on: NaiveDate,
    history: &[Visit],
) -> Outcome {
    let valid = validate(&p.form, answers)
        .unwrap_or_else(|problems| panic!("{}: {answers:?} refused: {problems:?}", p.code));
    outcome(p, &valid, s, on, history)
}

/// Sample answers that each programme's form accepts.
fn sample(code: &str) -> Vec<(&'static str, &'static str)> {
    match code {
        "hypertension" => vec![
            ("sys", "132"),
            ("dia", "84"),
            ("adverse_reaction", "否"),
            ("new_complication", "否"),
        ],
        "diabetes" => vec![
            ("sys", "132"),
            ("dia", "84"),
            ("fpg", "6.2"),
            ("adverse_reaction", "否"),
            ("new_complication", "否"),
        ],
        "elderly_annual" => vec![
            ("sys", "132"),
            ("dia", "84"),
            ("self_care", "1"),
            ("cognition", "1"),
            ("emotion", "1"),
        ],
        "severe_mental" => vec![
            ("risk_grade", "0"),
            ("symptoms", "1"),
            ("insight", "1"),
            ("social_function", "1"),
            ("drug_reaction", "1"),
            ("physical_illness", "否"),
        ],
        "tuberculosis" => vec![
            ("phase", "1"),
            ("supervisor", "1"),
            ("missed_doses", "0"),
            ("adverse_reaction", "否"),
            ("complication", "否"),
        ],
        "maternal" => vec![("sys", "112"), ("dia", "72"), ("high_risk", "否")],
        "child_health" => vec![
            ("weight", "7.5"),
            ("height", "66"),
            ("abnormal_findings", "否"),
        ],
        "student_vision" => vec![("ucva_left", "5.0"), ("ucva_right", "5.1")],
        "student_scoliosis" => vec![("atr", "2")],
        other => panic!("no sample for {other}"),
    }
}

fn with(
    base: &[(&'static str, &'static str)],
    changes: &[(&'static str, &'static str)],
) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .copied()
        .collect();
    out.extend_from_slice(changes);
    out
}

#[test]
fn programme_definitions_are_consistent() {
    let all = all(&config());
    let mut codes: Vec<&str> = all.iter().map(|p| p.code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), all.len(), "programme codes are unique");
    for p in &all {
        assert_eq!(by_code(&all, p.code).map(|x| x.code), Some(p.code));
        let mut keys: Vec<&str> = p.form.fields.iter().map(|f| f.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(
            keys.len(),
            p.form.fields.len(),
            "{}: field keys are unique",
            p.code
        );
        for check in &p.form.checks {
            let Check::Below { lower, upper } = check;
            assert!(p.form.field(lower).is_some() && p.form.field(upper).is_some());
        }
        let mut visits: Vec<&str> = p.visit_kinds().iter().map(|k| k.code).collect();
        visits.sort_unstable();
        visits.dedup();
        assert_eq!(
            visits.len(),
            p.visit_kinds().len(),
            "{}: visit codes are unique",
            p.code
        );
        // Milestone anchors match the schedule's family.
        match &p.schedule {
            Schedule::AgeBased(ms) => assert!(
                ms.iter()
                    .all(|m| matches!(m.anchor, Anchor::Birth | Anchor::BirthDischarge))
            ),
            Schedule::Gestational(ms) => assert!(
                ms.iter()
                    .all(|m| !matches!(m.anchor, Anchor::Birth | Anchor::BirthDischarge))
            ),
            Schedule::Interval(_) | Schedule::Yearly(_) => {}
        }
        // The sample validates and gives an outcome with a classification.
        let s = patient(d(1950, 1, 1), Condition::Hypertension, d(2020, 1, 1));
        let out = run(p, &s, &sample(p.code), d(2026, 3, 1), &[]);
        assert!(out.classification.is_some(), "{}", p.code);
        assert!(!p.source.is_empty() && !p.name_zh.is_empty() && !p.name_en.is_empty());
    }
    assert_eq!(by_code(&all, "nonsense"), None);
}

#[test]
fn hypertension_enrols_from_35_with_the_diagnosis() {
    let p = hypertension(&config());
    let s = patient(d(1995, 6, 1), Condition::Hypertension, d(2024, 1, 1));
    assert!(!p.enrolled(&s, d(2030, 5, 31)));
    assert!(p.enrolled(&s, d(2030, 6, 1)));
    let s = patient(d(1960, 6, 1), Condition::Type2Diabetes, d(2024, 1, 1));
    assert!(!p.enrolled(&s, d(2026, 1, 1)));
    assert!(due(&p, &s, &[], d(2026, 1, 1)).is_empty());
}

#[test]
fn a_referral_back_to_primary_care_brings_the_next_follow_up_within_two_weeks() {
    let p = hypertension(&config());
    let mut s = patient(d(1950, 6, 1), Condition::Hypertension, d(2024, 1, 1));
    let history = [visit(d(2026, 1, 10), "followup", None, None)];
    // Without a referral: the next visit is 90 days on, ±14 days.
    let plain = list(&p, &s, &history, d(2026, 2, 2));
    assert_eq!(
        plain,
        [("followup", d(2026, 3, 27), d(2026, 4, 24), Status::Upcoming)]
    );
    // Returned down from the county hospital on 1 February: due by the 15th.
    s.referred_back = Some(d(2026, 2, 1));
    assert_eq!(
        list(&p, &s, &history, d(2026, 2, 2)),
        [("followup", d(2026, 2, 1), d(2026, 2, 15), Status::Due)]
    );
    assert_eq!(
        list(&p, &s, &history, d(2026, 2, 20)),
        [("followup", d(2026, 2, 1), d(2026, 2, 15), Status::Overdue)]
    );
    // A visit after the return answers it: back to the 90-day rhythm from that visit.
    let answered = [
        visit(d(2026, 1, 10), "followup", None, None),
        visit(d(2026, 2, 10), "followup", None, None),
    ];
    assert_eq!(
        list(&p, &s, &answered, d(2026, 2, 12)),
        [("followup", d(2026, 4, 27), d(2026, 5, 25), Status::Upcoming)]
    );
    // A referral before the last visit, or one in the future, moves nothing.
    s.referred_back = Some(d(2026, 1, 5));
    assert_eq!(list(&p, &s, &history, d(2026, 2, 2)), plain);
    s.referred_back = Some(d(2026, 3, 1));
    assert_eq!(list(&p, &s, &history, d(2026, 2, 2)), plain);
    // Nor does it when the schedule is already sooner than two weeks.
    s.referred_back = Some(d(2026, 4, 1));
    assert_eq!(
        list(&p, &s, &history, d(2026, 4, 2)),
        [("followup", d(2026, 3, 27), d(2026, 4, 15), Status::Due)]
    );
    // Programmes without a referral rule (the 65+ annual check) ignore it.
    let annual = elderly(&config());
    let old = Subject {
        referred_back: Some(d(2026, 2, 1)),
        ..patient(d(1950, 6, 1), Condition::Hypertension, d(2024, 1, 1))
    };
    let without = Subject {
        referred_back: None,
        ..old.clone()
    };
    assert_eq!(
        list(&annual, &old, &[], d(2026, 2, 2)),
        list(&annual, &without, &[], d(2026, 2, 2))
    );
}

#[test]
fn hypertension_classification_follows_the_exam_cut_offs_and_age() {
    use Classification::*;
    let p = hypertension(&config());
    let base = sample("hypertension");
    let on = d(2026, 3, 1);
    let seventy = patient(d(1955, 6, 1), Condition::Hypertension, d(2010, 1, 1));
    let fifty = patient(d(1975, 6, 1), Condition::Hypertension, d(2010, 1, 1));
    let cases: &[(&Subject, &Answers, Classification, Option<Urgency>)] = &[
        (&seventy, &[("sys", "145"), ("dia", "88")], Controlled, None),
        (
            &seventy,
            &[("sys", "155"), ("dia", "88")],
            Uncontrolled,
            None,
        ),
        (
            &seventy,
            &[("sys", "149"), ("dia", "90")],
            Uncontrolled,
            None,
        ),
        (&fifty, &[("sys", "145"), ("dia", "88")], Uncontrolled, None),
        (&fifty, &[("sys", "139"), ("dia", "89")], Controlled, None),
        (
            &fifty,
            &[("sys", "180"), ("dia", "100")],
            UrgentReferral,
            Some(Urgency::Urgent),
        ),
        (
            &fifty,
            &[("sys", "150"), ("dia", "110")],
            UrgentReferral,
            Some(Urgency::Urgent),
        ),
        (
            &fifty,
            &[("sys", "179"), ("dia", "109")],
            Uncontrolled,
            None,
        ),
        // A danger sign refers at once whatever the pressure.
        (
            &fifty,
            &[("danger_signs", "2")],
            UrgentReferral,
            Some(Urgency::Urgent),
        ),
        // Controlled pressure, but a drug reaction: not satisfactory, recheck.
        (&fifty, &[("adverse_reaction", "是")], AdverseReaction, None),
        (
            &fifty,
            &[("new_complication", "是")],
            Complication,
            Some(Urgency::Routine),
        ),
    ];
    for (subject, changes, class, referral) in cases {
        let out = run(&p, subject, &with(&base, changes), on, &[]);
        assert_eq!(out.classification, Some(*class), "{changes:?}");
        assert_eq!(
            out.referral.as_ref().map(|r| r.urgency),
            *referral,
            "{changes:?}"
        );
    }
}

#[test]
fn hypertension_next_due_and_the_second_uncontrolled_visit() {
    let p = hypertension(&config());
    let s = patient(d(1955, 6, 1), Condition::Hypertension, d(2010, 1, 1));
    let on = d(2026, 3, 1);
    let base = sample("hypertension");
    let high = with(&base, &[("sys", "162"), ("dia", "95")]);
    // Controlled: the next visit in 90 days.
    let out = run(&p, &s, &base, on, &[]);
    assert_eq!(out.next_due, Some(NextDue::On(d(2026, 5, 30))));
    assert_eq!(out.referral, None);
    // First uncontrolled: adjust and see again within 2 weeks, no referral.
    let controlled_before = [visit(
        d(2025, 12, 1),
        "followup",
        Some(Classification::Controlled),
        None,
    )];
    let out = run(&p, &s, &high, on, &controlled_before);
    assert_eq!(out.classification, Some(Classification::Uncontrolled));
    assert_eq!(out.next_due, Some(NextDue::By(d(2026, 3, 15))));
    assert_eq!(out.referral, None);
    assert!(out.advice[0].zh.contains("14天内随访"));
    // Second uncontrolled in a row: refer, follow the referral up within 2 weeks.
    let uncontrolled_before = [
        visit(
            d(2025, 12, 1),
            "followup",
            Some(Classification::Controlled),
            None,
        ),
        visit(
            d(2026, 2, 15),
            "followup",
            Some(Classification::Uncontrolled),
            None,
        ),
    ];
    let out = run(&p, &s, &high, on, &uncontrolled_before);
    let referral = out.referral.unwrap();
    assert_eq!(referral.urgency, Urgency::Routine);
    assert_eq!(referral.follow_up_within_days, 14);
    assert_eq!(
        referral.reason.zh,
        "连续两次控制不满意或药物不良反应难以控制"
    );
    assert_eq!(out.next_due, Some(NextDue::By(d(2026, 3, 15))));
    // The visit itself, already stored, does not count as the previous one.
    let stored = [
        visit(
            d(2025, 12, 1),
            "followup",
            Some(Classification::Controlled),
            None,
        ),
        visit(on, "followup", Some(Classification::Uncontrolled), None),
    ];
    assert_eq!(run(&p, &s, &high, on, &stored).referral, None);
    // Urgent reasons are worded with the figures.
    let out = run(
        &p,
        &s,
        &with(&base, &[("sys", "186"), ("dia", "104")]),
        on,
        &[],
    );
    assert_eq!(
        out.referral.unwrap().reason.zh,
        "血压 186/104 mmHg（收缩压≥180 和/或舒张压≥110）"
    );
}

#[test]
fn a_stricter_province_is_a_config_change() {
    let mut c = config();
    c.hypertension.bp.controlled_sys_below = 130.0;
    c.hypertension.bp.controlled_dia_below = 80.0;
    let p = hypertension(&c);
    let s = patient(d(1975, 6, 1), Condition::Hypertension, d(2010, 1, 1));
    let answers = with(&sample("hypertension"), &[("sys", "135"), ("dia", "78")]);
    let out = run(&p, &s, &answers, d(2026, 3, 1), &[]);
    assert_eq!(out.classification, Some(Classification::Uncontrolled));
    let default = hypertension(&config());
    let out = run(&default, &s, &answers, d(2026, 3, 1), &[]);
    assert_eq!(out.classification, Some(Classification::Controlled));
}

#[test]
fn a_blood_pressure_of_400_over_20_is_refused() {
    let p = hypertension(&config());
    let answers = with(&sample("hypertension"), &[("sys", "400"), ("dia", "20")]);
    let problems = validate(&p.form, &answers).unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["sys", "dia"]);
    assert!(problems[0].message_zh.contains("60–280 mmHg"));
}

#[test]
fn four_visits_a_year_cadence_gives_due_and_overdue() {
    let p = hypertension(&config());
    let s = patient(d(1955, 6, 1), Condition::Hypertension, d(2010, 1, 1));
    use Status::*;
    // Last visit 5 January, controlled, next on 5 April (±14 days).
    let history = [visit(
        d(2026, 1, 5),
        "followup",
        Some(Classification::Controlled),
        Some(NextDue::On(d(2026, 4, 5))),
    )];
    let cases: &[(NaiveDate, &[Row])] = &[
        (
            d(2026, 3, 1),
            &[("followup", d(2026, 3, 22), d(2026, 4, 19), Upcoming)],
        ),
        (
            d(2026, 3, 22),
            &[("followup", d(2026, 3, 22), d(2026, 4, 19), Due)],
        ),
        (
            d(2026, 4, 19),
            &[("followup", d(2026, 3, 22), d(2026, 4, 19), Due)],
        ),
        (
            d(2026, 4, 20),
            &[("followup", d(2026, 3, 22), d(2026, 4, 19), Overdue)],
        ),
        // The next quarter's window opens: the April visit is missed, July's is due.
        (
            d(2026, 7, 10),
            &[
                ("followup", d(2026, 3, 22), d(2026, 4, 19), Missed),
                ("followup", d(2026, 6, 20), d(2026, 7, 18), Due),
            ],
        ),
        (
            d(2026, 8, 1),
            &[
                ("followup", d(2026, 3, 22), d(2026, 4, 19), Missed),
                ("followup", d(2026, 6, 20), d(2026, 7, 18), Overdue),
            ],
        ),
    ];
    for (today, expect) in cases {
        assert_eq!(list(&p, &s, &history, *today), *expect, "{today}");
    }
    // Long without visits: the quarters missed within the last year, then the current one.
    let late = list(&p, &s, &history, d(2027, 6, 1));
    assert_eq!(late.iter().filter(|e| e.3 == Missed).count(), 3);
    assert_eq!(
        late.last().unwrap(),
        &("followup", d(2027, 3, 17), d(2027, 4, 14), Overdue)
    );
    let later = list(&p, &s, &history, d(2027, 6, 20));
    assert_eq!(later.iter().filter(|e| e.3 == Missed).count(), 4);
    assert_eq!(
        later.last().unwrap(),
        &("followup", d(2027, 6, 15), d(2027, 7, 13), Due)
    );
    // Diagnosed in December, then four visits in the year, each on time: each is due on its
    // day, and nothing is missed.
    let s = patient(d(1955, 6, 1), Condition::Hypertension, d(2025, 12, 20));
    let mut visits: Vec<Visit> = Vec::new();
    for date in [d(2026, 1, 5), d(2026, 4, 6), d(2026, 7, 3), d(2026, 10, 2)] {
        let open = due(&p, &s, &visits, date);
        assert_eq!(open.len(), 1, "{date}");
        assert_eq!(open[0].status, Due, "{date}");
        visits.push(visit(
            date,
            "followup",
            Some(Classification::Controlled),
            None,
        ));
    }
    assert_eq!(
        list(&p, &s, &visits, d(2026, 12, 1)),
        [("followup", d(2026, 12, 17), d(2027, 1, 14), Upcoming)]
    );
}

#[test]
fn a_new_patient_and_a_recheck_have_their_own_windows() {
    let p = hypertension(&config());
    // Diagnosed on 1 January: first follow-up within 30 days.
    let s = patient(d(1960, 6, 1), Condition::Hypertension, d(2026, 1, 1));
    assert_eq!(
        list(&p, &s, &[], d(2026, 1, 10)),
        [("followup", d(2026, 1, 1), d(2026, 1, 31), Status::Due)]
    );
    // Turning 35 next month: upcoming from the birthday.
    let young = patient(d(1991, 2, 10), Condition::Hypertension, d(2020, 1, 1));
    assert_eq!(
        list(&p, &young, &[], d(2026, 1, 10)),
        [("followup", d(2026, 2, 10), d(2026, 3, 12), Status::Upcoming)]
    );
    // A recheck "within 2 weeks" is due from the next day, overdue after the 14th day.
    let history = [visit(
        d(2026, 3, 1),
        "followup",
        Some(Classification::Uncontrolled),
        Some(NextDue::By(d(2026, 3, 15))),
    )];
    assert_eq!(
        list(&p, &s, &history, d(2026, 3, 10)),
        [("followup", d(2026, 3, 2), d(2026, 3, 15), Status::Due)]
    );
    assert_eq!(list(&p, &s, &history, d(2026, 3, 16))[0].3, Status::Overdue);
    // Visits dated after today are ignored.
    let future = [visit(d(2026, 5, 1), "followup", None, None)];
    assert_eq!(list(&p, &s, &future, d(2026, 1, 10))[0].1, d(2026, 1, 1));
}

#[test]
fn diabetes_classification_and_urgent_referrals() {
    use Classification::*;
    let p = diabetes(&config());
    let s = patient(d(1960, 1, 1), Condition::Type2Diabetes, d(2015, 1, 1));
    let base = sample("diabetes");
    let cases: &[(&[(&str, &str)], Classification)] = &[
        (&[("fpg", "6.9")], Controlled),
        (&[("fpg", "7.0")], Uncontrolled),
        (&[("fpg", "16.6")], Uncontrolled),
        (&[("fpg", "16.7")], UrgentReferral),
        (&[("fpg", "3.9")], UrgentReferral),
        (&[("fpg", "4.0")], Controlled),
        (&[("sys", "182"), ("dia", "95")], UrgentReferral),
        (&[("sys", "150"), ("dia", "110")], UrgentReferral),
        // 155/95 is not urgent, and the glucose decides control.
        (&[("sys", "155"), ("dia", "95")], Controlled),
        (&[("heart_rate", "101")], UrgentReferral),
        (&[("heart_rate", "100")], Controlled),
        (&[("temperature", "39.5")], UrgentReferral),
        (&[("temperature", "39")], Controlled),
        (&[("danger_signs", "2")], UrgentReferral),
        (&[("adverse_reaction", "是")], AdverseReaction),
    ];
    for (changes, class) in cases {
        let out = run(&p, &s, &with(&base, changes), d(2026, 3, 1), &[]);
        assert_eq!(out.classification, Some(*class), "{changes:?}");
        assert_eq!(
            out.referral.is_some(),
            *class == UrgentReferral,
            "{changes:?}"
        );
    }
    // Several urgent reasons are all named.
    let out = run(
        &p,
        &s,
        &with(&base, &[("fpg", "18.2"), ("heart_rate", "120")]),
        d(2026, 3, 1),
        &[],
    );
    assert_eq!(
        out.referral.unwrap().reason.en,
        "glucose 18.2 mmol/L (≥16.7 or ≤3.9); heart rate 120/min (above 100)"
    );
    // Twice uncontrolled → refer.
    let before = [visit(d(2026, 2, 1), "followup", Some(Uncontrolled), None)];
    let out = run(
        &p,
        &s,
        &with(&base, &[("fpg", "8.1")]),
        d(2026, 3, 1),
        &before,
    );
    assert_eq!(out.referral.map(|r| r.urgency), Some(Urgency::Routine));
}

#[test]
fn severe_mental_disorder_follows_risk_grade_and_state() {
    use Classification::*;
    let p = severe_mental(&config());
    let s = patient(d(1980, 1, 1), Condition::Schizophrenia, d(2015, 1, 1));
    let on = d(2026, 3, 1);
    let base = sample("severe_mental");
    let cases: &[(&Answers, Classification, Option<Urgency>, NextDue)] = &[
        (&[], Stable, None, NextDue::On(d(2026, 5, 30))),
        (
            &[("risk_grade", "1")],
            BasicallyStable,
            None,
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("risk_grade", "2")],
            BasicallyStable,
            None,
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("risk_grade", "3")],
            Unstable,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("risk_grade", "5")],
            Unstable,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("symptoms", "3")],
            Unstable,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("insight", "3")],
            Unstable,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("drug_reaction", "3")],
            Unstable,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("physical_illness", "是")],
            Unstable,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("insight", "2")],
            BasicallyStable,
            None,
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("social_function", "3")],
            BasicallyStable,
            None,
            NextDue::By(d(2026, 3, 15)),
        ),
        (
            &[("social_function", "2")],
            Stable,
            None,
            NextDue::On(d(2026, 5, 30)),
        ),
    ];
    for (changes, class, urgency, next) in cases {
        let out = run(&p, &s, &with(&base, changes), on, &[]);
        assert_eq!(out.classification, Some(*class), "{changes:?}");
        assert_eq!(
            out.referral.as_ref().map(|r| r.urgency),
            *urgency,
            "{changes:?}"
        );
        assert_eq!(out.next_due, Some(*next), "{changes:?}");
    }
    // Still basically stable at the 2-week recheck: refer.
    let before = [visit(
        d(2026, 2, 15),
        "followup",
        Some(BasicallyStable),
        None,
    )];
    let out = run(&p, &s, &with(&base, &[("risk_grade", "1")]), on, &before);
    assert_eq!(out.referral.map(|r| r.urgency), Some(Urgency::Routine));
    // Any of the six diagnoses enrols.
    for c in Condition::ALL {
        let s = patient(d(1980, 1, 1), c, d(2015, 1, 1));
        assert_eq!(p.enrolled(&s, on), c.is_severe_mental(), "{c:?}");
    }
}

#[test]
fn tuberculosis_first_visit_within_72_hours_then_supervision() {
    let p = tuberculosis(&config());
    // The notice reached the township on 2 March.
    let s = patient(d(1970, 1, 1), Condition::Tuberculosis, d(2026, 3, 2));
    let cases = [
        (d(2026, 3, 2), Status::Due),
        (d(2026, 3, 5), Status::Due),
        (d(2026, 3, 6), Status::Overdue),
    ];
    for (today, status) in cases {
        assert_eq!(
            list(&p, &s, &[], today),
            [("first_home_visit", d(2026, 3, 2), d(2026, 3, 5), status)],
            "{today}"
        );
    }
    let on = d(2026, 3, 4);
    let base = sample("tuberculosis");
    let cases: &[(&Answers, Classification, Option<Urgency>, NextDue)] = &[
        // Staff-supervised: a record a month.
        (
            &[],
            Classification::MedicationRegular,
            None,
            NextDue::On(d(2026, 4, 3)),
        ),
        // Family-supervised, intensive phase: every 10 days; continuation: monthly.
        (
            &[("supervisor", "2")],
            Classification::MedicationRegular,
            None,
            NextDue::On(d(2026, 3, 14)),
        ),
        (
            &[("supervisor", "2"), ("phase", "2")],
            Classification::MedicationRegular,
            None,
            NextDue::On(d(2026, 4, 3)),
        ),
        (
            &[("missed_doses", "8")],
            Classification::MedicationIrregular,
            Some(Urgency::Routine),
            NextDue::On(d(2026, 4, 3)),
        ),
        (
            &[("adverse_reaction", "是")],
            Classification::MedicationRegular,
            Some(Urgency::Urgent),
            NextDue::By(d(2026, 3, 18)),
        ),
    ];
    for (changes, class, urgency, next) in cases {
        let out = run(&p, &s, &with(&base, changes), on, &[]);
        assert_eq!(out.classification, Some(*class), "{changes:?}");
        assert_eq!(
            out.referral.as_ref().map(|r| r.urgency),
            *urgency,
            "{changes:?}"
        );
        assert_eq!(out.next_due, Some(*next), "{changes:?}");
    }
    // After the first visit, the next is the supervision visit.
    let history = [visit(
        d(2026, 3, 4),
        "first_home_visit",
        None,
        Some(NextDue::On(d(2026, 3, 14))),
    )];
    assert_eq!(
        list(&p, &s, &history, d(2026, 3, 10)),
        [("followup", d(2026, 3, 7), d(2026, 3, 21), Status::Due)]
    );
}

fn pregnant(
    lmp: NaiveDate,
    delivered: Option<NaiveDate>,
    discharged: Option<NaiveDate>,
) -> Subject {
    Subject {
        birth_date: Some(d(1998, 4, 1)),
        sex: Some(Sex::Female),
        pregnancy: Some(Pregnancy {
            last_menstrual_period: Some(lmp),
            delivered_on: delivered,
            discharged_on: discharged,
            ..Pregnancy::default()
        }),
        ..Subject::default()
    }
}

#[test]
fn maternal_care_windows_from_the_lmp_and_the_delivery() {
    use Status::*;
    let p = maternal(&config());
    let s = pregnant(d(2026, 1, 1), None, None);
    let today = d(2026, 2, 20); // 7 weeks
    assert_eq!(
        list(&p, &s, &[], today),
        [
            ("prenatal_1", d(2026, 1, 1), d(2026, 4, 1), Due),
            ("prenatal_2", d(2026, 4, 23), d(2026, 5, 27), Upcoming),
            ("prenatal_3", d(2026, 5, 28), d(2026, 6, 24), Upcoming),
            ("prenatal_4", d(2026, 7, 16), d(2026, 9, 16), Upcoming),
            ("prenatal_5", d(2026, 9, 17), d(2026, 10, 14), Upcoming),
        ]
    );
    // Registration after 13 weeks is late (overdue) but still counts; a missed mid-pregnancy
    // window is missed.
    let status = |s: &Subject, history: &[Visit], today, code| {
        due(&p, s, history, today)
            .into_iter()
            .find(|e| e.visit.code == code)
            .map(|e| e.status)
    };
    assert_eq!(status(&s, &[], d(2026, 4, 2), "prenatal_1"), Some(Overdue));
    assert_eq!(status(&s, &[], d(2026, 5, 27), "prenatal_2"), Some(Due));
    assert_eq!(status(&s, &[], d(2026, 5, 28), "prenatal_2"), Some(Missed));
    let registered = [visit(d(2026, 3, 10), "prenatal_1", None, None)];
    assert_eq!(status(&s, &registered, d(2026, 4, 2), "prenatal_1"), None);
    // Delivered at 35 weeks on 3 September, discharged on the 6th: the 37–40 week visit is
    // no longer expected, the 28–36 week one (not done) is missed, the postpartum ones come.
    let s = pregnant(d(2026, 1, 1), Some(d(2026, 9, 3)), Some(d(2026, 9, 6)));
    let done = [
        visit(d(2026, 3, 10), "prenatal_1", None, None),
        visit(d(2026, 5, 1), "prenatal_2", None, None),
        visit(d(2026, 6, 1), "prenatal_3", None, None),
    ];
    assert_eq!(
        list(&p, &s, &done, d(2026, 9, 8)),
        [
            ("prenatal_4", d(2026, 7, 16), d(2026, 9, 2), Missed),
            ("postpartum_visit", d(2026, 9, 6), d(2026, 9, 13), Due),
            ("postnatal_42d", d(2026, 10, 15), d(2026, 10, 29), Upcoming),
        ]
    );
    // Overdue after a week, still counted until 28 days after discharge.
    let cases = [
        (d(2026, 9, 14), Some(Overdue)),
        (d(2026, 10, 4), Some(Overdue)),
        (d(2026, 10, 5), Some(Missed)),
    ];
    for (today, expect) in cases {
        assert_eq!(
            status(&s, &done, today, "postpartum_visit"),
            expect,
            "{today}"
        );
    }
    assert_eq!(
        status(&s, &done, d(2026, 10, 30), "postnatal_42d"),
        Some(Overdue)
    );
    assert_eq!(
        status(&s, &done, d(2026, 12, 2), "postnatal_42d"),
        Some(Overdue)
    );
    assert_eq!(
        status(&s, &done, d(2026, 12, 3), "postnatal_42d"),
        Some(Missed)
    );
    // Not pregnant: nothing.
    assert!(due(&p, &Subject::default(), &[], today).is_empty());
}

#[test]
fn maternal_outcomes() {
    let p = maternal(&config());
    let s = pregnant(d(2026, 1, 1), None, None);
    let base = sample("maternal");
    let cases: &[(&Answers, Classification, Option<Urgency>)] = &[
        (&[], Classification::Normal, None),
        (
            &[("sys", "142"), ("dia", "85")],
            Classification::HighRisk,
            Some(Urgency::Routine),
        ),
        (
            &[("high_risk", "是")],
            Classification::HighRisk,
            Some(Urgency::Routine),
        ),
        (
            &[("sys", "165"), ("dia", "100")],
            Classification::UrgentReferral,
            Some(Urgency::Urgent),
        ),
        (&[("hb", "98")], Classification::Anaemia, None),
    ];
    for (changes, class, urgency) in cases {
        let out = run(&p, &s, &with(&base, changes), d(2026, 4, 1), &[]);
        assert_eq!(out.classification, Some(*class), "{changes:?}");
        assert_eq!(
            out.referral.as_ref().map(|r| r.urgency),
            *urgency,
            "{changes:?}"
        );
        assert_eq!(out.next_due, None);
    }
}

#[test]
fn child_health_check_up_ages() {
    use Status::*;
    let p = child_health(&config());
    let s = Subject {
        birth_date: Some(d(2025, 3, 1)),
        discharged_after_birth: Some(d(2025, 3, 4)),
        ..Subject::default()
    };
    let all = list(&p, &s, &[], d(2025, 3, 5));
    let codes: Vec<&str> = all.iter().map(|e| e.0).collect();
    assert_eq!(
        codes,
        [
            "newborn_visit",
            "month_1",
            "month_3",
            "month_6",
            "month_8",
            "month_12",
            "month_18",
            "month_24",
            "month_30",
            "month_36",
            "year_4",
            "year_5",
            "year_6"
        ]
    );
    assert_eq!(
        all[0],
        ("newborn_visit", d(2025, 3, 4), d(2025, 3, 11), Due)
    );
    assert_eq!(
        all[1],
        ("month_1", d(2025, 3, 29), d(2025, 3, 31), Upcoming)
    );
    assert_eq!(all[2], ("month_3", d(2025, 6, 1), d(2025, 7, 1), Upcoming));
    assert_eq!(all[10], ("year_4", d(2029, 3, 1), d(2029, 6, 1), Upcoming));
    let at = |history: &[Visit], today, code: &str| {
        due(&p, &s, history, today)
            .into_iter()
            .find(|e| e.visit.code == code)
            .map(|e| e.status)
    };
    let done = [
        visit(d(2025, 3, 6), "newborn_visit", None, None),
        visit(d(2025, 3, 30), "month_1", None, None),
    ];
    let cases = [
        (d(2025, 3, 12), "newborn_visit", &[][..], Some(Overdue)),
        // The newborn period's 28 days count from discharge here.
        (d(2025, 3, 31), "newborn_visit", &[][..], Some(Overdue)),
        (d(2025, 4, 1), "newborn_visit", &[][..], Some(Missed)),
        (d(2025, 6, 15), "month_3", &done[..], Some(Due)),
        (d(2025, 7, 2), "month_3", &done[..], Some(Overdue)),
        (d(2025, 9, 1), "month_3", &done[..], Some(Missed)),
        (d(2025, 6, 15), "newborn_visit", &done[..], None),
        (d(2031, 3, 1), "year_6", &done[..], Some(Due)),
        // Seven years old: the 6-year check is missed (shown for a year), then gone.
        (d(2032, 3, 1), "year_6", &done[..], Some(Missed)),
        (d(2033, 3, 1), "year_6", &done[..], None),
    ];
    for (today, code, history, expect) in cases {
        assert_eq!(at(history, today, code), expect, "{code} on {today}");
    }
    let out = run(
        &p,
        &s,
        &with(&sample("child_health"), &[("hb", "102")]),
        d(2025, 9, 1),
        &[],
    );
    assert_eq!(out.classification, Some(Classification::Anaemia));
    let out = run(
        &p,
        &s,
        &with(&sample("child_health"), &[("abnormal_findings", "是")]),
        d(2025, 9, 1),
        &[],
    );
    assert_eq!(out.referral.map(|r| r.urgency), Some(Urgency::Routine));
}

#[test]
fn the_65_plus_check_is_once_a_calendar_year() {
    use Status::*;
    let p = elderly(&config());
    // Turns 65 on 1 July 2025.
    let s = Subject {
        birth_date: Some(d(1960, 7, 1)),
        ..Subject::default()
    };
    let annual = |history: &[Visit], today| list(&p, &s, history, today);
    assert_eq!(
        annual(&[], d(2025, 3, 1)),
        [("annual", d(2025, 7, 1), d(2025, 12, 31), Upcoming)]
    );
    assert_eq!(
        annual(&[], d(2025, 8, 1)),
        [("annual", d(2025, 7, 1), d(2025, 12, 31), Due)]
    );
    let done = [visit(d(2025, 8, 10), "annual", None, None)];
    assert_eq!(
        annual(&done, d(2025, 9, 1)),
        [("annual", d(2026, 1, 1), d(2026, 12, 31), Upcoming)]
    );
    assert_eq!(
        annual(&done, d(2026, 2, 1)),
        [("annual", d(2026, 1, 1), d(2026, 12, 31), Due)]
    );
    assert_eq!(
        annual(&[], d(2026, 2, 1)),
        [
            ("annual", d(2025, 7, 1), d(2025, 12, 31), Missed),
            ("annual", d(2026, 1, 1), d(2026, 12, 31), Due),
        ]
    );
    // A campaign season (March–October): overdue in November, missed from January.
    let mut c = config();
    c.elderly.from_month = 3;
    c.elderly.to_month = 10;
    let p = elderly(&c);
    let old = Subject {
        birth_date: Some(d(1950, 1, 1)),
        ..Subject::default()
    };
    assert_eq!(
        list(&p, &old, &[], d(2026, 11, 2)),
        [("annual", d(2026, 3, 1), d(2026, 10, 31), Overdue)]
    );
    // Outcomes: a raised pressure is a finding, an urgent one a referral.
    let base = sample("elderly_annual");
    let out = run(&p, &old, &base, d(2026, 4, 1), &[]);
    assert_eq!(out.classification, Some(Classification::Normal));
    let out = run(
        &p,
        &old,
        &with(&base, &[("sys", "146"), ("dia", "80")]),
        d(2026, 4, 1),
        &[],
    );
    assert_eq!(out.classification, Some(Classification::Abnormal));
    let out = run(
        &p,
        &old,
        &with(&base, &[("cognition", "2")]),
        d(2026, 4, 1),
        &[],
    );
    assert_eq!(out.classification, Some(Classification::Abnormal));
    let out = run(
        &p,
        &old,
        &with(&base, &[("sys", "190"), ("dia", "80")]),
        d(2026, 4, 1),
        &[],
    );
    assert_eq!(out.referral.map(|r| r.urgency), Some(Urgency::Urgent));
}

#[test]
fn school_screening_by_grade_with_vision_and_scoliosis_cut_offs() {
    let c = config();
    let vision = student_vision(&c);
    let scoliosis = student_scoliosis(&c);
    let pupil = Subject {
        birth_date: Some(d(2017, 5, 1)),
        school: Some(Schooling {
            school: "4512260101".into(),
            grade: 3,
        }),
        ..Subject::default()
    };
    // The record holds only today's grade, so last year's screening counts as missed too.
    assert_eq!(
        list(&vision, &pupil, &[], d(2026, 10, 1)),
        [
            ("screening", d(2025, 9, 1), d(2025, 12, 31), Status::Missed),
            ("screening", d(2026, 9, 1), d(2026, 12, 31), Status::Due),
        ]
    );
    let screened = [visit(
        d(2025, 10, 8),
        "screening",
        Some(Classification::Normal),
        None,
    )];
    assert_eq!(
        list(&vision, &pupil, &screened, d(2026, 10, 1)),
        [("screening", d(2026, 9, 1), d(2026, 12, 31), Status::Due)]
    );
    let preschool = Subject {
        school: Some(Schooling {
            school: "4512260101".into(),
            grade: 0,
        }),
        ..pupil.clone()
    };
    assert!(due(&vision, &preschool, &[], d(2026, 10, 1)).is_empty());
    let cases: &[(&Programme, &Answers, Classification)] = &[
        (
            &vision,
            &[("ucva_left", "5.0"), ("ucva_right", "5.0")],
            Classification::Normal,
        ),
        (
            &vision,
            &[("ucva_left", "4.9"), ("ucva_right", "5.1")],
            Classification::VisionReduced,
        ),
        (
            &vision,
            &[("ucva_left", "5.2"), ("ucva_right", "4.6")],
            Classification::VisionReduced,
        ),
        (&scoliosis, &[("atr", "4.9")], Classification::Normal),
        (
            &scoliosis,
            &[("atr", "5")],
            Classification::ScoliosisSuspected,
        ),
        (
            &scoliosis,
            &[("atr", "12")],
            Classification::ScoliosisSuspected,
        ),
    ];
    for (p, answers, class) in cases {
        let out = run(p, &pupil, answers, d(2026, 10, 1), &[]);
        assert_eq!(out.classification, Some(*class), "{} {answers:?}", p.code);
        assert_eq!(
            out.referral.is_some(),
            *class != Classification::Normal,
            "{answers:?}"
        );
    }
    // A visual acuity of 50 (decimal typed as 5-point) is refused.
    assert!(validate(&vision.form, &[("ucva_left", "50"), ("ucva_right", "5.0")]).is_err());
}

// Property tests over every programme.

fn any_date() -> impl proptest::strategy::Strategy<Value = NaiveDate> {
    use proptest::strategy::Strategy;
    // 1920-01-01 .. 2060-12-31.
    (700_900i32..752_364).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap())
}

fn any_subject() -> impl proptest::strategy::Strategy<Value = Subject> {
    use proptest::prelude::*;
    (
        proptest::option::of(any_date()),
        proptest::collection::vec((0usize..Condition::ALL.len(), any_date()), 0..3),
        proptest::option::of((
            proptest::option::of(any_date()),
            proptest::option::of(any_date()),
            proptest::option::of(any_date()),
            proptest::option::of(any_date()),
        )),
        proptest::option::of(0u8..14),
        proptest::option::of(any_date()),
        any::<bool>(),
    )
        .prop_map(
            |(birth, conditions, pregnancy, grade, discharged, female)| Subject {
                birth_date: birth,
                sex: Some(if female { Sex::Female } else { Sex::Male }),
                conditions: conditions
                    .into_iter()
                    .map(|(i, since)| Diagnosis {
                        condition: Condition::ALL[i],
                        since,
                    })
                    .collect(),
                pregnancy: pregnancy.map(|(lmp, edd, delivered, discharged)| Pregnancy {
                    last_menstrual_period: lmp,
                    expected_delivery: edd,
                    delivered_on: delivered,
                    discharged_on: discharged,
                }),
                school: grade.map(|grade| Schooling {
                    school: "s".into(),
                    grade,
                }),
                key_groups: Vec::new(),
                discharged_after_birth: discharged,
                referred_back: discharged,
            },
        )
}

fn any_visit() -> impl proptest::strategy::Strategy<Value = Visit> {
    use proptest::prelude::*;
    let codes = [
        "followup",
        "first_home_visit",
        "annual",
        "screening",
        "prenatal_1",
        "prenatal_4",
        "postpartum_visit",
        "newborn_visit",
        "month_3",
        "year_6",
        "junk",
    ];
    (
        any_date(),
        0usize..codes.len(),
        proptest::option::of(0usize..Classification::ALL.len()),
        proptest::option::of((any::<bool>(), any_date())),
    )
        .prop_map(move |(date, code, class, next)| Visit {
            date,
            code: codes[code].to_owned(),
            classification: class.map(|i| Classification::ALL[i]),
            next_due: next.map(|(on, d)| if on { NextDue::On(d) } else { NextDue::By(d) }),
        })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(128))]

    #[test]
    fn due_never_panics_is_deterministic_and_never_before_birth(
        subject in any_subject(),
        mut history in proptest::collection::vec(any_visit(), 0..8),
        today in any_date(),
    ) {
        for p in all(&Config::default()) {
            let list = due(&p, &subject, &history, today);
            for entry in &list {
                if let Some(birth) = subject.birth_date {
                    proptest::prop_assert!(entry.due_from >= birth, "{} {:?}", p.code, entry);
                }
                proptest::prop_assert!(entry.due_by >= entry.due_from, "{} {:?}", p.code, entry);
            }
            proptest::prop_assert!(list.windows(2).all(|w| w[0].due_from <= w[1].due_from));
            // At most one open entry for interval and yearly schedules.
            if matches!(p.schedule, Schedule::Interval(_) | Schedule::Yearly(_)) {
                proptest::prop_assert!(list.iter().filter(|e| e.status != Status::Missed).count() <= 1);
            }
            let again = due(&p, &subject, &history, today);
            proptest::prop_assert_eq!(&again, &list);
            history.reverse();
            proptest::prop_assert_eq!(&due(&p, &subject, &history, today), &list);
        }
    }

    #[test]
    fn hypertension_outcome_agrees_with_the_exam_classes(
        sys in 60u32..=280,
        dia in 30u32..=180,
        age in 35u32..100,
    ) {
        proptest::prop_assume!(dia < sys);
        let p = hypertension(&Config::default());
        let on = d(2026, 3, 1);
        let birth = d(2026 - age as i32, 1, 1);
        let s = patient(birth, Condition::Hypertension, d(2000, 1, 1));
        let (sys_text, dia_text) = (sys.to_string(), dia.to_string());
        let answers = with(&sample("hypertension"), &[]);
        let mut answers: Vec<(&str, &str)> = answers.into_iter().filter(|(k, _)| *k != "sys" && *k != "dia").collect();
        answers.push(("sys", &sys_text));
        answers.push(("dia", &dia_text));
        let out = run(&p, &s, &answers, on, &[]);
        let expect = match classify_bp(f64::from(sys), f64::from(dia), Some(age), &crate::exam::BpThresholds::default()) {
            BpClass::Controlled => Classification::Controlled,
            BpClass::Uncontrolled => Classification::Uncontrolled,
            BpClass::UrgentReferral => Classification::UrgentReferral,
        };
        proptest::prop_assert_eq!(out.classification, Some(expect));
        proptest::prop_assert!(out.next_due.is_some());
    }
}
