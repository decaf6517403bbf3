//! The coded fields of the resident form and page, each over its WS 365 value set
//! (`yiwei_domain::ws365`): options for a select, and a stored code shown as its name.

use yiwei_domain::ws365::{
    BloodAbo, BloodRh, Education, Ethnicity, MaritalStatus, Occupation, PaymentMethod,
    ResidenceType,
};
use yiwei_store::resident::Details;

use crate::i18n::Lang;

type Options = fn(Lang) -> Vec<(String, String)>;

/// Options of a value set in the visitor's language, code first.
macro_rules! options {
    ($set:ty) => {
        |lang: Lang| {
            <$set>::ALL
                .iter()
                .map(|v| {
                    let name = if lang == Lang::En {
                        v.name_en()
                    } else {
                        v.name_zh()
                    };
                    (v.code().to_owned(), name.to_owned())
                })
                .collect()
        }
    };
}

/// The name of a stored code, or the code itself if it is not in the value set (data
/// imported from elsewhere keeps its code rather than vanishing).
macro_rules! name_of {
    ($set:ty, $code:expr, $lang:expr) => {
        match <$set>::parse($code) {
            Ok(v) if $lang == Lang::En => v.name_en().to_owned(),
            Ok(v) => v.name_zh().to_owned(),
            Err(_) => $code.to_owned(),
        }
    };
}

/// (form field, label key, options) of every coded select, in form order.
pub fn coded_fields() -> Vec<(&'static str, &'static str, Options)> {
    vec![
        (
            "residence_type",
            "record.residence_type",
            options!(ResidenceType),
        ),
        ("ethnicity", "record.ethnicity", options!(Ethnicity)),
        ("blood_abo", "record.blood_abo", options!(BloodAbo)),
        ("blood_rh", "record.blood_rh", options!(BloodRh)),
        ("education", "record.education", options!(Education)),
        ("occupation", "record.occupation", options!(Occupation)),
        ("marital", "record.marital", options!(MaritalStatus)),
        ("payment", "record.payment", options!(PaymentMethod)),
    ]
}

/// (label key, display value) of the coded fields a record holds. Age-based key groups
/// (65+, 0–6) are derived from the birth date as of `today` rather than stored, so they
/// never go stale; condition-based ones come from the record.
pub fn describe(
    d: &Details,
    birth_date: Option<chrono::NaiveDate>,
    today: chrono::NaiveDate,
    lang: Lang,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut push = |key: &'static str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.push((key, v));
        }
    };
    push(
        "record.residence_type",
        d.residence_type
            .as_deref()
            .map(|c| name_of!(ResidenceType, c, lang)),
    );
    push(
        "record.ethnicity",
        d.ethnicity.as_deref().map(|c| name_of!(Ethnicity, c, lang)),
    );
    push(
        "record.blood_abo",
        d.blood_abo.as_deref().map(|c| name_of!(BloodAbo, c, lang)),
    );
    push(
        "record.blood_rh",
        d.blood_rh.as_deref().map(|c| name_of!(BloodRh, c, lang)),
    );
    push(
        "record.education",
        d.education.as_deref().map(|c| name_of!(Education, c, lang)),
    );
    push(
        "record.occupation",
        d.occupation
            .as_deref()
            .map(|c| name_of!(Occupation, c, lang)),
    );
    push(
        "record.marital",
        d.marital
            .as_deref()
            .map(|c| name_of!(MaritalStatus, c, lang)),
    );
    let payment: Vec<String> = d
        .payment
        .iter()
        .map(|c| name_of!(PaymentMethod, c.as_str(), lang))
        .collect();
    push("record.payment", Some(payment.join("、")));
    use yiwei_domain::key_group::{self, KeyGroup};
    let by_age = key_group::key_groups(
        &key_group::Facts {
            birth_date,
            ..key_group::Facts::default()
        },
        today,
    );
    let mut codes: Vec<String> = by_age.iter().map(|g| g.code().to_owned()).collect();
    for c in &d.key_groups {
        let age_based = matches!(
            KeyGroup::parse(c),
            Some(KeyGroup::Elderly65 | KeyGroup::Child0to6)
        );
        if !age_based && !codes.contains(c) {
            codes.push(c.clone());
        }
    }
    let groups: Vec<String> = codes
        .iter()
        .map(|c| match KeyGroup::parse(c) {
            Some(g) if lang == Lang::En => g.name_en().to_owned(),
            Some(g) => g.name_zh().to_owned(),
            None => c.clone(),
        })
        .collect();
    push("record.key_groups", Some(groups.join("、")));
    out
}
