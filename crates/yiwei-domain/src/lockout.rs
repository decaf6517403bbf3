//! The failed-login lockout rule (账户锁定).
//!
//! After `max_failures` wrong passwords in a row an account is locked for `lock_for`; a
//! correct password during the lock is still refused, so guessing cannot continue. A
//! successful login resets the count. Defaults follow the platform's security baseline
//! (5 failures, 15 minutes, per GB/T 22239 等级保护 practice of locking after repeated
//! failures; the numbers themselves are configuration).

use chrono::{DateTime, Duration, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            lock_for: Duration::minutes(15),
        }
    }
}

/// What the store keeps per account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LoginState {
    pub failures: u32,
    pub locked_until: Option<DateTime<Utc>>,
}

impl LoginState {
    /// The time the lock ends, if the account is locked at `now`.
    pub fn locked_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    /// The state after a wrong password at `now`.
    pub fn after_failure(self, now: DateTime<Utc>, policy: LockoutPolicy) -> LoginState {
        // A lock that has run out starts a fresh count.
        let failures = if self.locked_until.is_some_and(|u| u <= now) {
            1
        } else {
            self.failures + 1
        };
        if failures >= policy.max_failures {
            LoginState {
                failures,
                locked_until: Some(now + policy.lock_for),
            }
        } else {
            LoginState {
                failures,
                locked_until: None,
            }
        }
    }

    /// The state after a correct password (only called when not locked).
    pub fn after_success(self) -> LoginState {
        LoginState::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap() + Duration::minutes(minute)
    }

    #[test]
    fn locks_on_the_fifth_failure_for_fifteen_minutes() {
        let policy = LockoutPolicy::default();
        let mut state = LoginState::default();
        for i in 1..5 {
            state = state.after_failure(at(0), policy);
            assert_eq!(state.failures, i);
            assert_eq!(state.locked_at(at(0)), None);
        }
        state = state.after_failure(at(1), policy);
        assert_eq!(state.locked_at(at(1)), Some(at(16)));
        assert_eq!(state.locked_at(at(15)), Some(at(16)));
        assert_eq!(state.locked_at(at(16)), None);
    }

    #[test]
    fn a_failure_after_the_lock_ran_out_starts_a_new_count() {
        let policy = LockoutPolicy {
            max_failures: 2,
            lock_for: Duration::minutes(5),
        };
        let state = LoginState::default()
            .after_failure(at(0), policy)
            .after_failure(at(0), policy);
        assert!(state.locked_at(at(1)).is_some());
        let state = state.after_failure(at(10), policy);
        assert_eq!(
            state,
            LoginState {
                failures: 1,
                locked_until: None
            }
        );
    }

    #[test]
    fn success_resets() {
        let policy = LockoutPolicy::default();
        let state = LoginState::default()
            .after_failure(at(0), policy)
            .after_success();
        assert_eq!(state, LoginState::default());
    }
}
