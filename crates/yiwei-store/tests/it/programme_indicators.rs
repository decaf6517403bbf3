//! Programme indicators: exact figures for a tiny county built by direct inserts, and the
//! drill-down lists holding exactly the people counted.

use yiwei_domain::division::DivisionCode;
use yiwei_domain::programme::indicator::{IndicatorConfig, IndicatorPeriod, Part};
use yiwei_store::access::{self, AccessError, Viewer};
use yiwei_store::programme_indicator::{Figure, Report};
use yiwei_store::{Store, resident};

use crate::support::{County, exec, id_card, int, new_resident};

async fn person(
    store: &Store,
    county: &County,
    village: &DivisionCode,
    name: &str,
    sex: &str,
    birth: &str,
    seq: u32,
) -> i64 {
    resident::create(
        store,
        &new_resident(
            village,
            name,
            sex,
            Some(&id_card("451226", birth, seq)),
            None,
        ),
        &county.admin.who(),
    )
    .await
    .unwrap_or_else(|e| panic!("resident {name}: {e}"))
}

async fn enrol(store: &Store, resident: i64, programme: &str, from: &str, episode: &str) -> i64 {
    int(
        store,
        &format!(
            "INSERT INTO programme_enrolment (resident_id, programme, started_on, episode, created_at) \
             VALUES ({resident}, '{programme}', '{from}', '{episode}', '2020-01-01T00:00:00Z') RETURNING id"
        ),
    )
    .await
}

struct V<'a> {
    programme: &'a str,
    code: &'a str,
    date: &'a str,
    class: Option<&'a str>,
    voided: bool,
}

fn v<'a>(programme: &'a str, code: &'a str, date: &'a str, class: Option<&'a str>) -> V<'a> {
    V {
        programme,
        code,
        date,
        class,
        voided: false,
    }
}

async fn visit(store: &Store, county: &County, resident: i64, village: &DivisionCode, x: V<'_>) {
    let encounter = int(
        store,
        &format!(
            "INSERT INTO encounter (resident_id, division_code, institution_id, kind, started_at, created_at) \
             VALUES ({resident}, '{village}', {inst}, 'follow_up', '{date}T08:00:00Z', '{date}T08:00:00Z') RETURNING id",
            village = village.as_str(),
            inst = county.clinic_a1,
            date = x.date
        ),
    )
    .await;
    let class = x.class.map_or("NULL".to_owned(), |c| format!("'{c}'"));
    let voided = if x.voided {
        format!("'{}T09:00:00Z'", x.date)
    } else {
        "NULL".to_owned()
    };
    exec(
        store,
        &format!(
            "INSERT INTO programme_visit (resident_id, encounter_id, programme, visit_code, visit_date, \
             division_code, classification, recorded_at, voided_at) VALUES ({resident}, {encounter}, \
             '{p}', '{c}', '{d}', '{village}', {class}, '{d}T08:00:00Z', {voided})",
            p = x.programme,
            c = x.code,
            d = x.date,
            village = village.as_str(),
        ),
    )
    .await
    .expect("visit");
}

async fn dose(store: &Store, resident: i64, village: &DivisionCode, vaccine: &str, date: &str) {
    exec(
        store,
        &format!(
            "INSERT INTO immunization (resident_id, vaccine, given_on, division_code, recorded_at) \
             VALUES ({resident}, '{vaccine}', '{date}', '{village}', '{date}T08:00:00Z')",
            village = village.as_str()
        ),
    )
    .await
    .expect("dose");
}

fn figure(report: &Report, code: &str, division: Option<&str>) -> (u64, u64) {
    let i = report
        .indicators
        .iter()
        .position(|i| i.code == code)
        .unwrap_or_else(|| panic!("{code} in the catalogue"));
    let row = match division {
        None => &report.root,
        Some(d) => report
            .children
            .iter()
            .find(|c| c.code == d)
            .unwrap_or_else(|| panic!("child {d}")),
    };
    let Figure {
        numerator,
        denominator,
    } = row.figures[i];
    (numerator, denominator)
}

