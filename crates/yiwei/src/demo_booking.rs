//! The demo county's bookings and referrals (issue 7): a schedule for every institution
//! that gives care, their slots for the coming week, and a stream of history — two weeks
//! of bookings with their outcomes (attended, no-shows, cancellations, a waitlist fill)
//! and referrals up and down in every state.
//!
//! History is made honestly: the same access functions the pages use, each called with the
//! clock of the moment it happens (`When`), so a booking is made before its slot and
//! marked after it, and every step is checked and audited like a real one. Deterministic:
//! the choices follow the residents' order, no randomness beyond the demo's seed.

use anyhow::{Context, Result};
use chrono::{Duration, NaiveTime};
use yiwei_domain::booking::{BookingStatus, ScheduleRules, ServiceKind, Session};
use yiwei_domain::org::InstitutionKind;
use yiwei_domain::referral::{Event as Move, Reason, Urgency};
use yiwei_store::access::{self, Viewer};
use yiwei_store::booking::{self, NewSchedule, SlotFilter, When};
use yiwei_store::referral::NewReferral;
use yiwei_store::{Store, org, user};

use crate::demo::DemoCounty;

/// The schedules an institution of `kind` runs: (department, name, service, sessions).
fn schedules_for(
    kind: InstitutionKind,
) -> Vec<(&'static str, &'static str, ServiceKind, Vec<&'static str>)> {
    let weekdays = |hours: &'static str| -> Vec<&'static str> {
        match hours {
            "am" => vec![
                "mon 08:00-11:30 15x3",
                "tue 08:00-11:30 15x3",
                "wed 08:00-11:30 15x3",
                "thu 08:00-11:30 15x3",
                "fri 08:00-11:30 15x3",
            ],
            _ => vec![
                "mon 14:30-17:00 30x2",
                "wed 14:30-17:00 30x2",
                "fri 14:30-17:00 30x2",
            ],
        }
    };
    match kind {
        InstitutionKind::CountyHospital => vec![
            (
                "内科",
                "内科普通门诊",
                ServiceKind::Outpatient,
                weekdays("am"),
            ),
            (
                "外科",
                "外科普通门诊",
                ServiceKind::Outpatient,
                weekdays("pm"),
            ),
            (
                "超声科",
                "B超检查",
                ServiceKind::Exam,
                vec!["tue 08:00-12:00 20x2", "thu 08:00-12:00 20x2"],
            ),
            (
                "放射科",
                "CT检查",
                ServiceKind::Exam,
                vec!["mon 14:00-17:00 20x2", "wed 14:00-17:00 20x2"],
            ),
        ],
        InstitutionKind::TcmHospital => {
            vec![(
                "中医内科",
                "中医门诊",
                ServiceKind::Outpatient,
                weekdays("am"),
            )]
        }
        InstitutionKind::MaternalChildHospital => vec![
            (
                "妇产科",
                "产科门诊",
                ServiceKind::Outpatient,
                weekdays("am"),
            ),
            (
                "儿童保健科",
                "儿童预防接种",
                ServiceKind::Vaccination,
                vec!["tue 08:30-11:30 30x6", "fri 08:30-11:30 30x6"],
            ),
        ],
        InstitutionKind::TownshipHealthCentre | InstitutionKind::CommunityHealthCentre => vec![
            ("全科", "全科门诊", ServiceKind::Outpatient, weekdays("am")),
            (
                "预防接种门诊",
                "预防接种",
                ServiceKind::Vaccination,
                vec!["wed 08:30-11:30 30x6"],
            ),
        ],
        InstitutionKind::VillageClinic => vec![(
            "村卫生室",
            "村医门诊",
            ServiceKind::Outpatient,
            vec!["mon 08:00-10:00 30x2", "thu 08:00-10:00 30x2"],
        )],
        InstitutionKind::PrivateClinic | InstitutionKind::Cdc | InstitutionKind::HealthBureau => {
            Vec::new()
        }
    }
}

/// The county hospital's first schedule (内科), for the green channel.
struct Made {
    hospital_outpatient: Option<i64>,
    centre_outpatient: Option<i64>,
}

