//! The daily programme job end to end: `yiwei demo` builds a county with services, and
//! `yiwei jobs run` rebuilds every work list (and closes expired contracts) without
//! changing what the demo already computed; running it again the same day does nothing.

use std::path::Path;
use std::process::{Command, Output, Stdio};

const KEY: &str = "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592";

fn yiwei(data: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yiwei"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("YIWEI_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("YIWEI_MASTER_KEY", KEY)
        .env("YIWEI_LOG__LEVEL", "warn")
        .current_dir(data.parent().expect("parent"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run yiwei")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_daily_job_rebuilds_the_work_lists_once_a_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let built = yiwei(
        &data,
        &["demo", "--no-serve", "--residents-per-village", "3"],
    );
    assert!(built.status.success(), "{}", text(&built));
    let out = text(&built);
    assert!(out.contains("family-doctor teams"), "{out}");
    // "with 12 family-doctor teams, N contracts, …, M work-list entries"
    let entries: u64 = out
        .split("visits over two years, ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no work-list count in {out}"));
    assert!(entries > 0, "{out}");

    // The job is scheduled from 01:00 county time (UTC+8); at 00:xx it is not due yet.
    let local_hour = (chrono::Utc::now() + chrono::Duration::hours(8))
        .format("%H")
        .to_string();
    let ran = yiwei(&data, &["jobs", "run"]);
    assert!(ran.status.success(), "{}", text(&ran));
    let list = yiwei(&data, &["jobs", "list"]);
    let listed = text(&list);
    if local_hour != "00" {
        let line = listed
            .lines()
            .find(|l| l.contains("programme_due"))
            .unwrap_or_else(|| panic!("programme_due not run: {listed}"));
        assert!(line.contains("done"), "{line}");
        // Once a day: a second run finds nothing new to do for it.
        let again = yiwei(&data, &["jobs", "run"]);
        let again = text(&again);
        let listed = text(&yiwei(&data, &["jobs", "list"]));
        assert_eq!(
            listed
                .lines()
                .filter(|l| l.contains("programme_due"))
                .count(),
            1,
            "{again}\n{listed}"
        );
    }
}