struct People {
    gao1: i64,
    gao2: i64,
    gao3: i64,
    baby: i64,
    mother: i64,
}

async fn build(store: &Store, county: &County) -> People {
    let (a1, a2) = (&county.village_a1, &county.village_a2);
    // 高一, 70: hypertension since 2020, four follow-ups in 2025, the last controlled, and
    // the annual check.
    let gao1 = person(store, county, a1, "高一", "male", "19550101", 11).await;
    enrol(store, gao1, "hypertension", "2020-01-01", "{}").await;
    for (date, class) in [
        ("2025-01-10", "uncontrolled"),
        ("2025-04-10", "controlled"),
        ("2025-07-10", "controlled"),
        ("2025-10-10", "controlled"),
    ] {
        visit(
            store,
            county,
            gao1,
            a1,
            v("hypertension", "followup", date, Some(class)),
        )
        .await;
    }
    visit(
        store,
        county,
        gao1,
        a1,
        v("elderly_annual", "annual", "2025-05-05", None),
    )
    .await;
    // 高二, 75: two real follow-ups (the last uncontrolled) and two voided ones, which count
    // for nothing.
    let gao2 = person(store, county, a1, "高二", "female", "19500601", 22).await;
    enrol(store, gao2, "hypertension", "2020-01-01", "{}").await;
    visit(
        store,
        county,
        gao2,
        a1,
        v("hypertension", "followup", "2025-02-01", Some("controlled")),
    )
    .await;
    visit(
        store,
        county,
        gao2,
        a1,
        v(
            "hypertension",
            "followup",
            "2025-06-01",
            Some("uncontrolled"),
        ),
    )
    .await;
    for date in ["2025-08-01", "2025-11-01"] {
        let mut x = v("hypertension", "followup", date, Some("controlled"));
        x.voided = true;
        visit(store, county, gao2, a1, x).await;
    }
    // 高三, 67, in the other village: enrolled in October, one follow-up is enough for the
    // three months managed, but it was uncontrolled.
    let gao3 = person(store, county, a2, "高三", "male", "19580303", 33).await;
    enrol(store, gao3, "hypertension", "2025-10-01", "{}").await;
    visit(
        store,
        county,
        gao3,
        a2,
        v(
            "hypertension",
            "followup",
            "2025-11-01",
            Some("uncontrolled"),
        ),
    )
    .await;
    // A baby born in March, visited on day 4, the birth dose of hepatitis B given.
    let baby = person(store, county, a1, "小宝", "male", "20250301", 44).await;
    visit(
        store,
        county,
        baby,
        a1,
        v("child_health", "newborn_visit", "2025-03-05", None),
    )
    .await;
    dose(store, baby, a1, "hepb", "2025-03-01").await;
    // Its mother: registered at 8 weeks, delivered 1 March, visited after discharge.
    let mother = person(store, county, a1, "小宝妈", "female", "19960101", 55).await;
    enrol(
        store,
        mother,
        "maternal",
        "2024-07-20",
        r#"{"lmp":"2024-05-25","delivered_on":"2025-03-01","discharged_on":"2025-03-03"}"#,
    )
    .await;
    visit(
        store,
        county,
        mother,
        a1,
        v("maternal", "prenatal_1", "2024-07-20", None),
    )
    .await;
    visit(
        store,
        county,
        mother,
        a1,
        v("maternal", "postpartum_visit", "2025-03-09", None),
    )
    .await;
    People {
        gao1,
        gao2,
        gao3,
        baby,
        mother,
    }
}

fn year() -> IndicatorPeriod {
    IndicatorPeriod::year(2025).expect("2025")
}

