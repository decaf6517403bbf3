//! Pure domain rules of yiwei (医卫).
//!
//! Everything here is a plain function or type over values: no IO, no async, no wire
//! formats. Storage (`yiwei-store`) and HTTP (`yiwei-web`) call into this crate; it never
//! calls out. Rules cite their source (standard number, 规范 chapter) in their doc comments;
//! where a rule is local practice rather than a national text it is configuration, and the
//! doc comment says so.
//!
//! Modules follow the domain areas named in `ARCHITECTURE.md`:
//! - [`division`]: administrative divisions (行政区划), GB/T 2260 and the 12-digit
//!   统计用区划代码, and the subtree relation that access rules are built on;
//! - [`org`]: institution kinds (医疗卫生机构类别);
//! - [`access`]: roles, reach and the decision whether a user may read a personal record;
//! - [`id_card`]: 居民身份证号 checks (GB 11643-1999);
//! - [`mask`]: how personal identifiers are shown on pages;
//! - [`lockout`]: the failed-login lockout rule.

pub mod access;
pub mod area_code;
pub mod booking;
pub mod contract;
pub mod cost_alert;
pub mod division;
pub mod ehr_quality;
pub mod empi;
pub mod exam;
pub mod id_card;
pub mod imaging;
pub mod indicator;
pub mod key_group;
pub mod lockout;
pub mod mask;
pub mod name;
pub mod notifiable;
pub mod org;
pub mod person_input;
pub mod programme;
pub mod reading;
pub mod recognition;
pub mod record_no;
pub mod referral;
pub mod report;
pub mod share_link;
pub mod surveillance;
pub mod ws365;
