//! `[programmes]` in `yiwei.toml`: the programme windows that are local practice, not
//! national text (`docs/programmes.md` marks each *unconfirmed*), so a county can set its
//! province's rules without a new build. The 规范's own figures (four follow-ups a year, the
//! control cut-offs, the ages) are not here: changing those is a new programme edition.
//!
//! ```toml
//! [programmes.hypertension]
//! window_days = 14              # a visit this many days either side of the target counts
//! first_within_days = 30        # the first follow-up after enrolment
//! recheck_days = 14             # not controlled: see again within
//! referral_follow_up_days = 14  # after a referral back to primary care
//! [programmes.elderly]
//! from_month = 3                # the county's annual check campaign season
//! to_month = 10
//! ```

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use yiwei_domain::programme::Config as Rules;
use yiwei_store::programme::Catalogue;

/// The local windows of the hypertension and diabetes follow-ups (national defaults: a
/// ±14-day window, the first visit within 30 days, recheck and referral follow-up within
/// 14).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FollowUp {
    /// A visit this many days before or after the target date counts for it.
    pub window_days: u32,
    /// The first follow-up is due within this many days of enrolment.
    pub first_within_days: u32,
    /// An uncontrolled visit is seen again within this many days.
    pub recheck_days: u32,
    /// After a referral back to primary care, the next visit within this many days.
    pub referral_follow_up_days: u32,
}

impl Default for FollowUp {
    fn default() -> Self {
        FollowUp {
            window_days: 14,
            first_within_days: 30,
            recheck_days: 14,
            referral_follow_up_days: 14,
        }
    }
}

/// The same for severe mental disorders, whose first visit is due sooner (14 days).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MentalFollowUp {
    pub window_days: u32,
    pub first_within_days: u32,
    /// A basically stable patient is seen again within this many days.
    pub recheck_days: u32,
    pub referral_follow_up_days: u32,
}

impl Default for MentalFollowUp {
    fn default() -> Self {
        MentalFollowUp {
            window_days: 14,
            first_within_days: 14,
            recheck_days: 14,
            referral_follow_up_days: 14,
        }
    }
}

/// The 65+ annual check's season.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Elderly {
    pub from_month: u32,
    pub to_month: u32,
}

