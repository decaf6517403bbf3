//! The score of the master patient index (主索引, EMPI): is this record a person we know?
//!
//! Two records are compared field by field, each field at one of four levels (exact, close,
//! disagree, missing), and the evidence is added up as in Fellegi and Sunter's model of
//! record linkage (I. P. Fellegi, A. B. Sunter, "A Theory for Record Linkage", *Journal of
//! the American Statistical Association* 64 (1969), 1183–1210): a level observed on a field
//! weighs `log2(m / u)`, where `m` is how often the level occurs when the two records are
//! the same person and `u` how often it occurs when they are not. The sum is the evidence
//! in bits; [`Thresholds`] turn it into link, review or distinct. Multi-level comparisons
//! and a zero weight for a value missing on either side follow common practice (Splink,
//! the UK Ministry of Justice's implementation of the model). Every field's level, weight
//! and a sentence in English and Chinese are returned, so a reviewer sees why.
//!
//! Three rules sit on top of the sum, because the model's assumption that fields are
//! independent fails for them:
//! - Two *valid* identity numbers (GB 11643 check character and birth date) decide alone:
//!   the same number links, different numbers are different people. A single mistyped
//!   character never yields another valid number (ISO 7064 MOD 11-2 catches every single
//!   substitution and adjacent transposition), so two valid numbers that differ belong to
//!   two people. The rare number that was corrected by the public-security bureau (a wrong
//!   birth date fixed) is merged by hand.
//! - Household, phone and address all say "lives with the same family" and move together
//!   (family members share a phone and an address), so of their agreements only the
//!   strongest counts; their disagreements all count.
//! - Twins share household, birth date and usually a surname, and newborns have no identity
//!   number yet. Names that differ (other than by sound) on the same birth date in the
//!   same family (the same household, phone or address; a merely similar address is a
//!   neighbour's as often as one's own) are never linked automatically: at most they are
//!   sent to review. Twins do not share an identity number, so the rule stands aside when
//!   the two numbers are the same.
//!
//! The default `m` and `u` are set by hand (see [`Weights`]); [`em`] learns them from a
//! county's own records (EM over the pairs of blocking rules, as Splink trains), and
//! [`Thresholds::from_prior`] sets the decision from the prior that training estimates.
//!
//! What this module does not do: find the candidates (the store's blocking keys do), or
//! compare fields the health record has but matching does not need (ethnicity, blood type).
//! Comparing one pair costs a few microseconds and allocates only the normalised names and
//! addresses (and the parts of a name in Latin letters), since it runs against every
//! candidate of every single write. On FEBRL4 (`bench/febrl4_vs_splink.py`) 240,000 pairs
//! score in about half a second on two cores.

use chrono::{Datelike, NaiveDate};

use crate::id_card::{IdCardNumber, Sex};
use crate::name;

pub mod em;

/// The fields of a person that matching compares, as the store holds them.
#[derive(Clone, Default, PartialEq)]
pub struct Person {
    pub name: String,
    pub sex: Option<Sex>,
    pub birth_date: Option<NaiveDate>,
    /// 居民身份证号, as entered (15 or 18 characters) or already normalised.
    pub id_card: Option<String>,
    /// A mobile or landline number in any common spelling (`+86 138 0771 0001`).
    pub phone: Option<String>,
    /// The 12-digit 统计用区划代码 of the village (村/居委会).
    pub village: Option<String>,
    /// The household (户) record.
    pub household: Option<i64>,
    pub address: Option<String>,
}

impl std::fmt::Debug for Person {
    // Personal data never goes to a log: show only which fields are present.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Person")
            .field("name", &!self.name.is_empty())
            .field("sex", &self.sex.is_some())
            .field("birth_date", &self.birth_date.is_some())
            .field("id_card", &self.id_card.is_some())
            .field("phone", &self.phone.is_some())
            .field("village", &self.village)
            .field("household", &self.household.is_some())
            .field("address", &self.address.is_some())
            .finish()
    }
}

/// The compared fields, in the order [`compare`] returns them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldName {
    IdCard,
    Name,
    Sex,
    BirthDate,
    Phone,
    Village,
    Household,
    Address,
}

impl FieldName {
    pub fn describe(self) -> &'static str {
        match self {
            FieldName::IdCard => "ID card",
            FieldName::Name => "name",
            FieldName::Sex => "sex",
            FieldName::BirthDate => "birth date",
            FieldName::Phone => "phone",
            FieldName::Village => "village",
            FieldName::Household => "household",
            FieldName::Address => "address",
        }
    }

    pub fn describe_zh(self) -> &'static str {
        match self {
            FieldName::IdCard => "身份证号",
            FieldName::Name => "姓名",
            FieldName::Sex => "性别",
            FieldName::BirthDate => "出生日期",
            FieldName::Phone => "联系电话",
            FieldName::Village => "村（居）",
            FieldName::Household => "户",
            FieldName::Address => "现住址",
        }
    }
}

/// How far two values of one field agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Exact,
    /// Agree up to a usual error: a homophone name, a mistyped digit, the same township.
    Close,
    Disagree,
    /// Absent on one side or both: no evidence either way, weight 0.
    Missing,
}

impl Level {
    /// The level alone; [`Comparison::describe`] says what agreed, field by field.
    pub fn describe(self) -> &'static str {
        match self {
            Level::Exact => "agrees",
            Level::Close => "nearly agrees",
            Level::Disagree => "disagrees",
            Level::Missing => "missing on one side",
        }
    }

    /// The level alone; [`Comparison::describe_zh`] gives the field's own wording
    /// (`姓名同音`, `出生日期日月颠倒`).
    pub fn describe_zh(self) -> &'static str {
        match self {
            Level::Exact => "一致",
            Level::Close => "相近",
            Level::Disagree => "不一致",
            Level::Missing => "缺失",
        }
    }
}

/// One field of one comparison: its level, the weight it added and why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub field: FieldName,
    pub level: Level,
    /// Bits of evidence for "same person" (negative: against).
    pub weight: f64,
    /// What was found, in English (`names sound the same`).
    pub note: &'static str,
    /// The same in Chinese (`姓名同音`).
    pub note_zh: &'static str,
}

impl Comparison {
    pub fn describe(&self) -> &'static str {
        self.note
    }

    pub fn describe_zh(&self) -> &'static str {
        self.note_zh
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The same person: the record joins the existing resident.
    Link,
    /// Perhaps the same person: a person decides (the review queue).
    Review,
    /// Different people.
    Distinct,
}

/// Which rule made the decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Both identity numbers are valid and the same.
    SameIdCard,
    /// Both identity numbers are valid and differ.
    DifferentIdCards,
    /// The sum reached the link threshold, but the pair looks like twins.
    PossibleTwins,
    /// The sum against the thresholds.
    Score,
}

