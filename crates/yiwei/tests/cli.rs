//! The `yiwei` binary end to end: each test runs the real executable against data folders
//! in a temporary directory, the way an operator or a script would, and checks exit codes
//! and output. SQLite only; the store's conformance suite covers PostgreSQL.
//!
//! Every run gets the same `YIWEI_MASTER_KEY`, so a backup made in one folder restores in
//! another, and no other `YIWEI_` variable of the test's own environment leaks in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const KEY: &str = "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592";

/// A scratch directory with a data folder path inside it (not created: yiwei creates it).
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn data(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `yiwei --data-dir DATA ARGS…`, run in `DATA`'s parent (which holds no yiwei.toml).
fn yiwei(data: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yiwei"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("YIWEI_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("YIWEI_MASTER_KEY", KEY)
        .env("YIWEI_LOG__LEVEL", "warn")
        .current_dir(data.parent().expect("data folder has a parent"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run yiwei")
}

/// Run with `input` on standard input.
fn run_with_input(mut cmd: Command, input: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start yiwei");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("run yiwei")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn succeeds(out: Output) -> String {
    assert!(
        out.status.success(),
        "yiwei failed with {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// Exits with `code`; returns stderr.
#[track_caller]
fn fails_with(out: Output, code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// A small demo county (2 villages a township, 1 resident each) in `data`.
fn small_demo(data: &Path) -> String {
    succeeds(run(yiwei(
        data,
        &[
            "demo",
            "--no-serve",
            "--villages-per-township",
            "2",
            "--residents-per-village",
            "1",
        ],
    )))
}

fn verify(data: &Path) -> String {
    succeeds(run(yiwei(data, &["audit", "verify"])))
}

#[test]
fn demo_builds_the_county_prints_every_login_and_the_chain_verifies() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    let out = succeeds(run(yiwei(&data, &["demo", "--no-serve"])));
    assert!(out.contains("环江毛南族自治县"), "{out}");
    assert!(out.contains("yiwei-demo-2026"), "{out}");
    // imaging: generated studies went through the STOW path into the data folder
    assert!(out.contains("imaging studies"), "{out}");
    assert!(data.join("images").is_dir());
    for (username, role) in [
        ("admin", "county_admin"),
        ("analyst", "analyst"),
        ("cdc", "cdc_staff"),
        ("doctor.county", "clinician"),
        ("radiology", "radiologist"),
        ("doctor.sien", "clinician"),
        ("team.sien", "team_member"),
        ("village.451226100201", "village_doctor"),
        ("village.451226101201", "village_doctor"),
        ("village.451226205201", "village_doctor"),
        ("resident.demo", "resident"),
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(username))
            .unwrap_or_else(|| panic!("no login {username} in:\n{out}"));
        assert!(line.contains(role), "{line}");
    }
    // Only the first village of each township has a doctor account by default.
    assert!(!out.contains("village.451226100202"), "{out}");
    assert!(data.join("yiwei.db").exists());

    let verified = verify(&data);
    assert!(verified.starts_with("audit chain intact: "), "{verified}");
    let entries: u64 = verified
        .trim()
        .rsplit(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("entry count in {verified:?}"));
    assert!(entries > 500, "{verified}");

    // A second start keeps the county and prints the same logins.
    let again = succeeds(run(yiwei(&data, &["demo", "--no-serve"])));
    assert!(again.contains("already holds data"), "{again}");
    assert!(again.contains("village.451226100201"), "{again}");
    assert!(!again.contains("building"), "{again}");

    let users = succeeds(run(yiwei(&data, &["user", "list"])));
    assert!(users.contains("doctor.sien"), "{users}");
    assert!(users.contains("451226100"), "{users}");
}

#[test]
fn a_backup_restores_into_an_empty_folder_and_its_chain_verifies_there() {
    let scratch = Scratch::new();
    let source = scratch.data("source");
    small_demo(&source);
    let file = scratch.file("county.jsonl");
    let out = succeeds(run(yiwei(
        &source,
        &["backup", file.to_str().expect("utf-8 path")],
    )));
    assert!(out.contains("backup written"), "{out}");
    assert!(file.exists());
    // The backup is itself audited, after the snapshot.
    verify(&source);

    let target = scratch.data("target");
    let out = succeeds(run(yiwei(
        &target,
        &["restore", file.to_str().expect("utf-8 path")],
    )));
    assert!(out.contains("audit chain intact"), "{out}");
    let verified = verify(&target);
    assert!(verified.starts_with("audit chain intact"), "{verified}");
    let users = succeeds(run(yiwei(&target, &["user", "list"])));
    assert!(users.contains("resident.demo"), "{users}");

    // The database backup holds the image index, not the files: until the image folder
    // is copied over too, `imaging verify` names every file it cannot find.
    let out = run(yiwei(&target, &["imaging", "verify"]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("missing: instance"),
        "{}",
        stdout(&out)
    );
    copy_dir(&source.join("images"), &target.join("images"));
    let out = succeeds(run(yiwei(&target, &["imaging", "verify"])));
    assert!(out.contains("DICOM files intact"), "{out}");
    assert!(!out.contains("missing"), "{out}");
    // A file changed on disk is found too.
    let first = first_file(&target.join("images"));
    std::fs::write(&first, b"not the stored bytes").expect("overwrite");
    let out = run(yiwei(&target, &["imaging", "verify"]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("changed: instance"),
        "{}",
        stdout(&out)
    );

    // Restoring never merges into existing data.
    let err = fails_with(
        run(yiwei(
            &target,
            &["restore", file.to_str().expect("utf-8 path")],
        )),
        1,
    );
    assert!(err.contains("not empty"), "{err}");
}

#[test]
fn a_corrupt_backup_is_refused_and_the_target_is_left_untouched() {
    let scratch = Scratch::new();
    let source = scratch.data("source");
    small_demo(&source);
    let file = scratch.file("county.jsonl");
    succeeds(run(yiwei(
        &source,
        &["backup", file.to_str().expect("utf-8 path")],
    )));
    let mut bytes = std::fs::read(&file).expect("read backup");

    // One digit changed in the middle of the file.
    let corrupt = scratch.file("corrupt.jsonl");
    let mut altered = bytes.clone();
    let at = (altered.len() / 2..altered.len())
        .find(|&i| altered[i].is_ascii_digit())
        .expect("a digit in the second half");
    altered[at] = if altered[at] == b'7' { b'8' } else { b'7' };
    std::fs::write(&corrupt, &altered).expect("write corrupt copy");

    let target = scratch.data("target");
    let err = fails_with(
        run(yiwei(
            &target,
            &["restore", corrupt.to_str().expect("utf-8 path")],
        )),
        1,
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(
        !target.join("yiwei.db").exists(),
        "a refused restore must not even create the target database"
    );

    // A truncated copy is refused the same way.
    let truncated = scratch.file("truncated.jsonl");
    bytes.truncate(bytes.len() * 2 / 3);
    std::fs::write(&truncated, &bytes).expect("write truncated copy");
    let err = fails_with(
        run(yiwei(
            &target,
            &["restore", truncated.to_str().expect("utf-8 path")],
        )),
        1,
    );
    assert!(err.contains("backup file"), "{err}");
    assert!(!target.join("yiwei.db").exists());

    // The target is still empty: the intact backup goes in.
    succeeds(run(yiwei(
        &target,
        &["restore", file.to_str().expect("utf-8 path")],
    )));
    verify(&target);
}

#[test]
fn user_add_with_a_bad_role_fails_and_lists_the_roles() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    let err = fails_with(
        run(yiwei(
            &data,
            &[
                "user",
                "add",
                "--username",
                "wang.li",
                "--name",
                "王力",
                "--role",
                "doctor",
                "--institution",
                "451226-H001",
            ],
        )),
        1,
    );
    assert!(err.contains("unknown role \"doctor\""), "{err}");
    for role in [
        "county_admin",
        "analyst",
        "cdc_staff",
        "clinician",
        "village_doctor",
        "team_member",
        "radiologist",
        "resident",
    ] {
        assert!(err.contains(role), "{role} missing from {err}");
    }
    assert!(!err.trim_end().ends_with('.'), "{err}");
}

#[test]
fn users_are_added_listed_disabled_and_given_tokens_from_the_command_line() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    small_demo(&data);
    let add = yiwei(
        &data,
        &[
            "user",
            "add",
            "--username",
            "wang.li",
            "--name",
            "王力",
            "--role",
            "village_doctor",
            "--institution",
            "451226-V451226100202",
        ],
    );
    let out = succeeds(run_with_input(add, "a-long-password\n"));
    assert!(out.contains("wang.li"), "{out}");
    let users = succeeds(run(yiwei(&data, &["user", "list"])));
    let line = users
        .lines()
        .find(|l| l.starts_with("wang.li "))
        .unwrap_or_else(|| panic!("wang.li not listed:\n{users}"));
    // The reach defaults to the institution's division.
    assert!(line.contains("451226100202"), "{line}");
    assert!(line.contains("active"), "{line}");

    let token = succeeds(run(yiwei(
        &data,
        &["user", "token", "wang.li", "--days", "30"],
    )));
    assert!(token.trim().len() >= 32, "{token:?}");
    assert_eq!(token.trim().lines().count(), 1, "{token:?}");

    succeeds(run(yiwei(&data, &["user", "disable", "wang.li"])));
    let users = succeeds(run(yiwei(&data, &["user", "list"])));
    assert!(
        users
            .lines()
            .any(|l| l.starts_with("wang.li ") && l.contains("disabled")),
        "{users}"
    );
    succeeds(run(yiwei(&data, &["user", "enable", "wang.li"])));

    let reset = yiwei(&data, &["user", "reset-password", "wang.li"]);
    let err = fails_with(run_with_input(reset, "short\n"), 1);
    assert!(err.contains("password"), "{err}");
    let reset = yiwei(&data, &["user", "reset-password", "wang.li"]);
    succeeds(run_with_input(reset, "another-long-password\n"));

    let err = fails_with(run(yiwei(&data, &["user", "disable", "nobody"])), 1);
    assert!(err.contains("nobody"), "{err}");
    // Every change above is in the chain, which still verifies.
    verify(&data);
}

#[test]
fn usage_and_configuration_errors_have_their_own_exit_codes() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    fails_with(run(yiwei(&data, &["frobnicate"])), 2);
    fails_with(run(yiwei(&data, &["user", "token"])), 2);
    fails_with(
        run(yiwei(&data, &["demo", "--residents-per-village", "0"])),
        2,
    );
    succeeds(run(yiwei(&data, &["--help"])));

    let mut cmd = yiwei(&data, &["user", "list"]);
    cmd.env("YIWEI_SECURITY__LOCKOUT_FAILURES", "many");
    let err = fails_with(run(cmd), 1);
    assert!(err.contains("YIWEI_SECURITY__LOCKOUT_FAILURES"), "{err}");

    let config = scratch.file("bad.toml");
    std::fs::write(&config, "[security]\nlockout_minuts = 5\n").expect("write config");
    let err = fails_with(
        run(yiwei(
            &data,
            &[
                "--config",
                config.to_str().expect("utf-8 path"),
                "user",
                "list",
            ],
        )),
        1,
    );
    assert!(err.contains("lockout_minuts"), "{err}");
    // Nothing was created for a command that never started.
    assert!(!data.exists());
}

fn valid_id(birth: &str, seq: u32) -> String {
    let first = format!("451226{birth}{seq:03}");
    format!("{first}{}", yiwei_domain::id_card::check_char(&first))
}

#[test]
fn a_csv_import_creates_links_and_reports_bad_rows_without_writing_them() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    small_demo(&data);
    let csv = scratch.file("residents.csv");
    let good = valid_id("19700505", 17);
    let elsewhere = valid_id("19800101", 22);
    let text = format!(
        "姓名,性别,出生日期,身份证号,电话,村代码,民族\n\
         黄小明,男,1970-05-05,{good},13977001234,451226100201,01\n\
         黄小明,1,,{good},,451226100201,\n\
         莫未来,2,2999-01-01,,,451226100201,\n\
         韦错码,1,,451226197005050171,,451226100201,99\n\
         只有两列,1\n\
         覃外乡,2,1980-01-01,{elsewhere},,451226205201,\n"
    );
    std::fs::write(&csv, text).expect("write csv");
    let out = run(yiwei(
        &data,
        &[
            "import",
            "residents",
            csv.to_str().expect("path"),
            "--as",
            "doctor.sien",
        ],
    ));
    fails_with(out.clone(), 3);
    let printed = stdout(&out);
    assert!(
        printed.contains("rows 6: created 1, linked to existing 1"),
        "{printed}"
    );
    assert!(printed.contains("refused 4"), "{printed}");
    let report = std::fs::read_to_string(scratch.file("residents.csv.errors.csv")).expect("report");
    assert!(report.starts_with("row,field,reason"));
    for expected in [
        "3,birth_date",
        "3,id_card",
        "4,id_card",
        "4,ethnicity",
        "5,(line)",
        "6,village",
    ] {
        assert!(report.contains(expected), "{expected} missing in\n{report}");
    }
    assert!(
        !report.contains("197005050171"),
        "the report never repeats an ID-card number"
    );
    // Nothing half-written: the audit chain holds and only the one person was added.
    verify(&data);
}

#[test]
fn a_gbk_csv_saved_by_excel_imports_like_utf8() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    small_demo(&data);
    let csv = scratch.file("excel.csv");
    let card = valid_id("19720303", 56);
    let text = format!(
        "姓名,性别,出生日期,身份证号,村代码,现住址\n\
         蒙桂兰,女,1972-03-03,{card},451226100201,城西村五组\n\
         谭未来,男,2999-01-01,,451226100201,城西村六组\n"
    );
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    std::fs::write(&csv, gbk.as_ref()).expect("write csv");
    let out = run(yiwei(
        &data,
        &[
            "import",
            "residents",
            csv.to_str().expect("path"),
            "--as",
            "doctor.sien",
        ],
    ));
    fails_with(out.clone(), 3);
    assert!(stderr(&out).contains("GBK"), "{}", stderr(&out));
    let printed = stdout(&out);
    let report = std::fs::read_to_string(scratch.file("excel.csv.errors.csv")).expect("report");
    assert!(printed.contains("rows 2: created 1"), "{printed}\n{report}");
    assert!(report.contains("2,birth_date"), "{report}");
    // Read as UTF-8 on request, the Chinese headers are not recognised: refused whole.
    let out = run(yiwei(
        &data,
        &[
            "import",
            "residents",
            csv.to_str().expect("path"),
            "--as",
            "doctor.sien",
            "--encoding",
            "utf-8",
        ],
    ));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown columns"), "{}", stderr(&out));
}

#[test]
fn a_csv_import_links_rows_of_the_same_person_within_the_file_and_audits_each_row() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    small_demo(&data);
    let before = audit_entries(&verify(&data));
    let csv = scratch.file("twice.csv");
    let card = valid_id("19660606", 41);
    let text = format!(
        "name,sex,birth_date,id_card,no_id_reason,phone,village,address\n\
         卢家明,1,1966-06-06,{card},,13977005678,451226100201,城西村2组\n\
         韦无证,2,1993-09-09,,未带证件,13977004321,451226100201,城西村4组\n\
         卢家明,男,,{card},,,451226100201,\n\
         韦无证,女,1993-09-09,,未带证件,13977004321,451226100201,城西村4组\n\
         韦错日,2,2999-09-09,,未带证件,,451226100201,\n"
    );
    std::fs::write(&csv, text).expect("write csv");
    let report = scratch.file("refused.csv");
    let out = run(yiwei(
        &data,
        &[
            "import",
            "residents",
            csv.to_str().expect("path"),
            "--as",
            "doctor.sien",
            "--report",
            report.to_str().expect("path"),
        ],
    ));
    fails_with(out.clone(), 3);
    let printed = stdout(&out);
    assert!(
        printed.contains("rows 5: created 2, linked to existing 2"),
        "the second row of each person links to the first: {printed}"
    );
    let refused = std::fs::read_to_string(&report).expect("report");
    assert!(refused.contains("5,birth_date"), "{refused}");
    assert_eq!(refused.lines().count(), 2, "{refused}");
    // One audit entry per imported row (two creates, two links), and the chain holds.
    assert_eq!(audit_entries(&verify(&data)), before + 4);
}

/// The entry count `yiwei audit verify` prints for an intact chain.
fn audit_entries(verified: &str) -> u64 {
    verified
        .split("audit chain intact: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no entry count in {verified:?}"))
}

