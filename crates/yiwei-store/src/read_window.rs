//! One audit row for a burst of retrievals of the same study (影像调阅审计合并).
//!
//! A viewer scrolling a series, or a DICOMweb client fetching a study instance by instance,
//! makes one request per image: hundreds of reads of one study within seconds. Each is
//! decided afresh by the access gate (a grant that ends, ends at once), but an allowed
//! read that repeats one already audited — same user, study, basis and address — within
//! [`ReadWindow::SPAN`] is covered by that row instead of adding its own. This follows the
//! DICOM audit message for retrievals (PS3.15 A.5.3.2, "DICOM Instances Transferred"),
//! which records one event per study transferred, not one per instance. Refusals are
//! never coalesced, and the first read of every minute-long burst is written before any
//! image goes out, so the log still answers "who opened this study, and when".
//!
//! The window is in memory, per store handle (per server process): another process, or a
//! restart, writes its own first row.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What makes two reads the same for the audit.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ReadKey {
    pub user_id: i64,
    pub object_type: &'static str,
    pub object_id: i64,
    pub basis: &'static str,
    pub remote_addr: Option<String>,
}

/// Recently audited reads (see the module docs).
#[derive(Debug, Default)]
pub struct ReadWindow {
    seen: Mutex<HashMap<ReadKey, Instant>>,
}

/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

impl ReadWindow {
    /// How long one audited read covers identical reads.
    pub const SPAN: Duration = Duration::from_secs(60);

    /// Whether an identical read was audited less than [`Self::SPAN`] before `now`.
    pub fn covered(&self, key: &ReadKey, now: Instant) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(key)
            .is_some_and(|at| now.saturating_duration_since(*at) < Self::SPAN)
    }

    /// Note that `key` was audited at `now`.
    pub fn record(&self, key: ReadKey, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= SWEEP_AT {
            seen.retain(|_, at| now.saturating_duration_since(*at) < Self::SPAN);
        }
        seen.insert(key, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user_id: i64, addr: &str) -> ReadKey {
        ReadKey {
            user_id,
            object_type: "imaging_study",
            object_id: 7,
            basis: "subtree",
            remote_addr: Some(addr.into()),
        }
    }

    #[test]
    fn a_read_covers_the_same_read_for_a_minute_only() {
        let w = ReadWindow::default();
        let t = Instant::now();
        assert!(!w.covered(&key(1, "a"), t));
        w.record(key(1, "a"), t);
        assert!(w.covered(&key(1, "a"), t + Duration::from_secs(59)));
        assert!(!w.covered(&key(1, "a"), t + ReadWindow::SPAN));
        // Another user, or the same user from elsewhere, is not covered.
        assert!(!w.covered(&key(2, "a"), t));
        assert!(!w.covered(&key(1, "b"), t));
    }

    #[test]
    fn stale_entries_are_swept_when_the_window_fills() {
        let w = ReadWindow::default();
        let t = Instant::now();
        for i in 0..SWEEP_AT as i64 {
            w.record(key(i, "a"), t);
        }
        let later = t + ReadWindow::SPAN;
        w.record(key(-1, "a"), later);
        let seen = w.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
    }
}
