//! ICD-10 codes of the notifiable diseases, for exchange (FHIR `Condition.code`) beside the
//! list's own codes.
//!
//! The codes are WHO ICD-10 (2019 edition) categories and subcategories, not the longer
//! codes of China's 疾病分类与代码（国家临床版 2.0）, which extend them (A01.000 伤寒 …) and
//! are not public in machine-readable form; a receiver that needs those maps from these.
//! Where the case classification decides the code (influenza and COVID-19 with the virus
//! identified or not) the confirmed classification picks the "identified" code, and for
//! hepatitis B and C the course (急性/慢性) picks acute or chronic. Diseases
//! the WHO list has no code for (人感染猪链球菌病, 急性弛缓性麻痹 as a syndrome) have none.

use super::disease::{CaseClass, Course};

/// An ICD-10 code and its English title.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icd10 {
    pub code: &'static str,
    pub display: &'static str,
}

const fn c(code: &'static str, display: &'static str) -> Option<Icd10> {
    Some(Icd10 { code, display })
}

/// The ICD-10 code of a card's disease, subtype, classification and course; `None` when
/// ICD-10 has none for it.
pub fn icd10(
    disease: &str,
    subtype: Option<&str>,
    class: CaseClass,
    course: Option<Course>,
) -> Option<Icd10> {
    let confirmed = class == CaseClass::Confirmed;
    let chronic = course == Some(Course::Chronic);
    let acute = course == Some(Course::Acute);
    match (disease, subtype.unwrap_or("")) {
        ("plague", _) => c("A20", "Plague"),
        ("cholera", _) => c("A00", "Cholera"),
        ("sars", _) => c(
            "U04.9",
            "Severe acute respiratory syndrome [SARS], unspecified",
        ),
        ("hiv_aids", "hiv") => c(
            "Z21",
            "Asymptomatic human immunodeficiency virus [HIV] infection status",
        ),
        ("hiv_aids", _) => c(
            "B24",
            "Unspecified human immunodeficiency virus [HIV] disease",
        ),
        ("hepatitis", "hav") => c("B15.9", "Hepatitis A without hepatic coma"),
        ("hepatitis", "hbv") if chronic => {
            c("B18.1", "Chronic viral hepatitis B without delta-agent")
        }
        ("hepatitis", "hbv") if acute => c(
            "B16.9",
            "Acute hepatitis B without delta-agent and without hepatic coma",
        ),
        ("hepatitis", "hcv") if chronic => c("B18.2", "Chronic viral hepatitis C"),
        ("hepatitis", "hcv") if acute => c("B17.1", "Acute hepatitis C"),
        ("hepatitis", "hdv") => c(
            "B17.0",
            "Acute delta-(super)infection of hepatitis B carrier",
        ),
        ("hepatitis", "hev") => c("B17.2", "Acute hepatitis E"),
        ("hepatitis", _) => c("B19.9", "Unspecified viral hepatitis without hepatic coma"),
        ("polio", _) => c("A80.9", "Acute poliomyelitis, unspecified"),
        ("novel_influenza" | "hpai" | "h7n9", _) => c(
            "J09",
            "Influenza due to identified zoonotic or pandemic influenza virus",
        ),
        ("measles", _) => c("B05", "Measles"),
        ("hfrs", _) => c("A98.5", "Haemorrhagic fever with renal syndrome"),
        ("rabies", _) => c("A82", "Rabies"),
        ("japanese_encephalitis", _) => c("A83.0", "Japanese encephalitis"),
        ("dengue", _) => c("A97", "Dengue"),
        ("mpox", _) => c("B04", "Mpox"),
        ("anthrax", "pulmonary") => c("A22.1", "Pulmonary anthrax"),
        ("anthrax", "cutaneous") => c("A22.0", "Cutaneous anthrax"),
        ("anthrax", _) => c("A22.9", "Anthrax, unspecified"),
        ("dysentery", "amoebic") => c("A06", "Amoebiasis"),
        ("dysentery", _) => c("A03", "Shigellosis"),
        ("tb", "rifampicin_resistant" | "bacteriology_positive") => c(
            "A15",
            "Respiratory tuberculosis, bacteriologically and histologically confirmed",
        ),
        ("tb", _) => c(
            "A16",
            "Respiratory tuberculosis, not confirmed bacteriologically or histologically",
        ),
        ("typhoid", "paratyphoid") => c("A01.4", "Paratyphoid fever, unspecified"),
        ("typhoid", _) => c("A01.0", "Typhoid fever"),
        ("meningococcal", _) => c("A39.0", "Meningococcal meningitis"),
        ("pertussis", _) => c("A37", "Whooping cough"),
        ("diphtheria", _) => c("A36", "Diphtheria"),
        ("neonatal_tetanus", _) => c("A33", "Tetanus neonatorum"),
        ("scarlet_fever", _) => c("A38", "Scarlet fever"),
        ("brucellosis", _) => c("A23", "Brucellosis"),
        ("gonorrhoea", _) => c("A54", "Gonococcal infection"),
        ("syphilis", "primary" | "secondary") => c("A51", "Early syphilis"),
        ("syphilis", "tertiary") => c("A52", "Late syphilis"),
        ("syphilis", "congenital") => c("A50", "Congenital syphilis"),
        ("syphilis", "latent") => c("A53.0", "Latent syphilis, unspecified as early or late"),
        ("syphilis", _) => c("A53.9", "Syphilis, unspecified"),
        ("leptospirosis", _) => c("A27", "Leptospirosis"),
        ("schistosomiasis", _) => c("B65", "Schistosomiasis [bilharziasis]"),
        ("malaria", "vivax") => c("B51", "Plasmodium vivax malaria"),
        ("malaria", "falciparum") => c("B50", "Plasmodium falciparum malaria"),
        ("malaria", "malariae") => c("B52", "Plasmodium malariae malaria"),
        ("malaria", "ovale") => c("B53.0", "Plasmodium ovale malaria"),
        ("malaria", _) => c("B54", "Unspecified malaria"),
        ("covid19", _) if confirmed => c("U07.1", "COVID-19, virus identified"),
        ("covid19", _) => c("U07.2", "COVID-19, virus not identified"),
        ("influenza", _) if confirmed => c(
            "J10",
            "Influenza due to identified seasonal influenza virus",
        ),
        ("influenza", _) => c("J11", "Influenza, virus not identified"),
        ("mumps", _) => c("B26", "Mumps"),
        ("rubella", _) => c("B06", "Rubella [German measles]"),
        ("ahc", _) => c(
            "B30.3",
            "Acute epidemic haemorrhagic conjunctivitis (enteroviral)",
        ),
        ("leprosy", _) => c("A30", "Leprosy [Hansen disease]"),
        ("typhus", _) => c("A75", "Typhus fever"),
        ("kala_azar", _) => c("B55.0", "Visceral leishmaniasis"),
        ("echinococcosis", _) => c("B67", "Echinococcosis"),
        ("filariasis", _) => c("B74", "Filariasis"),
        ("hfmd", _) => c("B08.4", "Enteroviral vesicular stomatitis with exanthem"),
        ("other_diarrhoea", _) => c(
            "A09",
            "Other gastroenteritis and colitis of infectious and unspecified origin",
        ),
        ("varicella", _) => c("B01", "Varicella [chickenpox]"),
        ("mers", _) => c("B34.2", "Coronavirus infection, unspecified"),
        ("ebola", _) => c("A98.4", "Ebola virus disease"),
        ("zika", _) => c("A92.5", "Zika virus disease"),
        ("unexplained_pneumonia", _) => c("J18.9", "Pneumonia, unspecified"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notifiable::disease::DISEASES;

    /// Diseases ICD-10 has no code for.
    const UNCODED: &[&str] = &["s_suis", "afp"];

    fn well_formed(code: &str) -> bool {
        let b = code.as_bytes();
        let head = b.len() >= 3
            && b[0].is_ascii_uppercase()
            && b[1].is_ascii_digit()
            && b[2].is_ascii_digit();
        head && (b.len() == 3 || (b.len() == 5 && b[3] == b'.' && b[4].is_ascii_digit()))
    }

    #[test]
    fn every_disease_and_subtype_has_a_well_formed_code_unless_icd10_has_none() {
        for d in DISEASES {
            let subtypes: Vec<Option<&str>> = if d.subtypes.is_empty() {
                vec![None]
            } else {
                d.subtypes.iter().map(|s| Some(s.code)).collect()
            };
            for sub in subtypes {
                for (class, course) in d.classifications.iter().flat_map(|c| {
                    Course::ALL
                        .map(|k| (*c, Some(k)))
                        .into_iter()
                        .chain([(*c, None)])
                }) {
                    let found = icd10(d.code, sub, class, course);
                    if UNCODED.contains(&d.code) {
                        assert_eq!(found, None, "{}", d.code);
                        continue;
                    }
                    let found = found.unwrap_or_else(|| panic!("{} {sub:?} has no code", d.code));
                    assert!(well_formed(found.code), "{}: {}", d.code, found.code);
                    assert!(!found.display.is_empty());
                }
            }
        }
    }

    #[test]
    fn subtypes_and_confirmation_pick_the_specific_code() {
        let code = |d, s, c| icd10(d, s, c, None).map(|x| x.code);
        let hbv = |course| icd10("hepatitis", Some("hbv"), CaseClass::Confirmed, course);
        assert_eq!(hbv(Some(Course::Chronic)).map(|x| x.code), Some("B18.1"));
        assert_eq!(hbv(Some(Course::Acute)).map(|x| x.code), Some("B16.9"));
        assert_eq!(
            hbv(Some(Course::Unclassified)).map(|x| x.code),
            Some("B19.9")
        );
        assert_eq!(
            code("hepatitis", Some("hev"), CaseClass::Clinical),
            Some("B17.2")
        );
        assert_eq!(
            code("anthrax", Some("pulmonary"), CaseClass::Confirmed),
            Some("A22.1")
        );
        assert_eq!(
            code("malaria", Some("falciparum"), CaseClass::Confirmed),
            Some("B50")
        );
        assert_eq!(code("influenza", None, CaseClass::Confirmed), Some("J10"));
        assert_eq!(code("influenza", None, CaseClass::Clinical), Some("J11"));
        assert_eq!(code("covid19", None, CaseClass::Suspected), Some("U07.2"));
        assert_eq!(code("unknown", None, CaseClass::Confirmed), None);
    }
}