// cost alerts (防返贫监测预警)
#[test]
fn a_charges_import_keeps_unknown_patients_refuses_bad_rows_and_is_idempotent() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    small_demo(&data);
    let csv = scratch.file("charges.csv");
    let stranger = valid_id("19600606", 41);
    let text = format!(
        "机构代码,就诊流水号,就诊日期,就诊类型,总费用,医保支付,个人自付,身份证号,居民ID,姓名\n\
         451226-H001,ZY-1,2026-10-03,inpatient,1500000,1000000,500000,,1,\n\
         451226-H001,ZY-2,2026-10-04,inpatient,800000,500000,300000,{stranger},,陌生人\n\
         451226-H001,ZY-3,2026-10-05,outpatient,-5,0,0,,1,\n\
         451226-H001,ZY-4,2026-10-05,outpatient,100,80,30,,1,\n\
         451226-X999,ZY-5,2026-10-05,outpatient,100,80,20,,1,\n\
         451226-H001,ZY-6,2026-13-01,outpatient,100,80,20,,1,\n\
         451226-H001,ZY-7,2026-10-05,outpatient,100,80,20,451226196006060419,,\n"
    );
    std::fs::write(&csv, text).expect("write csv");
    let args = [
        "import",
        "charges",
        csv.to_str().expect("path"),
        "--as",
        "doctor.county",
    ];
    let out = run(yiwei(&data, &args));
    fails_with(out.clone(), 3);
    let printed = stdout(&out);
    assert!(
        printed.contains("rows 7: new visits 2, already on file (updated) 0, unmatched (in the queue) 1, refused 5"),
        "{printed}"
    );
    let report = std::fs::read_to_string(scratch.file("charges.csv.errors.csv")).expect("report");
    for expected in [
        "3,total_fen",
        "4,total_fen",
        "5,institution",
        "6,visit_date",
        "7,id_card",
    ] {
        assert!(report.contains(expected), "{expected} missing in\n{report}");
    }
    assert!(!report.contains("196006060419"), "no ID card in the report");
    // The same file again stores nothing new.
    let printed = stdout(&run(yiwei(&data, &args)));
    assert!(
        printed.contains("new visits 0, already on file (updated) 2"),
        "{printed}"
    );
    // The month run raises, and a rerun adds nothing.
    let first = succeeds(run(yiwei(&data, &["alerts", "run", "--month", "2026-10"])));
    assert!(first.contains("2026-10: rules 2"), "{first}");
    let again = succeeds(run(yiwei(&data, &["alerts", "run", "--month", "2026-10"])));
    assert!(again.contains("new alerts 0"), "{again}");
    let bad = run(yiwei(&data, &["alerts", "run", "--month", "2026/10"]));
    assert!(!bad.status.success());
    // The monthly job runs last month once (due from the 1st, 03:00 county time).
    let local = chrono::Utc::now() + chrono::Duration::hours(8);
    let due =
        local.format("%d").to_string() != "01" || local.format("%H").to_string().as_str() >= "03";
    succeeds(run(yiwei(&data, &["jobs", "run"])));
    succeeds(run(yiwei(&data, &["jobs", "run"])));
    let listed = succeeds(run(yiwei(&data, &["jobs", "list"])));
    let runs = listed.lines().filter(|l| l.contains("cost_alerts")).count();
    if due {
        assert_eq!(runs, 1, "{listed}");
        assert!(
            listed
                .lines()
                .any(|l| l.contains("cost_alerts") && l.contains("done")),
            "{listed}"
        );
    }
    verify(&data);
}