impl Reason {
    pub fn describe(self) -> &'static str {
        match self {
            Reason::SameIdCard => "the same valid ID-card number decides",
            Reason::DifferentIdCards => "two different valid ID-card numbers: different people",
            Reason::PossibleTwins => {
                "different names, same birth date, same family: possibly twins, a person decides"
            }
            Reason::Score => "the total against the thresholds",
        }
    }

    pub fn describe_zh(self) -> &'static str {
        match self {
            Reason::SameIdCard => "有效身份证号相同，直接判定",
            Reason::DifferentIdCards => "两个不同的有效身份证号，判定为不同的人",
            Reason::PossibleTwins => "姓名不同、出生日期相同且同一家庭，可能是双胞胎，需人工确认",
            Reason::Score => "按总分与阈值判定",
        }
    }
}

/// The outcome of matching one pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Sum of the weights, in bits.
    pub total: f64,
    pub comparisons: Vec<Comparison>,
    pub decision: Decision,
    pub reason: Reason,
}

/// `m` (how often a level occurs for two records of one person) and `u` (how often for two
/// different people) of one level of one field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probabilities {
    pub m: f64,
    pub u: f64,
}

impl Probabilities {
    pub const fn new(m: f64, u: f64) -> Probabilities {
        Probabilities { m, u }
    }

    /// `log2(m / u)`; a level given no probability (or a nonsensical one) weighs nothing, so
    /// a score is always a finite number.
    pub fn weight(self) -> f64 {
        let Probabilities { m, u } = self;
        if m.is_finite() && u.is_finite() && m > 0.0 && u > 0.0 {
            (m / u).log2()
        } else {
            0.0
        }
    }
}

/// The probabilities of the levels of one field. A missing value always weighs 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FieldWeights {
    pub exact: Probabilities,
    pub close: Probabilities,
    pub disagree: Probabilities,
}

impl FieldWeights {
    pub fn weight(&self, level: Level) -> f64 {
        match level {
            Level::Exact => self.exact.weight(),
            Level::Close => self.close.weight(),
            Level::Disagree => self.disagree.weight(),
            Level::Missing => 0.0,
        }
    }
}

const UNUSED: Probabilities = Probabilities::new(0.0, 0.0);

/// Per field, `m` and `u` of each level.
///
/// The defaults are set by hand for a county population register in China and are meant
/// to be replaced by estimates (EM over the county's own pairs) once there are any. `u` is
/// the frequency among two residents of one county drawn at random, except where noted. In
/// bits (`log2 m/u`, exact / close / disagree):
///
/// | field | weights | why |
/// |---|---|---|
/// | ID card | +19.9 / +11.0 / −6.6 | a number is one person's; only compared this way when one side is not a valid number (two valid numbers decide alone) |
/// | name | +13.1 / +5.3 / −5.6 | names repeat: the top 100 surnames cover about 85% of people (公安部 全国姓名报告) and a county has a few dominant surnames (韦, 覃, 蒙 in Hechi), so the chance that two residents share a full name is put at 1 in 10,000; homophones and one-character slips are common in data entry through pinyin input methods (m 0.08); names in Latin letters (typed pinyin, foreign names) are also close with the surname and given name in another order, with each part spelt alike (Jaro–Winkler ≥ 0.9), or with one part not recorded |
/// | sex | +1.0 / – / −4.6 | half of all pairs agree by chance; a wrong sex on a record of the same person is rare (m 0.98) |
/// | birth date | +14.5 / +4.1 / −5.6 | a day out of some 25,000 in a population's span of birth dates (u 4·10⁻⁵); close (one mistyped digit, day and month swapped, or the same year and month) covers some 70 dates (u 3·10⁻³) |
/// | phone | +9.6 / +8.2 / −2.2 | family members share one number, so agreement is taken as 1 in 1,000 rather than 1 in a million; numbers change, so disagreement is weak evidence (m 0.22) |
/// | village | +6.4 / +0.2 / −3.7 | a county has 100–300 villages and a dozen townships; people move and register in another village (m 0.85) |
/// | household | +6.1 / – / −1.7 | `u` among the pairs that reach scoring, where blocking brings in the household's other members (u 0.01); duplicates are often registered into a new household (m 0.7) |
/// | address | +4.5 / +1.2 / −2.0 | exact includes a slip of one character in the words when the numbers agree; neighbours' addresses share most of their characters, so close (bigram overlap ≥ 0.5) is weak (u 0.15); addresses are written many ways (m 0.45) |
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    pub id_card: FieldWeights,
    pub name: FieldWeights,
    pub sex: FieldWeights,
    pub birth_date: FieldWeights,
    pub phone: FieldWeights,
    pub village: FieldWeights,
    pub household: FieldWeights,
    pub address: FieldWeights,
}

impl Weights {
    pub fn field(&self, field: FieldName) -> &FieldWeights {
        match field {
            FieldName::IdCard => &self.id_card,
            FieldName::Name => &self.name,
            FieldName::Sex => &self.sex,
            FieldName::BirthDate => &self.birth_date,
            FieldName::Phone => &self.phone,
            FieldName::Village => &self.village,
            FieldName::Household => &self.household,
            FieldName::Address => &self.address,
        }
    }

    pub fn field_mut(&mut self, field: FieldName) -> &mut FieldWeights {
        match field {
            FieldName::IdCard => &mut self.id_card,
            FieldName::Name => &mut self.name,
            FieldName::Sex => &mut self.sex,
            FieldName::BirthDate => &mut self.birth_date,
            FieldName::Phone => &mut self.phone,
            FieldName::Village => &mut self.village,
            FieldName::Household => &mut self.household,
            FieldName::Address => &mut self.address,
        }
    }
}

impl Default for Weights {
    fn default() -> Weights {
        let p = Probabilities::new;
        Weights {
            id_card: FieldWeights {
                exact: p(0.97, 1e-6),
                close: p(0.02, 1e-5),
                disagree: p(0.01, 1.0 - 1e-6 - 1e-5),
            },
            name: FieldWeights {
                exact: p(0.90, 1e-4),
                close: p(0.08, 2e-3),
                disagree: p(0.02, 1.0 - 1e-4 - 2e-3),
            },
            sex: FieldWeights {
                exact: p(0.98, 0.5),
                close: UNUSED,
                disagree: p(0.02, 0.5),
            },
            birth_date: FieldWeights {
                exact: p(0.93, 4e-5),
                close: p(0.05, 3e-3),
                disagree: p(0.02, 1.0 - 4e-5 - 3e-3),
            },
            phone: FieldWeights {
                exact: p(0.75, 1e-3),
                close: p(0.03, 1e-4),
                disagree: p(0.22, 1.0 - 1e-3 - 1e-4),
            },
            village: FieldWeights {
                exact: p(0.85, 0.01),
                close: p(0.08, 0.07),
                disagree: p(0.07, 0.92),
            },
            household: FieldWeights {
                exact: p(0.70, 0.01),
                close: UNUSED,
                disagree: p(0.30, 0.99),
            },
            address: FieldWeights {
                exact: p(0.45, 0.02),
                close: p(0.35, 0.15),
                disagree: p(0.20, 0.83),
            },
        }
    }
}