async fn make_schedules(store: &Store, demo: &DemoCounty, now: When) -> Result<Made> {
    let filter = org::Filter {
        within: Some(demo.county.clone()),
        kind: None,
        community_id: None,
        name: None,
    };
    let (list, _) = org::list(store, &filter, 100_000, 0).await?;
    let mut made = Made {
        hospital_outpatient: None,
        centre_outpatient: None,
    };
    // Two weeks back, so that the history below has slots in the past.
    let from = now.today() - Duration::days(14);
    for i in list.iter().filter(|i| i.active) {
        for (department, name, service, sessions) in schedules_for(i.kind) {
            let rules = ScheduleRules {
                sessions: sessions
                    .iter()
                    .map(|s| Session::parse(s))
                    .collect::<Result<_, _>>()
                    .map_err(|e| anyhow::anyhow!("demo session: {e}"))?,
                green_reserved: if i.kind == InstitutionKind::CountyHospital {
                    1
                } else {
                    0
                },
                ..ScheduleRules::default()
            };
            let id = booking::create_schedule(
                store,
                &NewSchedule {
                    institution_id: i.id,
                    department: department.into(),
                    doctor_id: None,
                    service,
                    name: name.into(),
                    rules,
                },
                None,
            )
            .await
            .map_err(|e| anyhow::anyhow!("demo schedule: {e}"))?;
            // Open the slots day by day as the county would have: each day's opening
            // reaches the 7-day horizon from that day.
            let mut day = from;
            while day <= now.today() {
                let then = When {
                    now: yiwei_domain::booking::to_utc(
                        day.and_time(NaiveTime::MIN),
                        now.offset_hours,
                    ),
                    offset_hours: now.offset_hours,
                };
                booking::open_slots(store, id, day, day + Duration::days(7), then)
                    .await
                    .map_err(|e| anyhow::anyhow!("demo slots: {e}"))?;
                day += Duration::days(7);
            }
            booking::open_slots(store, id, now.today(), now.today() + Duration::days(7), now)
                .await
                .map_err(|e| anyhow::anyhow!("demo slots: {e}"))?;
            if i.id == demo.county_hospital_id && made.hospital_outpatient.is_none() {
                made.hospital_outpatient = Some(id);
            }
            if i.id == demo.sien_centre_id && made.centre_outpatient.is_none() {
                made.centre_outpatient = Some(id);
            }
        }
    }
    Ok(made)
}

