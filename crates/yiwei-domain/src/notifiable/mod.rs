//! 法定传染病报告: the notifiable-disease list, the case report card and its checks,
//! duplicate detection, reporting timeliness, CDC review, the warning-signal workflow, and
//! the suspected food-borne disease case report.
//!
//! Source: `shared/domain.md` §4 (the list, the card, the deadlines) and §5 (the CIDARS
//! response chain). What this module deliberately does not do: the detection algorithms
//! themselves (that is `crate::surveillance`, written separately) and anything that
//! needs the database (the store applies these rules inside its transactions).
//!
//! - [`disease`]: the list in force (2025 law: 甲 2, 乙 27, 丙 11) with its history and the
//!   other monitored diseases, classifications, subtypes, 2 h / 24 h deadlines;
//! - [`card`]: the 传染病报告卡 and [`card::validate`];
//! - [`workflow`]: duplicates, timeliness, review, signal steps;
//! - [`foodborne`]: the 食源性疾病 case card.

pub mod card;
pub mod disease;
pub mod foodborne;
pub mod icd10;
pub mod workflow;

pub use card::{Card, Problem};
pub use disease::{CaseClass, Class, Course, Disease};
pub use workflow::{CardStatus, ReviewAction, SignalStatus, SignalStep};