conformance!(figures_follow_the_formulas_and_roll_up_by_division);
async fn figures_follow_the_formulas_and_roll_up_by_division(store: Store) {
    let county = County::build(&store).await;
    build(&store, &county).await;
    let analyst = Viewer {
        user: &county.analyst,
        remote_addr: None,
    };
    let config = IndicatorConfig::default();
    let report = access::programme_indicators(&store, &analyst, &county.county, year(), &config)
        .await
        .expect("the analyst sees county aggregates");
    assert_eq!(figure(&report, "hypertension_standard", None), (2, 3));
    assert_eq!(figure(&report, "hypertension_controlled", None), (1, 3));
    assert_eq!(figure(&report, "elderly_health", None), (1, 3));
    assert_eq!(figure(&report, "newborn_visit", None), (1, 1));
    assert_eq!(figure(&report, "child_health", None), (1, 1));
    assert_eq!(figure(&report, "maternal_early_registration", None), (1, 1));
    assert_eq!(figure(&report, "maternal_postpartum_visit", None), (1, 1));
    assert_eq!(figure(&report, "vaccine:hepb:1", None), (1, 1));
    assert_eq!(figure(&report, "diabetes_standard", None), (0, 0));
    // Township A holds every one of them; township B none.
    assert_eq!(
        figure(&report, "hypertension_standard", Some("451226100")),
        (2, 3)
    );
    assert_eq!(
        figure(&report, "hypertension_standard", Some("451226101")),
        (0, 0)
    );
    // Per village.
    let township =
        access::programme_indicators(&store, &analyst, &county.township_a, year(), &config)
            .await
            .unwrap();
    assert_eq!(
        figure(&township, "hypertension_standard", Some("451226100201")),
        (1, 2)
    );
    assert_eq!(
        figure(&township, "hypertension_standard", Some("451226100202")),
        (1, 1)
    );
    assert_eq!(figure(&township, "hypertension_standard", None), (2, 3));
    // A quarter: 高二's one follow-up in Q2 is enough for a quarter.
    let q2 = IndicatorPeriod::quarter(2025, 2).unwrap();
    let report = access::programme_indicators(&store, &analyst, &county.county, q2, &config)
        .await
        .unwrap();
    assert_eq!(figure(&report, "hypertension_standard", None), (2, 2));
    // Signing coverage is passed through from the contract module.
    assert_eq!(
        report.signing.root.residents,
        report
            .signing
            .children
            .iter()
            .map(|c| c.residents)
            .sum::<i64>()
    );
}

