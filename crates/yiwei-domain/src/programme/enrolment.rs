//! Who a programme enrols: rules over a [`Subject`], and the period in which they hold.
//!
//! A rule gives a [`Period`] rather than a yes/no, because schedules need to know *since
//! when* someone is enrolled: a hypertensive patient enters follow-up on the later of the
//! diagnosis and the 35th birthday, a child leaves child-health care on the 7th birthday.
//! Facts without a date (sex, school grade, key-group tags) hold for the whole life as far
//! as the rule can tell; the caller passes the facts of today.
//!
//! Combining: [`Enrolment::All`] intersects the periods; [`Enrolment::Any`] takes the span
//! from the earliest start to the latest end (a gap between two disjoint parts is counted
//! as enrolled; no programme defined here has such a gap).

use std::ops::RangeInclusive;

use chrono::NaiveDate;

use super::Subject;
use super::schedule::Offset;
use crate::key_group::{Condition, KeyGroup};
use crate::ws365::Sex;

/// An enrolment rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Enrolment {
    /// Every resident.
    Everyone,
    /// From this age on (e.g. 35 years); needs a birth date.
    AgeFrom(Offset),
    /// Until the day before this age (e.g. below 7 years = 0–6 完成年龄); needs a birth date.
    AgeBelow(Offset),
    /// Has this diagnosis under management; from the diagnosis's `since`.
    Condition(Condition),
    /// Has any of these diagnoses; from the earliest `since` among them.
    AnyCondition(Vec<Condition>),
    /// Of this sex.
    Sex(Sex),
    /// Has a current pregnancy episode; from the LMP when known.
    Pregnancy,
    /// A pupil in one of these grades (see [`super::Schooling::grade`]).
    InSchool { grades: RangeInclusive<u8> },
    /// Tagged with this key group today.
    KeyGroup(KeyGroup),
    /// Every rule holds.
    All(Vec<Enrolment>),
    /// At least one rule holds.
    Any(Vec<Enrolment>),
}

/// The days on which an enrolment rule holds: `from` inclusive, `until` exclusive (`None`:
/// open-ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Period {
    pub fn contains(&self, on: NaiveDate) -> bool {
        on >= self.from && self.until.is_none_or(|u| on < u)
    }

    fn open(from: NaiveDate) -> Period {
        Period { from, until: None }
    }
}

impl Enrolment {
    /// The period in which the rule holds for `subject`, never starting before birth; `None`
    /// if it never holds (or holds on no day).
    pub fn period(&self, subject: &Subject) -> Option<Period> {
        let floor = subject.birth_date.unwrap_or(NaiveDate::MIN);
        let p = self.raw(subject, floor)?;
        let from = p.from.max(floor);
        if p.until.is_some_and(|u| u <= from) {
            return None;
        }
        Some(Period {
            from,
            until: p.until,
        })
    }

