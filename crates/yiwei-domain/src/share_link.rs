//! 影像分享链接: a resident's time-limited link (and QR code) to one of their studies, opened
//! by a doctor outside the system after a PIN.
//!
//! The rules: a link lives between [`MIN_HOURS`] and [`MAX_HOURS`] (default
//! [`DEFAULT_HOURS`]); the PIN is [`PIN_DIGITS`] digits; after [`MAX_FAILURES`] wrong PINs in
//! a row the link locks for good (unlike a login lock, which lifts after a while: a link is
//! cheap to make again, and a guessed link is a leaked study). A revoked or expired link
//! opens nothing. The checks are ordered so that a caller learns no more than it must:
//! unknown, revoked and expired links answer before the PIN is looked at, and a locked
//! link refuses even the right PIN (the idea of `crate::lockout`).

use chrono::{DateTime, Duration, Utc};

pub const PIN_DIGITS: usize = 6;
pub const MAX_FAILURES: u32 = 5;
pub const MIN_HOURS: i64 = 1;
pub const MAX_HOURS: i64 = 24 * 7;
pub const DEFAULT_HOURS: i64 = 72;

/// What the store keeps about a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub expires_at: DateTime<Utc>,
    pub revoked: bool,
    pub failures: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error(
        "分享链接已过期，请向患者索取新链接 / this share link has expired: ask the patient for a new one"
    )]
    Expired,
    #[error("分享链接已被患者撤销 / the patient has revoked this share link")]
    Revoked,
    #[error("PIN 错误次数过多，链接已锁定 / too many wrong PINs: this link is locked")]
    Locked,
    #[error("PIN 错误，还可尝试 {left} 次 / wrong PIN, {left} attempts left")]
    WrongPin { left: u32 },
    #[error("PIN 为 {PIN_DIGITS} 位数字 / the PIN is {PIN_DIGITS} digits")]
    BadPin,
    #[error(
        "有效期须在 {MIN_HOURS} 到 {MAX_HOURS} 小时之间 / the link lasts between {MIN_HOURS} and {MAX_HOURS} hours"
    )]
    BadLifetime,
}

/// A well-formed PIN: exactly [`PIN_DIGITS`] ASCII digits after trimming.
pub fn parse_pin(pin: &str) -> Result<String, ShareError> {
    let pin = pin.trim();
    if pin.len() == PIN_DIGITS && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(pin.to_owned())
    } else {
        Err(ShareError::BadPin)
    }
}

/// How long a new link lasts, from the form's hours (empty: the default).
pub fn lifetime(hours: Option<i64>) -> Result<Duration, ShareError> {
    let hours = hours.unwrap_or(DEFAULT_HOURS);
    if (MIN_HOURS..=MAX_HOURS).contains(&hours) {
        Ok(Duration::hours(hours))
    } else {
        Err(ShareError::BadLifetime)
    }
}

/// Whether the link may be tried at all at `now` (before looking at the PIN).
pub fn check_usable(state: &LinkState, now: DateTime<Utc>) -> Result<(), ShareError> {
    if state.revoked {
        Err(ShareError::Revoked)
    } else if state.expires_at <= now {
        Err(ShareError::Expired)
    } else if state.failures >= MAX_FAILURES {
        Err(ShareError::Locked)
    } else {
        Ok(())
    }
}

/// The outcome of a PIN attempt on a usable link: the new failure count and the answer.
/// A right PIN resets the count; the attempt that reaches [`MAX_FAILURES`] answers
/// `Locked`.
pub fn attempt(
    state: &LinkState,
    now: DateTime<Utc>,
    pin_ok: bool,
) -> (u32, Result<(), ShareError>) {
    if let Err(e) = check_usable(state, now) {
        return (state.failures, Err(e));
    }
    if pin_ok {
        return (0, Ok(()));
    }
    let failures = state.failures + 1;
    if failures >= MAX_FAILURES {
        (failures, Err(ShareError::Locked))
    } else {
        (
            failures,
            Err(ShareError::WrongPin {
                left: MAX_FAILURES - failures,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn live() -> LinkState {
        LinkState {
            expires_at: now() + Duration::hours(1),
            revoked: false,
            failures: 0,
        }
    }

    #[test]
    fn five_wrong_pins_lock_the_link_and_then_even_the_right_pin_is_refused() {
        let mut s = live();
        for left in (1..MAX_FAILURES).rev() {
            let (f, r) = attempt(&s, now(), false);
            assert_eq!(r, Err(ShareError::WrongPin { left }));
            s.failures = f;
        }
        let (f, r) = attempt(&s, now(), false);
        assert_eq!(r, Err(ShareError::Locked));
        s.failures = f;
        assert_eq!(attempt(&s, now(), true).1, Err(ShareError::Locked));
    }

    #[test]
    fn expiry_and_revocation_answer_before_the_pin() {
        let mut s = live();
        s.expires_at = now();
        assert_eq!(attempt(&s, now(), true).1, Err(ShareError::Expired));
        let mut s = live();
        s.revoked = true;
        assert_eq!(attempt(&s, now(), true).1, Err(ShareError::Revoked));
        let mut s = live();
        s.failures = 3;
        assert_eq!(attempt(&s, now(), true), (0, Ok(())));
    }

    #[test]
    fn pins_and_lifetimes_are_checked() {
        assert_eq!(parse_pin(" 012345 "), Ok("012345".into()));
        for bad in ["12345", "1234567", "12a456", "", "１２３４５６"] {
            assert_eq!(parse_pin(bad), Err(ShareError::BadPin), "{bad}");
        }
        assert_eq!(lifetime(None), Ok(Duration::hours(DEFAULT_HOURS)));
        assert_eq!(lifetime(Some(0)), Err(ShareError::BadLifetime));
        assert_eq!(lifetime(Some(MAX_HOURS + 1)), Err(ShareError::BadLifetime));
    }

    proptest! {
        #[test]
        fn a_wrong_pin_never_opens_and_never_lowers_the_count(failures in 0u32..10, revoked in any::<bool>(), mins in -100i64..100) {
            let s = LinkState { expires_at: now() + Duration::minutes(mins), revoked, failures };
            let (f, r) = attempt(&s, now(), false);
            prop_assert!(r.is_err());
            prop_assert!(f >= failures);
        }
    }
}