conformance!(the_list_behind_a_figure_is_exactly_the_people_counted);
async fn the_list_behind_a_figure_is_exactly_the_people_counted(store: Store) {
    let county = County::build(&store).await;
    let p = build(&store, &county).await;
    let clinician = Viewer {
        user: &county.clinician_a,
        remote_addr: None,
    };
    let config = IndicatorConfig::default();
    let ids = |list: &yiwei_store::programme_indicator::List| {
        let mut v: Vec<i64> = list.rows.iter().map(|r| r.resident_id).collect();
        v.sort_unstable();
        v
    };
    let list = |code: &'static str, part: Part, root: DivisionCode| {
        let store = store.clone();
        let clinician = clinician.clone();
        let config = config.clone();
        async move {
            access::programme_indicator_list(
                &store,
                &clinician,
                &root,
                year(),
                &config,
                code,
                part,
                (100, 0),
            )
            .await
            .unwrap()
        }
    };
    let numerator = list(
        "hypertension_standard",
        Part::Numerator,
        county.township_a.clone(),
    )
    .await;
    assert_eq!(ids(&numerator), sorted(vec![p.gao1, p.gao3]));
    assert_eq!(numerator.total, 2);
    let gap = list(
        "hypertension_standard",
        Part::Gap,
        county.township_a.clone(),
    )
    .await;
    assert_eq!(ids(&gap), vec![p.gao2]);
    assert_eq!(gap.rows[0].name, "高二");
    assert_eq!(gap.rows[0].village, "城西村");
    assert!(
        gap.rows[0].count.shortfalls[0].en.contains("2 of 4"),
        "{:?}",
        gap.rows[0].count.shortfalls
    );
    let denominator = list(
        "hypertension_controlled",
        Part::Denominator,
        county.township_a.clone(),
    )
    .await;
    assert_eq!(ids(&denominator), sorted(vec![p.gao1, p.gao2, p.gao3]));
    let elderly_gap = list("elderly_health", Part::Gap, county.village_a1.clone()).await;
    assert_eq!(ids(&elderly_gap), vec![p.gao2]);
    let births = list("newborn_visit", Part::Numerator, county.township_a.clone()).await;
    assert_eq!(ids(&births), vec![p.baby]);
    let mothers = list(
        "maternal_early_registration",
        Part::Denominator,
        county.township_a.clone(),
    )
    .await;
    assert_eq!(ids(&mothers), vec![p.mother]);
    // Paging: one at a time, the total stays.
    let page = access::programme_indicator_list(
        &store,
        &clinician,
        &county.township_a,
        year(),
        &config,
        "hypertension_controlled",
        Part::Denominator,
        (1, 1),
    )
    .await
    .unwrap();
    assert_eq!((page.total, page.rows.len()), (3, 1));
    assert_eq!(
        page.rows[0].resident_id,
        sorted(vec![p.gao1, p.gao2, p.gao3])[1]
    );
    // Every list and figure agree for every indicator: the list's total is the figure.
    let report =
        access::programme_indicators(&store, &clinician, &county.township_a, year(), &config)
            .await
            .unwrap();
    for (i, f) in report.indicators.iter().zip(&report.root.figures) {
        for (part, want) in [
            (Part::Numerator, f.numerator),
            (Part::Denominator, f.denominator),
            (Part::Gap, f.denominator - f.numerator),
        ] {
            let got = access::programme_indicator_list(
                &store,
                &clinician,
                &county.township_a,
                year(),
                &config,
                &i.code,
                part,
                (0, 0),
            )
            .await
            .unwrap()
            .total;
            assert_eq!(got, want, "{} {}", i.code, part.as_str());
        }
    }
    // An unknown indicator is a not-found, not an empty list.
    let unknown = access::programme_indicator_list(
        &store,
        &clinician,
        &county.township_a,
        year(),
        &config,
        "no_such",
        Part::Gap,
        (10, 0),
    )
    .await;
    assert!(matches!(
        unknown,
        Err(AccessError::Store(yiwei_store::StoreError::NotFound(_)))
    ));
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v
}

conformance!(aggregate_roles_see_figures_but_not_the_lists_and_each_list_read_is_audited);
async fn aggregate_roles_see_figures_but_not_the_lists_and_each_list_read_is_audited(store: Store) {
    let county = County::build(&store).await;
    build(&store, &county).await;
    let config = IndicatorConfig::default();
    let analyst = Viewer {
        user: &county.analyst,
        remote_addr: None,
    };
    let before = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE object_type = 'programme_indicator_list'",
    )
    .await;
    let refused = access::programme_indicator_list(
        &store,
        &analyst,
        &county.county,
        year(),
        &config,
        "hypertension_standard",
        Part::Gap,
        (10, 0),
    )
    .await;
    assert!(
        matches!(refused, Err(AccessError::Refused(_))),
        "{refused:?}"
    );
    let denied = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE object_type = 'programme_indicator_list' AND outcome = 'denied'",
    )
    .await;
    assert_eq!(denied, 1);
    // A village doctor lists their own village, and not the county's.
    let doctor = Viewer {
        user: &county.doctor_a1,
        remote_addr: None,
    };
    let own = access::programme_indicator_list(
        &store,
        &doctor,
        &county.village_a1,
        year(),
        &config,
        "hypertension_standard",
        Part::Gap,
        (10, 0),
    )
    .await
    .expect("own village");
    assert_eq!(own.total, 1);
    assert!(
        access::programme_indicators(&store, &doctor, &county.county, year(), &config)
            .await
            .is_err(),
        "the county is outside a village doctor's reach"
    );
    let after = int(
        &store,
        "SELECT COUNT(*) FROM audit_log WHERE object_type = 'programme_indicator_list'",
    )
    .await;
    assert_eq!(
        after - before,
        2,
        "one audit row per list read, allowed or refused"
    );
}