    fn raw(&self, s: &Subject, floor: NaiveDate) -> Option<Period> {
        let since = |wanted: &dyn Fn(Condition) -> bool| {
            s.conditions
                .iter()
                .filter(|d| wanted(d.condition))
                .map(|d| d.since)
                .min()
                .map(Period::open)
        };
        match self {
            Enrolment::Everyone => Some(Period::open(floor)),
            Enrolment::AgeFrom(age) => s.birth_date.map(|b| Period::open(age.after(b))),
            Enrolment::AgeBelow(age) => s.birth_date.map(|b| Period {
                from: b,
                until: Some(age.after(b)),
            }),
            Enrolment::Condition(c) => since(&|x| x == *c),
            Enrolment::AnyCondition(cs) => since(&|x| cs.contains(&x)),
            Enrolment::Sex(sex) => (s.sex == Some(*sex)).then_some(Period::open(floor)),
            Enrolment::Pregnancy => s
                .pregnancy
                .as_ref()
                .map(|p| Period::open(p.lmp().unwrap_or(floor))),
            Enrolment::InSchool { grades } => s
                .school
                .as_ref()
                .filter(|school| grades.contains(&school.grade))
                .map(|_| Period::open(floor)),
            Enrolment::KeyGroup(g) => s.key_groups.contains(g).then_some(Period::open(floor)),
            Enrolment::All(rules) => {
                let mut acc = Period::open(floor);
                for rule in rules {
                    let p = rule.raw(s, floor)?;
                    acc.from = acc.from.max(p.from);
                    acc.until = match (acc.until, p.until) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                if acc.until.is_some_and(|u| u <= acc.from) {
                    None
                } else {
                    Some(acc)
                }
            }
            Enrolment::Any(rules) => {
                let parts: Vec<Period> = rules.iter().filter_map(|r| r.raw(s, floor)).collect();
                let from = parts.iter().map(|p| p.from).min()?;
                let until = if parts.iter().any(|p| p.until.is_none()) {
                    None
                } else {
                    parts.iter().filter_map(|p| p.until).max()
                };
                Some(Period { from, until })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programme::{Diagnosis, Pregnancy, Schooling};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn subject() -> Subject {
        Subject {
            birth_date: Some(d(1980, 6, 15)),
            sex: Some(Sex::Female),
            conditions: vec![
                Diagnosis {
                    condition: Condition::Hypertension,
                    since: d(2010, 1, 1),
                },
                Diagnosis {
                    condition: Condition::Schizophrenia,
                    since: d(2020, 3, 1),
                },
                Diagnosis {
                    condition: Condition::BipolarDisorder,
                    since: d(2018, 3, 1),
                },
            ],
            ..Subject::default()
        }
    }

    fn open(from: NaiveDate) -> Option<Period> {
        Some(Period { from, until: None })
    }

    #[test]
    fn periods_follow_the_facts() {
        use Enrolment::*;
        let s = subject();
        let cases: Vec<(Enrolment, Option<Period>)> = vec![
            (Everyone, open(d(1980, 6, 15))),
            (AgeFrom(Offset::Years(35)), open(d(2015, 6, 15))),
            (
                AgeBelow(Offset::Years(7)),
                Some(Period {
                    from: d(1980, 6, 15),
                    until: Some(d(1987, 6, 15)),
                }),
            ),
            (
                Condition(crate::key_group::Condition::Hypertension),
                open(d(2010, 1, 1)),
            ),
            (Condition(crate::key_group::Condition::Tuberculosis), None),
            (
                AnyCondition(vec![
                    crate::key_group::Condition::Schizophrenia,
                    crate::key_group::Condition::BipolarDisorder,
                ]),
                open(d(2018, 3, 1)),
            ),
            (Sex(crate::ws365::Sex::Female), open(d(1980, 6, 15))),
            (Sex(crate::ws365::Sex::Male), None),
            (Pregnancy, None),
            (InSchool { grades: 1..=12 }, None),
            (KeyGroup(crate::key_group::KeyGroup::Hypertension), None),
            // The later of diagnosis (2010) and the 35th birthday (2015).
            (
                All(vec![
                    AgeFrom(Offset::Years(35)),
                    Condition(crate::key_group::Condition::Hypertension),
                ]),
                open(d(2015, 6, 15)),
            ),
            // Below 7 and from 35: never.
            (
                All(vec![AgeFrom(Offset::Years(35)), AgeBelow(Offset::Years(7))]),
                None,
            ),
            (
                Any(vec![
                    Condition(crate::key_group::Condition::Tuberculosis),
                    AgeFrom(Offset::Years(65)),
                ]),
                open(d(2045, 6, 15)),
            ),
            (Any(vec![]), None),
            (All(vec![]), open(d(1980, 6, 15))),
        ];
        for (rule, expect) in cases {
            assert_eq!(rule.period(&s), expect, "{rule:?}");
        }
    }

    #[test]
    fn pregnancy_school_and_key_group_facts() {
        let s = Subject {
            birth_date: Some(d(2012, 1, 1)),
            pregnancy: Some(Pregnancy {
                expected_delivery: Some(d(2026, 10, 8)),
                ..Pregnancy::default()
            }),
            school: Some(Schooling {
                school: "4512260001".into(),
                grade: 8,
            }),
            key_groups: vec![KeyGroup::Pregnant],
            ..Subject::default()
        };
        assert_eq!(Enrolment::Pregnancy.period(&s), open(d(2026, 1, 1)));
        assert!(Enrolment::InSchool { grades: 7..=9 }.period(&s).is_some());
        assert!(Enrolment::InSchool { grades: 1..=6 }.period(&s).is_none());
        assert!(Enrolment::KeyGroup(KeyGroup::Pregnant).period(&s).is_some());
    }

    #[test]
    fn no_birth_date_means_no_age_rule_and_a_diagnosis_before_birth_starts_at_birth() {
        let mut s = subject();
        s.birth_date = None;
        assert_eq!(Enrolment::AgeFrom(Offset::Years(35)).period(&s), None);
        let mut s = subject();
        s.conditions[0].since = d(1970, 1, 1);
        assert_eq!(
            Enrolment::Condition(Condition::Hypertension).period(&s),
            open(d(1980, 6, 15))
        );
    }
}