// indicators
#[test]
fn indicators_refresh_close_and_the_annual_review_from_the_command_line() {
    let scratch = Scratch::new();
    let data = scratch.data("county");
    let built = small_demo(&data);
    assert!(built.contains("indicator figures:"), "{built}");
    let last_year = chrono::Datelike::year(&chrono::Utc::now()) - 1;
    let year = last_year.to_string();
    // Nothing changed since the demo's refresh: everything is skipped.
    let again = succeeds(run(yiwei(
        &data,
        &["indicators", "refresh", "--period", &year],
    )));
    assert!(again.contains("computed 0,"), "{again}");
    let err = fails_with(
        run(yiwei(
            &data,
            &["indicators", "refresh", "--period", "2025-13"],
        )),
        1,
    );
    assert!(err.contains("2025-Q1"), "{err}");
    succeeds(run(yiwei(&data, &["indicators", "close", &year])));
    let forced = succeeds(run(yiwei(
        &data,
        &["indicators", "refresh", "--period", &year, "--force"],
    )));
    assert!(
        forced.contains("figures written 0, differences in closed periods 0"),
        "a closed year reproduces: {forced}"
    );
    let out = scratch.file("review");
    let wrote = succeeds(run(yiwei(
        &data,
        &[
            "report",
            "annual",
            "--year",
            &year,
            "--out",
            out.to_str().expect("utf-8 path"),
        ],
    )));
    for ext in ["html", "csv", "xlsx", "pdf"] {
        let file = out.join(format!("annual-451226-{year}.{ext}"));
        assert!(file.exists(), "{ext}: {wrote}");
    }
    let html =
        std::fs::read_to_string(out.join(format!("annual-451226-{year}.html"))).expect("html");
    assert!(html.contains("/indicators/catalogue#records_held"));
    // No source is pending any more; the county visit rate says why it has no figure.
    assert!(!html.contains("数据来源建设中"));
    assert!(html.contains("无法由本平台数据计算"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn first_file(dir: &Path) -> std::path::PathBuf {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    let path = entries
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no file under {}", dir.display()));
    if path.is_dir() {
        first_file(&path)
    } else {
        path
    }
}