impl Default for Elderly {
    fn default() -> Self {
        Elderly {
            from_month: 1,
            to_month: 12,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Programmes {
    pub hypertension: FollowUp,
    pub diabetes: FollowUp,
    pub severe_mental: MentalFollowUp,
    pub elderly: Elderly,
}

impl Default for Programmes {
    fn default() -> Self {
        let rules = Rules::default();
        Programmes {
            hypertension: FollowUp::default(),
            diabetes: FollowUp::default(),
            severe_mental: MentalFollowUp::default(),
            elderly: Elderly {
                from_month: rules.elderly.from_month,
                to_month: rules.elderly.to_month,
            },
        }
    }
}

impl Programmes {
    /// The catalogue in force: the national programmes with these windows; a value out of
    /// range is an error naming its key.
    pub fn catalogue(&self) -> Result<Catalogue> {
        let mut rules = Rules::default();
        let m = &self.severe_mental;
        let mental = FollowUp {
            window_days: m.window_days,
            first_within_days: m.first_within_days,
            recheck_days: m.recheck_days,
            referral_follow_up_days: m.referral_follow_up_days,
        };
        for (name, f, interval, recheck, referral) in [
            (
                "hypertension",
                &self.hypertension,
                &mut rules.hypertension.follow_up,
                &mut rules.hypertension.recheck_days,
                &mut rules.hypertension.referral_follow_up_days,
            ),
            (
                "diabetes",
                &self.diabetes,
                &mut rules.diabetes.follow_up,
                &mut rules.diabetes.recheck_days,
                &mut rules.diabetes.referral_follow_up_days,
            ),
            (
                "severe_mental",
                &mental,
                &mut rules.severe_mental.follow_up,
                &mut rules.severe_mental.recheck_days,
                &mut rules.severe_mental.referral_follow_up_days,
            ),
        ] {
            let (window, first) = (f.window_days, f.first_within_days);
            let (recheck_days, referral_days) = (f.recheck_days, f.referral_follow_up_days);
            // Windows must not overlap the next target, or one visit would answer two.
            let most = interval.every_days.saturating_sub(1) / 2;
            for (key, value, range) in [
                ("window_days", window, 0..=most),
                ("first_within_days", first, 1..=interval.every_days),
                ("recheck_days", recheck_days, 1..=interval.every_days),
                (
                    "referral_follow_up_days",
                    referral_days,
                    1..=interval.every_days,
                ),
            ] {
                if !range.contains(&value) {
                    bail!(
                        "programmes.{name}.{key} must be between {} and {} (the follow-up \
                         interval is {} days), got {value}",
                        range.start(),
                        range.end(),
                        interval.every_days
                    );
                }
            }
            interval.window_before_days = window;
            interval.window_after_days = window;
            interval.first_within_days = first;
            *recheck = recheck_days;
            *referral = referral_days;
        }
        let e = &self.elderly;
        if !(1..=12).contains(&e.from_month) || !(e.from_month..=12).contains(&e.to_month) {
            bail!(
                "programmes.elderly.from_month and to_month must be months 1–12 with from_month \
                 ≤ to_month, got {} and {}",
                e.from_month,
                e.to_month
            );
        }
        rules.elderly.from_month = e.from_month;
        rules.elderly.to_month = e.to_month;
        Ok(Catalogue::national(&rules))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(c: &Catalogue, code: &str) -> yiwei_domain::programme::Interval {
        let p = c.programmes.iter().find(|p| p.code == code).expect(code);
        match &p.schedule {
            yiwei_domain::programme::Schedule::Interval(i) => i.clone(),
            other => panic!("{code}: {other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_the_national_catalogue() {
        assert_eq!(
            format!("{:?}", Programmes::default().catalogue().unwrap()),
            format!("{:?}", Catalogue::default())
        );
    }

    #[test]
    fn local_windows_reach_the_schedules() {
        let mut p = Programmes::default();
        p.hypertension.window_days = 30;
        p.hypertension.referral_follow_up_days = 7;
        p.elderly = Elderly {
            from_month: 3,
            to_month: 10,
        };
        let c = p.catalogue().unwrap();
        let h = interval(&c, "hypertension");
        assert_eq!((h.window_before_days, h.window_after_days), (30, 30));
        assert_eq!(h.after_referral_days, Some(7));
        assert_eq!(interval(&c, "diabetes").window_before_days, 14, "untouched");
        // A programme keeps its own defaults for what is left out.
        assert_eq!(interval(&c, "severe_mental").first_within_days, 14);
        assert_eq!(interval(&c, "hypertension").first_within_days, 30);
    }

    #[test]
    fn the_national_defaults_match_the_domain_rules() {
        // The config's defaults restate the domain's; the first test holds them equal.
        let rules = Rules::default();
        assert_eq!(rules.hypertension.follow_up.first_within_days, 30);
        assert_eq!(rules.severe_mental.follow_up.first_within_days, 14);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let mut p = Programmes::default();
        p.diabetes.window_days = 60;
        let e = p.catalogue().unwrap_err().to_string();
        assert!(e.contains("programmes.diabetes.window_days"), "{e}");
        let mut p = Programmes::default();
        p.severe_mental.recheck_days = 0;
        assert!(
            p.catalogue()
                .unwrap_err()
                .to_string()
                .contains("recheck_days")
        );
        let mut p = Programmes::default();
        p.elderly.from_month = 11;
        p.elderly.to_month = 2;
        assert!(p.catalogue().unwrap_err().to_string().contains("elderly"));
    }
}