/// The slots of a schedule starting in `[from, to)`, in time order.
async fn slots_between(
    store: &Store,
    schedule: i64,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<i64>> {
    let f = SlotFilter {
        schedule_id: Some(schedule),
        start_from: Some(from),
        start_before: Some(to),
        ..Default::default()
    };
    Ok(booking::slots(store, &f, 500, 0)
        .await?
        .0
        .iter()
        .map(|s| s.id)
        .collect())
}

/// Add the schedules, bookings and referrals to a freshly built demo county.
pub async fn add(store: &Store, demo: &DemoCounty) -> Result<()> {
    let now = When::now(8);
    let made = make_schedules(store, demo, now).await?;
    let county_doctor = user::by_username(store, "doctor.county")
        .await
        .context("the demo's county doctor")?;
    let centre_doctor = user::by_username(store, "doctor.sien")
        .await
        .context("the demo's township doctor")?;
    let desk = Viewer {
        user: &county_doctor,
        remote_addr: None,
    };
    let centre = Viewer {
        user: &centre_doctor,
        remote_addr: None,
    };
    // Residents of 思恩镇, the township doctor's reach.
    let (residents, _) = access::list_residents(store, &centre, &demo.townships[0], 60, 0)
        .await
        .map_err(|e| anyhow::anyhow!("demo residents: {e}"))?;
    let ids: Vec<i64> = residents.iter().map(|r| r.id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let at = |t: chrono::DateTime<chrono::Utc>| When {
        now: t,
        offset_hours: now.offset_hours,
    };

    // Bookings at the county hospital and the township centre over the past two weeks:
    // booked two days before, then attended (most), no-show (one in eight) or cancelled.
    for (schedule, viewer) in [
        (made.hospital_outpatient, &desk),
        (made.centre_outpatient, &centre),
    ] {
        let Some(schedule) = schedule else { continue };
        let past = slots_between(store, schedule, now.now - Duration::days(14), now.now).await?;
        for (n, slot) in past.iter().enumerate().take(40) {
            let resident = ids[n % ids.len()];
            let s = booking::slot(store, *slot).await?;
            let booked_at = at(s.starts_at - Duration::days(2));
            let Ok(id) = access::book(store, viewer, resident, *slot, booked_at).await else {
                continue;
            };
            let after = at(s.starts_at + Duration::minutes(20));
            let outcome = match n % 8 {
                0 => Some(BookingStatus::NoShow),
                5 => None,
                _ => Some(BookingStatus::Attended),
            };
            match outcome {
                Some(o) => {
                    access::mark_booking(store, viewer, id, o, after)
                        .await
                        .map_err(|e| anyhow::anyhow!("demo outcome: {e}"))?;
                }
                None => {
                    access::cancel_booking(store, viewer, id, "患者改期", booked_at)
                        .await
                        .map_err(|e| anyhow::anyhow!("demo cancel: {e}"))?;
                }
            }
        }
        // The coming week: a few bookings, one slot filled to the brim and a waitlist.
        let coming = slots_between(
            store,
            schedule,
            now.now + Duration::hours(3),
            now.now + Duration::days(7),
        )
        .await?;
        for (n, slot) in coming.iter().enumerate().take(12) {
            let _ = access::book(store, viewer, ids[(n * 7 + 3) % ids.len()], *slot, now).await;
        }
    }

    // Referrals: 思恩镇 up to the county hospital, in every state, and the returns down.
    let hospital = demo.county_hospital_id;
    let reasons = [
        (
            Reason::ChronicUncontrolled,
            "高血压三次随访控制不满意，收缩压 170 mmHg 以上",
            Urgency::Routine,
        ),
        (
            Reason::NeedsExamination,
            "上腹部包块待查，需要 CT 检查",
            Urgency::Routine,
        ),
        (
            Reason::Critical,
            "胸痛 2 小时，心电图 ST 段抬高",
            Urgency::Emergency,
        ),
        (
            Reason::UnclearDiagnosis,
            "反复发热一周，原因不明",
            Urgency::Urgent,
        ),
        (
            Reason::BeyondCapability,
            "糖尿病足，需专科处理",
            Urgency::Urgent,
        ),
    ];
    for n in 0..10usize.min(ids.len()) {
        let (reason, summary, urgency) = reasons[n % reasons.len()];
        // Older referrals have run their course; the newest are still waiting.
        let sent = at(now.now - Duration::days(10 - n as i64) - Duration::hours(3));
        let new = NewReferral {
            resident_id: ids[(n * 5 + 1) % ids.len()],
            to_institution_id: hospital,
            urgency,
            reason,
            summary: summary.into(),
            attachments: Vec::new(),
            green_channel: urgency >= Urgency::Urgent,
            slot_id: None,
        };
        let id = access::send_referral(store, &centre, &new, sent)
            .await
            .map_err(|e| anyhow::anyhow!("demo referral: {e}"))?;
        let step = |h: i64| at(sent.now + Duration::hours(h));
        let moves: Vec<Move> = match n % 5 {
            0 => vec![
                Move::Accept,
                Move::Arrive,
                Move::Complete,
                Move::ReturnDown {
                    summary: "病情稳定，请家庭医生每月随访血压".into(),
                },
            ],
            1 => vec![Move::Accept, Move::Arrive, Move::Complete],
            2 => vec![Move::Accept, Move::Arrive],
            3 => vec![Move::Decline {
                reason: "本院该专科床位已满，建议转市级医院".into(),
            }],
            _ => Vec::new(),
        };
        for (h, mv) in moves.iter().enumerate() {
            access::move_referral(store, &desk, id, mv, step(h as i64 + 1))
                .await
                .map_err(|e| anyhow::anyhow!("demo referral move: {e}"))?;
        }
    }
    Ok(())
}