/// Where the total turns into a decision, in bits.
///
/// A county holds up to about a million (2²⁰) residents, so before any field is looked at
/// the odds that a record is one particular resident are about 2⁻²⁰. The defaults put
/// `review` at 20 bits, where the evidence has brought those odds to about even (a person
/// must look), and `link` at 30 bits, where they are about 1000 to 1. With the default
/// weights, name + birth date + village agreeing (34.1) links; a homophone name with the
/// same birth date, sex and village (27.2) goes to review; namesakes of one village born on
/// different days (14.9) stay apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub link: f64,
    pub review: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            link: 30.0,
            review: 20.0,
        }
    }
}

impl Thresholds {
    /// Bits above `review` at which a pair links: 10 bits, odds of about 1000 to 1.
    pub const LINK_MARGIN: f64 = 10.0;

    /// The thresholds for pairs whose prior probability of being one person is `prior`
    /// (`λ`, as [`em::train`] estimates it): `review` where the evidence overcomes the prior
    /// odds, `log2((1 − λ) / λ)` bits, so that a pair reaching it is more likely the same
    /// person than not (posterior probability ≥ 0.5: Splink's usual decision, match weight
    /// ≥ 0); `link` [`Self::LINK_MARGIN`] bits above (posterior odds 1000 to 1, probability
    /// ≥ 0.999). The defaults are this rule for one record among 2²⁰ (`λ = 2⁻²⁰`).
    /// A prior outside (0, 1) gives the defaults.
    pub fn from_prior(prior: f64) -> Thresholds {
        if !(prior.is_finite() && prior > 0.0 && prior < 1.0) {
            return Thresholds::default();
        }
        let review = ((1.0 - prior) / prior).log2();
        Thresholds {
            review,
            link: review + Self::LINK_MARGIN,
        }
    }
}

/// What the identity numbers alone say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IdVerdict {
    Same,
    Different,
    Undecided,
}

/// The comparisons and what the rules above the sum need to know.
struct Detail {
    comparisons: Vec<Comparison>,
    ids: IdVerdict,
    /// The names are the same or sound the same.
    names_alike: bool,
}

fn comparison(
    field: FieldName,
    level: Level,
    w: &Weights,
    (note, note_zh): (&'static str, &'static str),
) -> Comparison {
    Comparison {
        field,
        level,
        weight: w.field(field).weight(level),
        note,
        note_zh,
    }
}

const MISSING: (&str, &str) = ("missing on one side", "一方缺失");

/// Compare two records field by field, in the order of [`FieldName`]. Missing values weigh
/// 0; of the agreements of household, phone and address only the strongest counts.
pub fn compare(a: &Person, b: &Person, w: &Weights) -> Vec<Comparison> {
    detail(a, b, w).comparisons
}

/// Compare and decide. Two valid identity numbers decide alone; otherwise the total against
/// the thresholds, with possible twins held back from linking (see the module docs).
pub fn score(a: &Person, b: &Person, w: &Weights, t: &Thresholds) -> Score {
    let Detail {
        comparisons,
        ids,
        names_alike,
    } = detail(a, b, w);
    let total: f64 = comparisons.iter().map(|c| c.weight).sum();
    let level_of = |field: FieldName| {
        comparisons
            .iter()
            .find(|c| c.field == field)
            .map_or(Level::Missing, |c| c.level)
    };
    let (decision, reason) = match ids {
        IdVerdict::Same => (Decision::Link, Reason::SameIdCard),
        IdVerdict::Different => (Decision::Distinct, Reason::DifferentIdCards),
        IdVerdict::Undecided if total >= t.link => {
            // One family: the same household, phone (or its last eight digits) or address.
            // A close address is a neighbour's as often as one's own (see `Weights`).
            let family = level_of(FieldName::Household) == Level::Exact
                || matches!(level_of(FieldName::Phone), Level::Exact | Level::Close)
                || level_of(FieldName::Address) == Level::Exact;
            // Twins never share an identity number: the same number, even one that fails
            // the check, says one person.
            let twins = !names_alike
                && level_of(FieldName::Name) != Level::Missing
                && level_of(FieldName::BirthDate) == Level::Exact
                && level_of(FieldName::IdCard) != Level::Exact
                && family;
            if twins {
                (Decision::Review, Reason::PossibleTwins)
            } else {
                (Decision::Link, Reason::Score)
            }
        }
        IdVerdict::Undecided if total >= t.review => (Decision::Review, Reason::Score),
        IdVerdict::Undecided => (Decision::Distinct, Reason::Score),
    };
    Score {
        total,
        comparisons,
        decision,
        reason,
    }
}

fn detail(a: &Person, b: &Person, w: &Weights) -> Detail {
    let mut comparisons = Vec::with_capacity(8);
    let (id_level, id_note, ids) = compare_id_cards(a.id_card.as_deref(), b.id_card.as_deref());
    comparisons.push(comparison(FieldName::IdCard, id_level, w, id_note));
    let (name_level, name_note, names_alike) = compare_names(&a.name, &b.name);
    comparisons.push(comparison(FieldName::Name, name_level, w, name_note));
    let (level, note) = compare_sex(a.sex, b.sex);
    comparisons.push(comparison(FieldName::Sex, level, w, note));
    let (level, note) = compare_birth_dates(a.birth_date, b.birth_date);
    comparisons.push(comparison(FieldName::BirthDate, level, w, note));
    let (level, note) = compare_phones(a.phone.as_deref(), b.phone.as_deref());
    comparisons.push(comparison(FieldName::Phone, level, w, note));
    let (level, note) = compare_villages(a.village.as_deref(), b.village.as_deref());
    comparisons.push(comparison(FieldName::Village, level, w, note));
    let (level, note) = compare_households(a.household, b.household);
    comparisons.push(comparison(FieldName::Household, level, w, note));
    let (level, note) = compare_addresses(a.address.as_deref(), b.address.as_deref());
    comparisons.push(comparison(FieldName::Address, level, w, note));
    count_family_once(&mut comparisons);
    Detail {
        comparisons,
        ids,
        names_alike,
    }
}

/// Keep only the strongest positive weight among household, phone and address.
fn count_family_once(comparisons: &mut [Comparison]) {
    let is_family = |c: &Comparison| {
        matches!(
            c.field,
            FieldName::Household | FieldName::Phone | FieldName::Address
        )
    };
    let mut strongest: Option<usize> = None;
    for (i, c) in comparisons.iter().enumerate() {
        if is_family(c)
            && c.weight > 0.0
            && strongest.is_none_or(|s| c.weight > comparisons[s].weight)
        {
            strongest = Some(i);
        }
    }
    let Some(strongest) = strongest else { return };
    for (i, c) in comparisons.iter_mut().enumerate() {
        if i != strongest && is_family(c) && c.weight > 0.0 {
            c.weight = 0.0;
            c.note = "agrees too; household, phone and address count once together";
            c.note_zh = "同样一致；同户、电话、住址合计只算一次";
        }
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

type Notes = (&'static str, &'static str);

fn compare_id_cards(a: Option<&str>, b: Option<&str>) -> (Level, Notes, IdVerdict) {
    let (Some(a), Some(b)) = (present(a), present(b)) else {
        return (Level::Missing, MISSING, IdVerdict::Undecided);
    };
    // Only the structure is checked here (`NaiveDate::MAX` as today): a birth date in the
    // future is a registration error, not a reason to ignore the number when matching.
    let valid = |s: &str| IdCardNumber::parse(s, NaiveDate::MAX).ok();
    match (valid(a), valid(b)) {
        (Some(x), Some(y)) if x == y => (
            Level::Exact,
            (
                "the same valid number: the same person",
                "身份证号相同且有效：同一人",
            ),
            IdVerdict::Same,
        ),
        (Some(_), Some(_)) => (
            Level::Disagree,
            (
                "two different valid numbers: different people",
                "两个不同的有效身份证号：不同的人",
            ),
            IdVerdict::Different,
        ),
        (x, y) => {
            let canonical = |valid: Option<IdCardNumber>, raw: &str| {
                valid.map_or_else(|| raw.to_ascii_uppercase(), |v| v.as_str().to_owned())
            };
            let (a, b) = (canonical(x, a), canonical(y, b));
            let level = if a == b {
                (
                    Level::Exact,
                    (
                        "the same number (not a valid one)",
                        "身份证号相同（号码无效）",
                    ),
                )
            } else if within_one_edit(&a, &b) {
                (
                    Level::Close,
                    (
                        "one character apart: a typing error",
                        "身份证号相差一位：录入错误",
                    ),
                )
            } else {
                (Level::Disagree, ("different numbers", "身份证号不同"))
            };
            (level.0, level.1, IdVerdict::Undecided)
        }
    }
}

fn compare_names(a: &str, b: &str) -> (Level, Notes, bool) {
    let (na, nb) = (name::normalise(a), name::normalise(b));
    if na.is_empty() || nb.is_empty() {
        return (Level::Missing, MISSING, false);
    }
    if na == nb {
        let notes = if a.trim() == b.trim() {
            ("the same name", "姓名相同")
        } else {
            (
                "the same name once traditional characters, width and spacing are folded",
                "姓名相同（繁简体或书写格式不同）",
            )
        };
        return (Level::Exact, notes, true);
    }
    if name::sounds_alike_normalised(&na, &nb) {
        return (
            Level::Close,
            ("names sound the same (same pinyin)", "姓名同音"),
            true,
        );
    }
    let parts = name::compare_parts(a, b);
    if parts == Some(name::PartsMatch::Reordered) {
        return (
            Level::Close,
            (
                "the same name with surname and given name in another order",
                "姓名相同，姓与名顺序不同",
            ),
            true,
        );
    }
    // One character added, dropped, changed or two swapped, but never between two-character
    // names: 张伟 and 张强 share only a surname, which half a village does.
    let (len_a, len_b) = (na.chars().count(), nb.chars().count());
    if len_a.min(len_b) >= 2 && len_a.max(len_b) >= 3 && within_one_edit(&na, &nb) {
        return (
            Level::Close,
            ("names differ in one character", "姓名相差一字"),
            false,
        );
    }
    // Names in Latin letters (pinyin typed by hand, foreign names): slips in several
    // letters, and a part not recorded on one side. Names in characters never get here.
    match parts {
        Some(name::PartsMatch::SpeltAlike) => (
            Level::Close,
            ("names spelt alike, part by part", "姓名拼写相近"),
            false,
        ),
        Some(name::PartsMatch::PartMissing) => (
            Level::Close,
            (
                "one name lacks a part; the parts both have agree",
                "一方姓名缺少一部分，其余一致",
            ),
            false,
        ),
        _ => (Level::Disagree, ("different names", "姓名不同"), false),
    }
}

fn compare_sex(a: Option<Sex>, b: Option<Sex>) -> (Level, Notes) {
    match (a, b) {
        (Some(a), Some(b)) if a == b => (Level::Exact, ("the same sex", "性别相同")),
        (Some(_), Some(_)) => (Level::Disagree, ("different sex", "性别不同")),
        _ => (Level::Missing, MISSING),
    }
}

/// The eight digits `YYYYMMDD` of a date, for years 0–9999.
fn date_digits(d: NaiveDate) -> Option<[u8; 8]> {
    let year = u32::try_from(d.year()).ok().filter(|y| *y <= 9999)?;
    let n = year * 10_000 + d.month() * 100 + d.day();
    let mut digits = [0u8; 8];
    let mut rest = n;
    for digit in digits.iter_mut().rev() {
        *digit = (rest % 10) as u8;
        rest /= 10;
    }
    Some(digits)
}

fn compare_birth_dates(a: Option<NaiveDate>, b: Option<NaiveDate>) -> (Level, Notes) {
    let (Some(a), Some(b)) = (a, b) else {
        return (Level::Missing, MISSING);
    };
    if a == b {
        return (Level::Exact, ("the same birth date", "出生日期相同"));
    }
    let one_digit = match (date_digits(a), date_digits(b)) {
        (Some(x), Some(y)) => x.iter().zip(y).filter(|(p, q)| **p != *q).count() == 1,
        _ => false,
    };
    if one_digit {
        return (
            Level::Close,
            ("birth dates differ in one digit", "出生日期相差一位数字"),
        );
    }
    if a.year() == b.year() && a.month() == b.day() && a.day() == b.month() {
        return (Level::Close, ("day and month swapped", "出生日期日月颠倒"));
    }
    if a.year() == b.year() && a.month() == b.month() {
        return (Level::Close, ("the same year and month", "出生年月相同"));
    }
    (Level::Disagree, ("different birth dates", "出生日期不同"))
}

/// The digits of a phone number without a leading country code (`+86`, `0086`) before an
/// 11-digit mobile number. Longer input keeps its first 24 digits, which is enough to
/// compare.
fn phone_digits(s: &str) -> ([u8; 24], usize) {
    let mut digits = [0u8; 24];
    let mut n = 0;
    for b in s.bytes().filter(u8::is_ascii_digit) {
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    for prefix in [&b"0086"[..], &b"86"[..]] {
        let rest = n.saturating_sub(prefix.len());
        if n == prefix.len() + 11 && digits.starts_with(prefix) && digits[prefix.len()] == b'1' {
            digits.copy_within(prefix.len()..n, 0);
            n = rest;
            break;
        }
    }
    (digits, n)
}

fn compare_phones(a: Option<&str>, b: Option<&str>) -> (Level, Notes) {
    let (Some(a), Some(b)) = (a, b) else {
        return (Level::Missing, MISSING);
    };
    let ((da, na), (db, nb)) = (phone_digits(a), phone_digits(b));
    if na == 0 || nb == 0 {
        return (Level::Missing, MISSING);
    }
    let (a, b) = (&da[..na], &db[..nb]);
    if a == b {
        return (Level::Exact, ("the same number", "电话相同"));
    }
    if na >= 8 && nb >= 8 && a[na - 8..] == b[nb - 8..] {
        return (
            Level::Close,
            ("the same last eight digits", "电话后八位相同"),
        );
    }
    (Level::Disagree, ("different numbers", "电话不同"))
}

fn compare_villages(a: Option<&str>, b: Option<&str>) -> (Level, Notes) {
    let (Some(a), Some(b)) = (present(a), present(b)) else {
        return (Level::Missing, MISSING);
    };
    if a == b {
        return (Level::Exact, ("the same village", "同村（居）"));
    }
    // The first 9 digits of the 12-digit code are the township (乡镇/街道).
    match (a.get(..9), b.get(..9)) {
        (Some(x), Some(y)) if x == y => (
            Level::Close,
            ("another village of the same township", "同乡镇不同村"),
        ),
        _ => (Level::Disagree, ("another township", "不同乡镇")),
    }
}

fn compare_households(a: Option<i64>, b: Option<i64>) -> (Level, Notes) {
    match (a, b) {
        (Some(a), Some(b)) if a == b => (Level::Exact, ("the same household", "同户")),
        (Some(_), Some(_)) => (Level::Disagree, ("different households", "不同户")),
        _ => (Level::Missing, MISSING),
    }
}

/// The distinct pairs of neighbouring characters of `s`, sorted.
fn bigrams(s: &str) -> Vec<(char, char)> {
    let mut pairs: Vec<(char, char)> = s.chars().zip(s.chars().skip(1)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Jaccard similarity of two sorted, distinct lists.
fn jaccard(a: &[(char, char)], b: &[(char, char)]) -> f64 {
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - shared;
    if union == 0 {
        0.0
    } else {
        shared as f64 / union as f64
    }
}

/// The runs of ASCII digits of `s` (house, group and building numbers), in order.
fn numbers(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
}

fn has_number(s: &str) -> bool {
    s.bytes().any(|c| c.is_ascii_digit())
}

fn compare_addresses(a: Option<&str>, b: Option<&str>) -> (Level, Notes) {
    let (Some(a), Some(b)) = (a, b) else {
        return (Level::Missing, MISSING);
    };
    let (a, b) = (name::normalise(a), name::normalise(b));
    if a.is_empty() || b.is_empty() {
        return (Level::Missing, MISSING);
    }
    if a == b {
        return (Level::Exact, ("the same address", "住址相同"));
    }
    // A slip of one character in the words (a wrong character from the input method, two
    // letters swapped) leaves the same address; a different number is another house, a
    // neighbour's, so the numbers must agree.
    if has_number(&a) && numbers(&a).eq(numbers(&b)) && within_one_edit(&a, &b) {
        return (
            Level::Exact,
            (
                "the same address but for a slip of one character; the numbers agree",
                "住址相同（一字之差，门牌号一致）",
            ),
        );
    }
    if jaccard(&bigrams(&a), &bigrams(&b)) >= 0.5 {
        return (Level::Close, ("addresses largely the same", "住址相近"));
    }
    (Level::Disagree, ("different addresses", "住址不同"))
}

/// Whether `a` becomes `b` by adding, dropping or changing one character, or by swapping
/// two neighbouring ones (the optimal-string-alignment distance is at most 1). Allocates
/// nothing.
fn within_one_edit(a: &str, b: &str) -> bool {
    let (len_a, len_b) = (a.chars().count(), b.chars().count());
    if len_a.abs_diff(len_b) > 1 {
        return false;
    }
    let (short, long) = if len_a <= len_b { (a, b) } else { (b, a) };
    let mut s = short.chars().peekable();
    let mut l = long.chars().peekable();
    // Skip the common prefix.
    while let (Some(x), Some(y)) = (s.peek(), l.peek()) {
        if x != y {
            break;
        }
        s.next();
        l.next();
    }
    if len_a == len_b {
        let (Some(x1), Some(y1)) = (s.next(), l.next()) else {
            return true;
        };
        let rest_s: Option<char> = s.peek().copied();
        let rest_l: Option<char> = l.peek().copied();
        // One substitution: the rest is equal.
        if s.clone().eq(l.clone()) {
            return true;
        }
        // One transposition: x1 y1 swapped with the next pair, then the rest equal.
        if rest_s == Some(y1) && rest_l == Some(x1) {
            s.next();
            l.next();
            return s.eq(l);
        }
        false
    } else {
        // Drop one character from the longer string.
        l.next();
        s.eq(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_card::check_char;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn id_card(birth: &str, seq: &str) -> String {
        let body = format!("451226{birth}{seq}");
        format!("{body}{}", check_char(&body))
    }

    /// 韦阿娜 of 城西村, the resident the cases below vary.
    fn ana() -> Person {
        Person {
            name: "韦阿娜".into(),
            sex: Some(Sex::Female),
            birth_date: Some(date(1985, 3, 15)),
            id_card: None,
            phone: Some("13807710001".into()),
            village: Some("451226100201".into()),
            household: Some(7),
            address: Some("思恩镇城西村城西屯12号".into()),
        }
    }

    fn levels(a: &Person, b: &Person) -> Vec<(FieldName, Level)> {
        compare(a, b, &Weights::default())
            .iter()
            .map(|c| (c.field, c.level))
            .collect()
    }

    fn level_of(a: &Person, b: &Person, field: FieldName) -> Level {
        compare(a, b, &Weights::default())
            .iter()
            .find(|c| c.field == field)
            .unwrap()
            .level
    }

    fn decide(a: &Person, b: &Person) -> Score {
        score(a, b, &Weights::default(), &Thresholds::default())
    }

    #[test]
    fn default_weights_rank_the_levels_of_every_field() {
        let w = Weights::default();
        for field in [
            FieldName::IdCard,
            FieldName::Name,
            FieldName::Sex,
            FieldName::BirthDate,
            FieldName::Phone,
            FieldName::Village,
            FieldName::Household,
            FieldName::Address,
        ] {
            let f = w.field(field);
            assert!(f.weight(Level::Exact) > 0.0, "{field:?}");
            assert!(f.weight(Level::Disagree) < 0.0, "{field:?}");
            assert!(f.weight(Level::Exact) > f.weight(Level::Close), "{field:?}");
            assert_eq!(f.weight(Level::Missing), 0.0);
            for level in [f.exact, f.close, f.disagree] {
                assert!((0.0..=1.0).contains(&level.m) && (0.0..=1.0).contains(&level.u));
            }
        }
        // The figures the doc comments quote.
        let round = |x: f64| (x * 10.0).round() / 10.0;
        assert_eq!(round(w.name.weight(Level::Exact)), 13.1);
        assert_eq!(round(w.name.weight(Level::Close)), 5.3);
        assert_eq!(round(w.birth_date.weight(Level::Exact)), 14.5);
        assert_eq!(round(w.village.weight(Level::Exact)), 6.4);
        assert_eq!(Probabilities::new(0.0, 0.5).weight(), 0.0);
        assert_eq!(Probabilities::new(f64::NAN, 0.5).weight(), 0.0);
    }

    #[test]
    fn thresholds_follow_the_prior() {
        let t = Thresholds::from_prior(2f64.powi(-20));
        let d = Thresholds::default();
        assert!((t.review - d.review).abs() < 1e-5 && (t.link - d.link).abs() < 1e-5);
        // Even odds: a pair at the review threshold is a match with probability 0.5.
        let prior = 2e-4;
        let t = Thresholds::from_prior(prior);
        let odds = prior / (1.0 - prior) * 2f64.powf(t.review);
        assert!((odds / (1.0 + odds) - 0.5).abs() < 1e-12);
        let odds = prior / (1.0 - prior) * 2f64.powf(t.link);
        assert!(odds / (1.0 + odds) > 0.999);
        assert_eq!(Thresholds::from_prior(0.0), d);
        assert_eq!(Thresholds::from_prior(f64::NAN), d);
    }

    #[test]
    fn names_compare_by_form_sound_and_spelling() {
        let with = |name: &str| Person {
            name: name.into(),
            ..Person::default()
        };
        for (a, b, expect) in [
            ("韦阿娜", "韦阿娜", Level::Exact),
            ("張三", "张三", Level::Exact),
            ("买买提·艾力", "买买提艾力", Level::Exact),
            ("韦阿娜", "伟阿娜", Level::Close),
            ("张伟", "张玮", Level::Close),
            ("张大伟", "张小伟", Level::Close),
            ("张伟", "张小伟", Level::Close),
            ("李明华", "李华明", Level::Close),
            ("张伟", "张强", Level::Disagree),
            ("韦阿娜", "覃达", Level::Disagree),
            // Names in Latin letters: pinyin typed by hand, foreign names.
            ("Wei Ana", "Ana Wei", Level::Close),
            ("Ana Wei", "韦阿娜", Level::Close),
            ("wei ana", "韦阿娜", Level::Close),
            ("georgia simmonds", "geogia simmovnds", Level::Close),
            ("livia swetnam", "livia", Level::Close),
            ("jenna alderson", "jake alderson", Level::Disagree),
            ("Zhang Wei", "Zhang Qiang", Level::Disagree),
            ("韦阿娜", "", Level::Missing),
            ("", "", Level::Missing),
        ] {
            assert_eq!(
                level_of(&with(a), &with(b), FieldName::Name),
                expect,
                "{a} / {b}"
            );
        }
        // A reordered name is the same name (so never taken for a twin); a misspelt one is
        // only close.
        let alike = |a: &str, b: &str| detail(&with(a), &with(b), &Weights::default()).names_alike;
        assert!(alike("Wei Ana", "Ana Wei"));
        assert!(!alike("georgia simmonds", "geogia simmovnds"));
        assert!(!alike("livia swetnam", "livia"));
        let homophone = compare(&with("韦阿娜"), &with("伟阿娜"), &Weights::default());
        assert_eq!(homophone[1].describe_zh(), "姓名同音");
        assert_eq!(
            homophone[1].describe(),
            "names sound the same (same pinyin)"
        );
    }

    #[test]
    fn birth_dates_are_close_after_usual_slips() {
        let with = |d: NaiveDate| Person {
            birth_date: Some(d),
            ..Person::default()
        };
        for (a, b, expect, note) in [
            (
                date(1985, 3, 15),
                date(1985, 3, 15),
                Level::Exact,
                "出生日期相同",
            ),
            (
                date(1985, 3, 15),
                date(1986, 3, 15),
                Level::Close,
                "出生日期相差一位数字",
            ),
            (
                date(1985, 3, 15),
                date(1985, 3, 16),
                Level::Close,
                "出生日期相差一位数字",
            ),
            (
                date(1985, 3, 4),
                date(1985, 4, 3),
                Level::Close,
                "出生日期日月颠倒",
            ),
            (
                date(1985, 3, 4),
                date(1985, 3, 27),
                Level::Close,
                "出生年月相同",
            ),
            (
                date(1985, 3, 15),
                date(1958, 3, 15),
                Level::Disagree,
                "出生日期不同",
            ),
            (
                date(1985, 3, 15),
                date(1990, 7, 1),
                Level::Disagree,
                "出生日期不同",
            ),
        ] {
            let c = compare(&with(a), &with(b), &Weights::default())[3];
            assert_eq!((c.level, c.note_zh), (expect, note), "{a} / {b}");
        }
        assert_eq!(
            level_of(
                &with(date(1985, 3, 15)),
                &Person::default(),
                FieldName::BirthDate
            ),
            Level::Missing
        );
    }

    #[test]
    fn phones_villages_and_addresses_have_their_close_levels() {
        let phone = |p: &str| Person {
            phone: Some(p.into()),
            ..Person::default()
        };
        for (a, b, expect) in [
            ("13807710001", "138 0771 0001", Level::Exact),
            ("+86 138-0771-0001", "13807710001", Level::Exact),
            ("008613807710001", "13807710001", Level::Exact),
            ("13907710001", "13807710001", Level::Close),
            ("0778-2281234", "2281234", Level::Disagree),
            ("13807710001", "13807710002", Level::Disagree),
            ("13807710001", "", Level::Missing),
            ("13807710001", "-", Level::Missing),
        ] {
            assert_eq!(
                level_of(&phone(a), &phone(b), FieldName::Phone),
                expect,
                "{a} / {b}"
            );
        }
        let village = |v: &str| Person {
            village: Some(v.into()),
            ..Person::default()
        };
        for (a, b, expect) in [
            ("451226100201", "451226100201", Level::Exact),
            ("451226100201", "451226100202", Level::Close),
            ("451226100201", "451226101201", Level::Disagree),
            ("451226100201", " ", Level::Missing),
        ] {
            assert_eq!(
                level_of(&village(a), &village(b), FieldName::Village),
                expect
            );
        }
        let address = |v: &str| Person {
            address: Some(v.into()),
            ..Person::default()
        };
        for (a, b, expect) in [
            ("城西村城西屯12号", "城西村 城西屯 12号", Level::Exact),
            ("城西村城西屯12号", "城西村城西屯15号", Level::Close),
            ("城西村城西屯12号", "城西村城西屯12好", Level::Exact),
            ("城西村城西屯12号", "城西村城西屯112号", Level::Close),
            ("城西村城西屯12号", "城西村城西屯1号", Level::Close),
            ("14 kirkwood crescent", "14 kirkwood cresecnt", Level::Exact),
            ("14 kirkwood crescent", "41 kirkwood crescent", Level::Close),
            ("城西村城西屯", "城西村城北屯", Level::Close),
            ("城西村城西屯12号", "水源村下寨3号", Level::Disagree),
            ("城西村城西屯12号", "", Level::Missing),
        ] {
            assert_eq!(
                level_of(&address(a), &address(b), FieldName::Address),
                expect
            );
        }
    }

    #[test]
    fn id_cards_decide_alone_when_both_are_valid() {
        let with = |id: &str| Person {
            id_card: Some(id.into()),
            ..Person::default()
        };
        let valid = id_card("19850315", "002");
        let other = id_card("19850315", "004");
        let s = decide(&with(&valid), &with(&valid.to_lowercase()));
        assert_eq!((s.decision, s.reason), (Decision::Link, Reason::SameIdCard));
        let s = decide(&with(&valid), &with(&other));
        assert_eq!(
            (s.decision, s.reason),
            (Decision::Distinct, Reason::DifferentIdCards)
        );
        // A legacy 15-digit number is the same number.
        let old = "110105491231002";
        let s = decide(&with(old), &with("11010519491231002X"));
        assert_eq!(s.reason, Reason::SameIdCard);
        // One side mistyped (so invalid): close, and the rest of the record decides.
        let mut typo = valid.clone().into_bytes();
        typo[10] = if typo[10] == b'9' { b'0' } else { typo[10] + 1 };
        let typo = String::from_utf8(typo).unwrap();
        assert_eq!(
            level_of(&with(&valid), &with(&typo), FieldName::IdCard),
            Level::Close
        );
        let s = decide(&with(&valid), &with(&typo));
        assert_eq!((s.decision, s.reason), (Decision::Distinct, Reason::Score));
        assert_eq!(
            level_of(&with(&valid), &with(""), FieldName::IdCard),
            Level::Missing
        );
    }

    /// One row: a description, the other record made from `ana()`, the decision and why.
    type Case = (&'static str, fn(&mut Person, &mut Person), Decision, Reason);

    #[test]
    fn decisions_on_the_hard_cases() {
        let cases: &[Case] = &[
            (
                "twins in one household with their own ID cards",
                |a, b| {
                    a.id_card = Some(id_card("20200601", "012"));
                    b.name = "韦阿妹".into();
                    b.id_card = Some(id_card("20200601", "024"));
                    a.birth_date = Some(date(2020, 6, 1));
                    b.birth_date = Some(date(2020, 6, 1));
                },
                Decision::Distinct,
                Reason::DifferentIdCards,
            ),
            (
                "newborn twins without ID cards, names one character apart",
                |a, b| {
                    a.name = "韦子涵".into();
                    b.name = "韦子轩".into();
                    b.sex = Some(Sex::Male);
                },
                Decision::Review,
                Reason::PossibleTwins,
            ),
            (
                "newborn twins of the same sex, names one character apart",
                |a, b| {
                    a.name = "韦子涵".into();
                    b.name = "韦子轩".into();
                },
                Decision::Review,
                Reason::PossibleTwins,
            ),
            (
                "newborn twins: names one character apart, one invalid ID number mistyped \
                 from the other's, same phone",
                |a, b| {
                    a.name = "韦子涵".into();
                    b.name = "韦子轩".into();
                    let valid = id_card("20200601", "012");
                    let mut typo = valid.clone().into_bytes();
                    typo[16] = if typo[16] == b'9' { b'0' } else { typo[16] + 1 };
                    a.id_card = Some(valid);
                    b.id_card = Some(String::from_utf8(typo).unwrap());
                },
                Decision::Review,
                Reason::PossibleTwins,
            ),
            (
                "a given name changed on the same (invalid) ID number, same birth date and family",
                |a, b| {
                    a.id_card = Some("45122619850315002".into());
                    b.id_card = a.id_card.clone();
                    b.name = "韦小娜".into();
                },
                Decision::Link,
                Reason::Score,
            ),
            (
                "names one character apart on the same birth date, neighbours' addresses \
                 (not one family), ID numbers one character apart",
                |a, b| {
                    a.name = "韦子涵".into();
                    b.name = "韦子轩".into();
                    a.phone = None;
                    b.phone = None;
                    a.household = None;
                    b.household = None;
                    b.address = Some("思恩镇城西村城西屯15号".into());
                    let valid = id_card("19850315", "002");
                    let mut typo = valid.clone().into_bytes();
                    typo[16] = if typo[16] == b'9' { b'0' } else { typo[16] + 1 };
                    a.id_card = Some(valid);
                    b.id_card = Some(String::from_utf8(typo).unwrap());
                },
                Decision::Link,
                Reason::Score,
            ),
            (
                "a birth-date digit mistyped, same name, phone and village",
                |_, b| {
                    b.birth_date = Some(date(1985, 3, 16));
                    b.household = None;
                    b.address = None;
                },
                Decision::Link,
                Reason::Score,
            ),
            (
                "a homophone name, same birth date and village, no phone",
                |_, b| {
                    b.name = "伟阿娜".into();
                    b.phone = None;
                    b.household = None;
                    b.address = None;
                },
                Decision::Review,
                Reason::Score,
            ),
            (
                "the same name written in traditional characters, nothing else differs",
                |a, b| {
                    a.name = "張三".into();
                    b.name = "张三".into();
                },
                Decision::Link,
                Reason::Score,
            ),
            (
                "namesakes of one village born on different days",
                |_, b| {
                    b.birth_date = Some(date(1990, 8, 2));
                    b.phone = Some("13977770000".into());
                    b.household = Some(8);
                    b.address = Some("思恩镇城西村岩口屯3号".into());
                },
                Decision::Distinct,
                Reason::Score,
            ),
            (
                "same name and birth date, moved to another township",
                |_, b| {
                    b.village = Some("451226101201".into());
                    b.phone = None;
                    b.household = None;
                    b.address = None;
                },
                Decision::Review,
                Reason::Score,
            ),
            (
                "mother and daughter: same household and phone, different names and dates",
                |_, b| {
                    b.name = "蒙秀英".into();
                    b.birth_date = Some(date(1960, 1, 20));
                },
                Decision::Distinct,
                Reason::Score,
            ),
            (
                "the same valid ID card with a name changed",
                |a, b| {
                    a.id_card = Some(id_card("19850315", "002"));
                    b.id_card = a.id_card.clone();
                    b.name = "韦娜".into();
                },
                Decision::Link,
                Reason::SameIdCard,
            ),
        ];
        for (what, change, decision, reason) in cases {
            let (mut a, mut b) = (ana(), ana());
            change(&mut a, &mut b);
            let s = decide(&a, &b);
            assert_eq!(
                (s.decision, s.reason),
                (*decision, *reason),
                "{what}: total {:.1}, {:?}",
                s.total,
                s.comparisons
            );
            let total: f64 = s.comparisons.iter().map(|c| c.weight).sum();
            assert_eq!(s.total, total);
        }
    }

    #[test]
    fn household_phone_and_address_count_once() {
        let (a, b) = (ana(), ana());
        let comparisons = compare(&a, &b, &Weights::default());
        let family: Vec<&Comparison> = comparisons
            .iter()
            .filter(|c| {
                matches!(
                    c.field,
                    FieldName::Household | FieldName::Phone | FieldName::Address
                )
            })
            .collect();
        assert!(family.iter().all(|c| c.level == Level::Exact));
        assert_eq!(family.iter().filter(|c| c.weight > 0.0).count(), 1);
        assert_eq!(
            family[0].field,
            FieldName::Phone,
            "the strongest is the phone"
        );
        assert_eq!(
            levels(&a, &b),
            [
                (FieldName::IdCard, Level::Missing),
                (FieldName::Name, Level::Exact),
                (FieldName::Sex, Level::Exact),
                (FieldName::BirthDate, Level::Exact),
                (FieldName::Phone, Level::Exact),
                (FieldName::Village, Level::Exact),
                (FieldName::Household, Level::Exact),
                (FieldName::Address, Level::Exact),
            ]
        );
    }

    #[test]
    fn edits_are_counted_on_characters() {
        for (a, b, expect) in [
            ("", "", true),
            ("a", "", true),
            ("abc", "abc", true),
            ("abc", "abd", true),
            ("abc", "acb", true),
            ("abc", "bac", true),
            ("abc", "ab", true),
            ("abc", "bc", true),
            ("abc", "axbc", true),
            ("abc", "cba", false),
            ("abcd", "badc", false),
            ("abc", "a", false),
            ("张大伟", "张小伟", true),
            ("张大伟", "张伟", true),
        ] {
            assert_eq!(within_one_edit(a, b), expect, "{a} / {b}");
            assert_eq!(within_one_edit(b, a), expect, "{b} / {a}");
        }
    }

    #[test]
    fn debug_never_prints_personal_data() {
        let shown = format!("{:?}", ana());
        assert!(
            !shown.contains("韦") && !shown.contains("1380771"),
            "{shown}"
        );
    }

    fn any_person() -> impl proptest::strategy::Strategy<Value = Person> {
        use proptest::prelude::*;
        let date = (1900i32..2026, 1u32..=12, 1u32..=31)
            .prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d.min(28)).unwrap());
        let id = prop_oneof![
            "\\PC{0,20}",
            (1900i32..2026, 1u32..=12, 1u32..=28, 0u32..1000).prop_map(|(y, m, d, s)| id_card(
                &format!("{y:04}{m:02}{d:02}"),
                &format!("{s:03}")
            )),
        ];
        (
            prop_oneof!["[韦覃蒙张王李伟章][阿娜明华子涵轩]{0,3}", "\\PC{0,8}"],
            proptest::option::of(prop_oneof![Just(Sex::Male), Just(Sex::Female)]),
            proptest::option::of(date),
            proptest::option::of(id),
            proptest::option::of(prop_oneof!["1[3-9][0-9]{9}", "\\PC{0,16}"]),
            proptest::option::of(prop_oneof!["4512261[0-9]{2}20[0-9]", "\\PC{0,14}"]),
            proptest::option::of(0i64..5),
            proptest::option::of("[城西北村屯号0-9 ]{0,12}"),
        )
            .prop_map(
                |(name, sex, birth_date, id_card, phone, village, household, address)| Person {
                    name,
                    sex,
                    birth_date,
                    id_card,
                    phone,
                    village,
                    household,
                    address,
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn scores_are_symmetric_and_finite(a in any_person(), b in any_person()) {
            let (ab, ba) = (decide(&a, &b), decide(&b, &a));
            proptest::prop_assert!(ab.total.is_finite());
            proptest::prop_assert_eq!(ab.total, ba.total);
            proptest::prop_assert_eq!(ab.decision, ba.decision);
            proptest::prop_assert_eq!(ab.reason, ba.reason);
            proptest::prop_assert_eq!(ab.comparisons, ba.comparisons);
        }

        #[test]
        fn a_person_with_a_valid_id_card_links_with_themself(
            mut a in any_person(),
            (y, m, d, s) in (1900i32..2026, 1u32..=12, 1u32..=28, 0u32..1000),
        ) {
            a.id_card = Some(id_card(&format!("{y:04}{m:02}{d:02}"), &format!("{s:03}")));
            let s = decide(&a, &a);
            proptest::prop_assert_eq!(s.decision, Decision::Link);
            proptest::prop_assert_eq!(s.reason, Reason::SameIdCard);
        }

        #[test]
        fn a_person_with_name_birth_date_and_village_links_with_themself(
            mut a in any_person(),
            name in "[\u{4e00}-\u{9fa5}]{1,4}",
            (y, m, d) in (1900i32..2026, 1u32..=12, 1u32..=28),
            village in "4512261[0-9]{2}20[0-9]",
        ) {
            a.name = name;
            a.birth_date = Some(date(y, m, d));
            a.village = Some(village);
            let s = decide(&a, &a);
            proptest::prop_assert_eq!(s.decision, Decision::Link, "{:?}", s);
        }

        #[test]
        fn compare_never_panics(
            name_a in "(?s).{0,12}", name_b in "(?s).{0,12}",
            id_a in "(?s).{0,20}", id_b in "(?s).{0,20}",
            phone_a in "(?s).{0,20}", phone_b in "(?s).{0,20}",
            village_a in "(?s).{0,14}", village_b in "(?s).{0,14}",
            address_a in "(?s).{0,20}", address_b in "(?s).{0,20}",
            (y, m, d) in (-5000i32..10000, 1u32..=12, 1u32..=28),
        ) {
            let a = Person {
                name: name_a, id_card: Some(id_a), phone: Some(phone_a),
                village: Some(village_a), address: Some(address_a),
                birth_date: NaiveDate::from_ymd_opt(y, m, d),
                ..Person::default()
            };
            let b = Person {
                name: name_b, id_card: Some(id_b), phone: Some(phone_b),
                village: Some(village_b), address: Some(address_b),
                birth_date: Some(date(1985, 3, 15)),
                ..Person::default()
            };
            let s = decide(&a, &b);
            proptest::prop_assert!(s.total.is_finite());
            proptest::prop_assert_eq!(s.comparisons.len(), 8);
        }
    }
}
