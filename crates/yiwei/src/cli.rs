//! The command line: `serve`, `demo`, `user …`, `jobs …`, `import …`, `bench …`,
//! `empi train`, `audit verify`, `backup`, `restore`.
//!
//! Exit codes a script can rely on: 0 success, 1 failure (one `error: …` line on stderr,
//! the causes joined by `: `), 2 usage error (from clap). Results go to stdout, progress
//! bars and logs to stderr. Changes made here are audited as the system actor `cli`.
//! Passwords are read from standard input, never taken as arguments, so they stay out of
//! shell history and process lists.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use yiwei_domain::access::Role;
use yiwei_domain::division::DivisionCode;
use yiwei_store::audit::{self, Action, Event, Who};
use yiwei_store::{Keys, Store, StoreError, backup, empi, org, session, user};

use crate::config::{Config, Overrides};
use crate::demo;

#[derive(Parser, Debug)]
#[command(
    name = "yiwei",
    version,
    about = "yiwei (医卫): the county health information platform"
)]
struct Cli {
    /// Configuration file (default: ./yiwei.toml if present)
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data folder (SQLite database, key file)
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// sqlite:… or postgres://… (default: SQLite in the data folder)
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the web UI and APIs
    Serve {
        #[arg(long)]
        listen: Option<String>,
    },
    /// Build the demo county if the database is empty, print its logins, and serve it
    Demo {
        #[arg(long)]
        listen: Option<String>,
        /// Build and print, but do not serve
        #[arg(long)]
        no_serve: bool,
        /// Residents per village and community, each written and audited one by one
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
        residents_per_village: u32,
        /// Residents of the whole county, spread over the villages by size and bulk-loaded
        /// (one million works); replaces --residents-per-village
        #[arg(long, conflicts_with = "residents_per_village",
              value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        residents: Option<u64>,
        /// Villages per township (default: 8 to 14, varying)
        #[arg(long, value_parser = clap::value_parser!(u32).range(2..200))]
        villages_per_township: Option<u32>,
        /// A village doctor account for every village (default: the first of each township)
        #[arg(long)]
        all_village_doctors: bool,
    },
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Audit log tools
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Scheduled jobs
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Early warning (预警)
    #[command(subcommand)]
    Warnings(WarningsCommand),
    /// Import records from a file (see docs/import.md)
    #[command(subcommand)]
    Import(ImportCommand),
    /// Benchmarks; the results are printed as a markdown section (see docs/benchmarks.md)
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Monthly cost alerts (防返贫监测预警, docs/cost_alerts.md)
    #[command(subcommand)]
    Alerts(AlertsCommand),
    /// The master patient index (主索引): train its match weights on this county's residents
    #[command(subcommand)]
    Empi(EmpiCommand),
    /// Write a consistent backup of the whole database to FILE
    Backup { file: PathBuf },
    /// Restore FILE into an empty database
    Restore { file: PathBuf },
    /// Maintained indicator figures (统计指标): refresh, close a period, differences
    #[command(subcommand)]
    Indicators(crate::indicators::IndicatorsCommand),
    /// Reports built from the indicator figures
    #[command(subcommand)]
    Report(crate::indicators::ReportCommand),
    /// The imaging cloud (影像云): check the stored DICOM files against the index
    #[command(subcommand)]
    Imaging(crate::imaging::ImagingCommand),
}

#[derive(Subcommand, Debug)]
enum EmpiCommand {
    /// Estimate m and u of every field from the residents (EM over the pairs of the
    /// matcher's blocking keys, u from random pairs), print them beside the defaults, and
    /// save them for the matcher; refused (exit 1, nothing saved) when there are too few
    /// residents or pairs, or the weights would be degenerate
    Train {
        /// Random pairs for u, and at most this many pairs of each blocking rule for m
        #[arg(long, default_value_t = 100_000,
              value_parser = clap::value_parser!(u64).range(1_000..=10_000_000))]
        sample: u64,
        /// Print the weights but do not save them
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add a user; the password is read from standard input (one line)
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
        /// Institution code
        #[arg(long)]
        institution: String,
        /// Division code of the user's reach (default: the institution's division)
        #[arg(long)]
        reach: Option<String>,
        #[arg(long)]
        resident_id: Option<i64>,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Disable a user (ends their sessions and tokens)
    Disable { username: String },
    /// Enable a disabled user
    Enable { username: String },
    /// Set a new password (read from standard input) and clear the lockout
    ResetPassword { username: String },
    /// Issue an API bearer token, printed once
    Token {
        username: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// Days until the token expires (default: never)
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=3660))]
        days: Option<i64>,
    },
    /// List users
    List,
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Residents from a UTF-8 CSV file, each row through the checks and the master index.
    /// Exit code 3 when some rows were refused (listed in the report)
    Residents {
        file: PathBuf,
        /// The user the import runs as (their reach applies; the audit log names them)
        #[arg(long = "as")]
        as_user: String,
        /// Where refused rows are listed (default: FILE.errors.csv)
        #[arg(long)]
        report: Option<PathBuf>,
        /// The file's text encoding: auto (UTF-8, else GBK), utf-8 or gbk (Excel's
        /// "CSV (逗号分隔)" on a Chinese Windows)
        #[arg(long, value_enum, default_value = "auto")]
        encoding: crate::text_encoding::TextEncoding,
    },
    /// Medical charges per visit for the cost alerts (docs/cost_alerts.md). Exit code 3
    /// when some rows were refused (listed in the report)
    Charges {
        file: PathBuf,
        /// The user the import runs as (the audit log names them)
        #[arg(long = "as")]
        as_user: String,
        /// The submitting institution's code, for files without an institution column
        #[arg(long)]
        institution: Option<String>,
        /// Where refused rows are listed (default: FILE.errors.csv)
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

// cost alerts (防返贫监测预警)
#[derive(Subcommand, Debug)]
enum AlertsCommand {
    /// Raise the alerts of one month (default: last month, county time). Re-running a
    /// month adds only alerts that were not there
    Run {
        /// YYYY-MM
        #[arg(long)]
        month: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Generate and load a county of N residents into a fresh data folder, then time
    /// searches, single-record matches and a CSV import, and measure `yiwei serve`'s memory
    Residents {
        #[arg(long, default_value_t = 1_000_000,
              value_parser = clap::value_parser!(u64).range(1_000..=10_000_000))]
        residents: u64,
        /// Searches of each kind (by ID card, by name)
        #[arg(long, default_value_t = 10_000)]
        searches: usize,
        /// Single-record matches
        #[arg(long, default_value_t = 2_000)]
        matches: usize,
        /// Rows of the CSV import (0 skips it)
        #[arg(long, default_value_t = 100_000)]
        import_rows: u64,
        /// Authenticated requests to a `yiwei serve` child process (0 skips it)
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Residents per bulk-load transaction
        #[arg(long, default_value_t = 5_000,
              value_parser = clap::value_parser!(u64).range(1..=50_000))]
        batch_size: u64,
    },
    /// Time the programme targets on a county built with `yiwei demo --residents N
    /// --no-serve`: village work lists, the county's indicators, and recomputing every
    /// resident's due visits after a schedule change
    Programmes {
        /// Work-list requests to time
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Runs of the county's indicators
        #[arg(long, default_value_t = 5)]
        indicator_runs: usize,
        /// Indicator year (default: last year)
        #[arg(long)]
        year: Option<i32>,
    },
    /// Time the indicator targets on a county built with `yiwei demo --residents N
    /// --no-serve`: full refresh of a year, the county dashboard, the annual review
    Indicators {
        /// Year (default: last year)
        #[arg(long)]
        year: Option<i32>,
        /// Dashboard loads to time
        #[arg(long, default_value_t = 50)]
        requests: usize,
    },
    /// Concurrent clients booking a small set of slots on a fresh database: no double
    /// booking, capacity kept, throughput and latency (issue 7)
    Booking {
        /// Concurrent clients, each a resident booked by the hospital desk
        #[arg(long, default_value_t = 200,
              value_parser = clap::value_parser!(u64).range(1..=2_000))]
        clients: u64,
        /// Slots of each schedule
        #[arg(long, default_value_t = 50,
              value_parser = clap::value_parser!(u64).range(1..=63))]
        slots: u64,
        /// Seats per slot in the contention phase
        #[arg(long, default_value_t = 2,
              value_parser = clap::value_parser!(u32).range(1..=200))]
        seats: u32,
        /// Operating-system processes the clients are split over (separate pools)
        #[arg(long, default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..=16))]
        processes: u64,
    },
    // cost alerts (防返贫监测预警)
    /// Build a synthetic county of N residents and M charges with set-based SQL in an
    /// empty database, and time the monthly cost-alert job (issue 6)
    CostAlerts {
        #[arg(long, default_value_t = 1_000_000,
              value_parser = clap::value_parser!(i64).range(1_000..=20_000_000))]
        residents: i64,
        #[arg(long, default_value_t = 5_000_000,
              value_parser = clap::value_parser!(i64).range(1_000..=100_000_000))]
        charges: i64,
        /// Also write residents.csv and charges.csv here (for bench/cost_alerts_vs_duckdb.py)
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Index N studies, store a large study through the STOW path, and time QIDO-RS,
    /// study metadata and WADO-RS in process, on a fresh data folder (issue 8)
    Imaging {
        #[arg(long, default_value_t = 100_000,
              value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        studies: u64,
        /// Instances of the large study
        #[arg(long, default_value_t = 1_000,
              value_parser = clap::value_parser!(u32).range(1..=100_000))]
        big_study: u32,
        /// QIDO-RS requests of each kind
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
    /// Bookings over HTTP against a running `yiwei serve` on 127.0.0.1, as phones send
    /// them: two closed-loop phases and an open loop at a fixed rate (issue 7; run by
    /// bench/booking_load.sh)
    BookingHttp {
        /// The server, http://127.0.0.1:PORT; it must use the same data folder or database
        #[arg(long)]
        url: String,
        /// Concurrent clients of the closed loops, each a resident with their own token
        #[arg(long, default_value_t = 200,
              value_parser = clap::value_parser!(u64).range(1..=2_000))]
        clients: u64,
        /// Slots of each phase's schedule
        #[arg(long, default_value_t = 50,
              value_parser = clap::value_parser!(u64).range(1..=63))]
        slots: u64,
        /// Seats per slot in the contention phase
        #[arg(long, default_value_t = 2,
              value_parser = clap::value_parser!(u32).range(1..=200))]
        seats: u32,
        /// Open-loop bookings started per second
        #[arg(long, default_value_t = 1_000,
              value_parser = clap::value_parser!(u32).range(1..=20_000))]
        rate: u32,
        /// Open-loop duration (also bounded by clients × slots requests)
        #[arg(long, default_value_t = 10,
              value_parser = clap::value_parser!(u32).range(1..=120))]
        seconds: u32,
    },
    /// One worker process of `bench booking` (started by it, not by hand)
    #[command(hide = true)]
    BookingWorker {
        #[arg(long)]
        phase: String,
        #[arg(long)]
        first: usize,
        #[arg(long)]
        count: usize,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum JobsCommand {
    /// Schedule the periodic jobs and run everything due now
    Run,
    /// Show the most recent jobs
    List,
}

#[derive(Subcommand, Debug)]
enum WarningsCommand {
    /// Evaluate every configured method for one day now and store the signals (re-running
    /// a day adds nothing). Exit code 0 whether or not signals were raised
    Run {
        /// The day to evaluate (YYYY-MM-DD); default yesterday, county time
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Evaluate this many days ending on --date (for a backfill)
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1096))]
        days: u32,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check the hash chain of the audit log; exit 1 if it is broken
    Verify,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn system() -> Who {
    Who {
        username: Some("cli".into()),
        role: Some("system".into()),
        ..Who::default()
    }
}

/// The `YIWEI_…` variables of the process (others, and any that are not UTF-8, cannot be
/// configuration).
fn yiwei_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("YIWEI_"))
        .collect()
}

fn progress_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The progress of building the demo county: a bar over the residents when their number
/// is known, a spinner counting them otherwise.
pub(crate) fn demo_progress(residents: Option<u64>) -> ProgressBar {
    let bar = match residents {
        Some(n) => {
            let bar = ProgressBar::new(n);
            bar.set_style(progress_style(
                "{bar:40} {human_pos}/{human_len} residents, {per_sec}, {eta} left",
            ));
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(progress_style(
                "{spinner} building the demo county: {human_pos} residents",
            ));
            bar
        }
    };
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

async fn open(config: &Config) -> Result<Store> {
    let keys = Keys::load_or_create(&config.data_dir).context("cannot load the master key")?;
    Store::open(&config.database_url, &config.data_dir, keys)
        .await
        .with_context(|| {
            if config.database_url.is_empty() {
                format!("cannot open the database in {}", config.data_dir.display())
            } else {
                format!(
                    "cannot open the database {}",
                    crate::config::redact_url(&config.database_url)
                )
            }
        })
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let listen = match &cli.command {
        Command::Serve { listen } | Command::Demo { listen, .. } => listen.clone(),
        _ => None,
    };
    let flags = Overrides {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        listen,
    };
    let config = Config::load(cli.config.as_deref(), yiwei_env(), &flags)?;
    match cli.command {
        Command::Serve { .. } => {
            init_tracing(&config);
            let store = open(&config).await?;
            // cost alerts: seed the rules of an empty table from yiwei.toml.
            yiwei_store::cost_alert::ensure_rules(&store, &config.cost_alerts.seed_rules()?)
                .await?;
            serve(&config, store).await?;
        }
        Command::Demo {
            no_serve,
            residents_per_village,
            residents,
            villages_per_township,
            all_village_doctors,
            ..
        } => {
            if config.county.code != demo::COUNTY_CODE {
                bail!(
                    "yiwei demo builds county {} ({}), but county.code is set to {}",
                    demo::COUNTY_CODE,
                    demo::COUNTY_NAME,
                    config.county.code
                );
            }
            init_tracing(&config);
            let store = open(&config).await?;
            let logins = if backup::is_empty(&store).await? {
                println!(
                    "building the demo county {} ({}) in {}",
                    demo::COUNTY_NAME,
                    demo::COUNTY_CODE,
                    config.data_dir.display()
                );
                let opts = demo::DemoOptions {
                    residents_per_village,
                    residents,
                    villages_per_township,
                    all_village_doctors,
                    ..demo::DemoOptions::default()
                };
                let bar = demo_progress(residents);
                let county =
                    demo::build_with(&store, &opts, |stored| bar.inc(stored.len() as u64)).await;
                bar.finish_and_clear();
                let county = county.context(
                    "cannot build the demo county (start again with an empty data folder)",
                )?;
                println!(
                    "built {} townships, {} villages, {} institutions, {} households, {} residents",
                    county.townships.len(),
                    county.villages.len(),
                    county.institutions,
                    county.households,
                    county.residents
                );
                // imaging
                let images = config.imaging.to_config(&config.data_dir)?;
                let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
                let shots = crate::demo_imaging::add(
                    &store,
                    images.blobs.as_ref(),
                    &county,
                    opts.seed,
                    today,
                    (county.residents / 5).clamp(1, 200),
                )
                .await
                .context("cannot add the demo imaging studies")?;
                println!(
                    "with {} imaging studies ({} images) from two institutions",
                    shots.studies, shots.instances
                );
                // recognition: after the imaging demo step, on the studies it stored
                let rec =
                    crate::demo_recognition::add(&store, images.blobs.as_ref(), &county, today)
                        .await
                        .context("cannot add the demo reports and recognitions")?;
                println!(
                    "with {} signed reports, {} AI drafts, {} recognised and {} repeated exams",
                    rec.signed_reports, rec.ai_drafts, rec.recognised, rec.repeated
                );
                let p = county.programmes;
                println!(
                    "with {} family-doctor teams, {} contracts, {} programme enrolments, {} visits \
                     over two years, {} work-list entries",
                    p.teams, p.contracts, p.enrolments, p.visits, p.due_rows
                );
                crate::indicators::refresh_demo(&store, &config).await?;
                county.logins
            } else {
                println!("the database already holds data: serving it as it is");
                demo::logins(&store).await?
            };
            if logins.is_empty() {
                println!("no demo accounts in this database (it was not built by yiwei demo)");
            } else {
                println!(
                    "\ndemo logins, all with the password {}:",
                    demo::DEMO_PASSWORD
                );
                for l in &logins {
                    println!(
                        "  {:<28} {:<16} {}",
                        l.username,
                        l.role.as_str(),
                        l.display_name
                    );
                }
                eprintln!(
                    "warning: {} is a published demo password; never use the demo accounts \
                     for real data",
                    demo::DEMO_PASSWORD
                );
            }
            if !no_serve {
                serve(&config, store).await?;
            }
        }
        Command::User(command) => {
            let store = open(&config).await?;
            user_command(&store, command).await?;
        }
        Command::Empi(EmpiCommand::Train { sample, dry_run }) => {
            let store = open(&config).await?;
            let training = match empi::train(&store, sample as usize).await {
                Ok(t) => t,
                // A refusal (too little data, degenerate weights) is an answer, not a fault.
                Err(StoreError::Invalid(reason)) => {
                    eprintln!(
                        "error: {reason}; nothing saved, the matcher keeps its current weights \
                         (m is learnt from duplicate records: a register with almost none has \
                         nothing to learn it from)"
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Err(e) => return Err(e).context("training the match weights"),
            };
            let t = &training.trained;
            println!(
                "trained on {} residents: {} random pairs, {} pairs of the blocking rules",
                training.residents, t.random_pairs, training.blocked_pairs
            );
            for s in &t.sessions {
                println!(
                    "  {}: {} pairs, {:.1}% likely matches{}",
                    s.rule,
                    s.pairs,
                    100.0 * s.lambda,
                    if s.used { "" } else { " (too few: not used)" }
                );
            }
            println!("weights in bits (log2 m/u):");
            print!("{}", yiwei_domain::empi::em::weights_table(t));
            if dry_run {
                println!("not saved (--dry-run)");
            } else {
                let id = empi::save_weights(&store, &training, &system())
                    .await
                    .context("saving the match weights")?;
                println!("saved as match weights {id}: the matcher uses them from now on");
            }
        }
        Command::Imaging(crate::imaging::ImagingCommand::Verify) => {
            let store = open(&config).await?;
            let blobs = config.imaging.to_config(&config.data_dir)?.blobs;
            let total = yiwei_store::imaging::instance_count(&store).await?;
            let bar = ProgressBar::new(total.max(0) as u64);
            bar.set_style(progress_style("{bar:40} {pos}/{len} DICOM files"));
            let found =
                crate::imaging::verify(&store, blobs.as_ref(), |n| bar.set_position(n)).await?;
            bar.finish_and_clear();
            println!(
                "{} of {} DICOM files intact in {}",
                found.intact,
                total,
                blobs.describe()
            );
            for (id, key) in &found.missing {
                println!("missing: instance {id}, {key}");
            }
            for (id, key) in &found.changed {
                println!("changed: instance {id}, {key}");
            }
            if !(found.missing.is_empty() && found.changed.is_empty()) {
                println!(
                    "{} missing, {} changed: restore them from the image backup",
                    found.missing.len(),
                    found.changed.len()
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = open(&config).await?;
            let bar = ProgressBar::new(audit::count(&store).await?.max(0) as u64);
            bar.set_style(progress_style("{bar:40} {pos}/{len} audit entries"));
            let result =
                audit::verify(&store, |done, _| bar.set_position(done.max(0) as u64)).await?;
            bar.finish_and_clear();
            match result.problem {
                None => println!("audit chain intact: {} entries", result.checked),
                Some((seq, problem)) => {
                    println!(
                        "audit chain BROKEN at seq {seq}: {} ({} entries before it intact)",
                        problem.describe(),
                        result.checked
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Import(ImportCommand::Residents {
            file,
            as_user,
            report,
            encoding,
        }) => {
            let store = open(&config).await?;
            let user = user::by_username(&store, &as_user)
                .await
                .with_context(|| format!("no user named {as_user:?} (--as)"))?;
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let report_path = report.unwrap_or_else(|| crate::import::report_path(&file));
            let report_file = std::fs::File::create(&report_path)
                .with_context(|| format!("cannot create {}", report_path.display()))?;
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta} left")
                    .expect("template"),
            );
            let today = (chrono::Utc::now()
                + chrono::Duration::hours(i64::from(config.county.utc_offset_hours)))
            .date_naive();
            // The bar counts the file's own bytes, before any GBK → UTF-8 decoding.
            let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counted = crate::text_encoding::Counted::new(input, read.clone());
            let decoded = crate::text_encoding::utf8_reader(counted, encoding)
                .with_context(|| format!("cannot read {}", file.display()))?;
            if decoded.encoding() == crate::text_encoding::TextEncoding::Gbk {
                eprintln!("reading the file as GBK/GB18030 (use --encoding utf-8 to override)");
            }
            let summary = crate::import::residents(
                &store,
                &user,
                std::io::BufReader::new(decoded),
                today,
                std::io::BufWriter::new(report_file),
                |_, _| bar.set_position(read.load(std::sync::atomic::Ordering::Relaxed)),
            )
            .await?;
            bar.finish_and_clear();
            println!(
                "rows {}: created {}, linked to existing {}, pairs queued for review {}, refused {}",
                summary.rows,
                summary.created,
                summary.linked,
                summary.queued_for_review,
                summary.refused
            );
            if summary.refused > 0 {
                println!("refused rows are listed in {}", report_path.display());
                return Ok(ExitCode::from(3));
            }
            let _ = std::fs::remove_file(&report_path);
        }
        // cost alerts (防返贫监测预警)
        Command::Import(ImportCommand::Charges {
            file,
            as_user,
            institution,
            report,
        }) => {
            let store = open(&config).await?;
            let user = user::by_username(&store, &as_user)
                .await
                .with_context(|| format!("no user named {as_user:?} (--as)"))?;
            let default_institution = match institution {
                Some(code) => Some(
                    yiwei_store::org::by_code(&store, &code)
                        .await
                        .with_context(|| format!("no institution with code {code:?}"))?
                        .id,
                ),
                None => None,
            };
            let input = std::fs::File::open(&file)
                .with_context(|| format!("cannot open {}", file.display()))?;
            let size = input.metadata().map(|m| m.len()).unwrap_or(0);
            let report_path = report.unwrap_or_else(|| crate::import::report_path(&file));
            let report_file = std::fs::File::create(&report_path)
                .with_context(|| format!("cannot create {}", report_path.display()))?;
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta} left")
                    .expect("template"),
            );
            let today = (chrono::Utc::now()
                + chrono::Duration::hours(i64::from(config.county.utc_offset_hours)))
            .date_naive();
            let summary = crate::import_charges::charges(
                &store,
                &user,
                default_institution,
                std::io::BufReader::new(input),
                today,
                std::io::BufWriter::new(report_file),
                |bytes| bar.set_position(bytes),
                crate::import_charges::BATCH_ROWS,
            )
            .await?;
            bar.finish_and_clear();
            println!(
                "rows {}: new visits {}, already on file (updated) {}, unmatched (in the queue) {}, refused {}",
                summary.rows, summary.created, summary.updated, summary.unmatched, summary.refused
            );
            if summary.refused > 0 {
                println!("refused rows are listed in {}", report_path.display());
                return Ok(ExitCode::from(3));
            }
            let _ = std::fs::remove_file(&report_path);
        }
        Command::Alerts(AlertsCommand::Run { month }) => {
            let store = open(&config).await?;
            let local_today = (yiwei_store::now()
                + chrono::Duration::hours(i64::from(config.county.utc_offset_hours)))
            .date_naive();
            let month = match month {
                Some(text) => yiwei_domain::cost_alert::Month::parse(&text)
                    .with_context(|| format!("--month {text:?} is not YYYY-MM"))?,
                None => yiwei_domain::cost_alert::Month::previous_of(local_today),
            };
            if month.first_day() > local_today {
                bail!("--month {month} has not begun (today is {local_today})");
            }
            let started = std::time::Instant::now();
            let s = crate::cost_alert::run_month(&store, &config.cost_alerts, month, None, "cli")
                .await?;
            println!(
                "{month}: rules {}, new alerts {}, alerts of the month {}, charges attached {} ({:.2} s)",
                s.n_rules,
                s.n_new,
                s.n_hits,
                s.n_attached,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Jobs(JobsCommand::Run) => {
            let store = open(&config).await?;
            let settings = crate::jobs::JobSettings::from_config(&config)?;
            crate::jobs::schedule(&store, yiwei_store::now(), &settings).await?;
            crate::jobs::schedule_warning(&store, yiwei_store::now(), &settings).await?;
            crate::jobs::schedule_cost_alerts(&store, yiwei_store::now(), &settings).await?;
            let ran = crate::jobs::run_due(&store, "cli", &settings).await?;
            println!("ran {ran} jobs");
        }
        Command::Warnings(WarningsCommand::Run { date, days }) => {
            let store = open(&config).await?;
            let settings = crate::jobs::JobSettings::from_config(&config)?;
            let local_today = (yiwei_store::now()
                + chrono::Duration::hours(i64::from(settings.utc_offset_hours)))
            .date_naive();
            let last = date.unwrap_or(local_today - chrono::Duration::days(1));
            if last > local_today {
                anyhow::bail!("--date {last} is in the future (today is {local_today})");
            }
            for back in (0..i64::from(days)).rev() {
                let day = last - chrono::Duration::days(back);
                let s = crate::warning::run_day(&store, &settings.warning, &settings.county, day)
                    .await
                    .with_context(|| format!("warning run of {day}"))?;
                println!(
                    "{day}: evaluated {}, alarms {}, new signals {}, already raised {}, history too short {}",
                    s.evaluated, s.alarms, s.raised, s.existing, s.too_short
                );
            }
        }
        Command::Indicators(command) => {
            let store = open(&config).await?;
            crate::indicators::command(&store, &config, command).await?;
        }
        Command::Report(command) => {
            let store = open(&config).await?;
            crate::indicators::report(&store, &config, command).await?;
        }
        Command::Jobs(JobsCommand::List) => {
            let store = open(&config).await?;
            for j in yiwei_store::job::recent(&store, 50).await? {
                println!(
                    "{:>6} {:<16} {:<20} {:<8} attempts {} {}",
                    j.id,
                    j.kind,
                    j.dedup_key,
                    j.state,
                    j.attempts,
                    j.last_error.unwrap_or_default()
                );
            }
        }
        Command::Bench(BenchCommand::Residents {
            residents,
            searches,
            matches,
            import_rows,
            requests,
            batch_size,
        }) => {
            if config.database_url.is_empty()
                && config.data_dir.join(yiwei_store::SQLITE_FILE).exists()
            {
                bail!(
                    "yiwei bench runs on a fresh data folder; {} already holds a database",
                    config.data_dir.display()
                );
            }
            let store = open(&config).await?;
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let opts = crate::bench::Options {
                residents,
                searches,
                matches,
                import_rows,
                requests,
                batch_size: batch_size as usize,
                command: command.join(" "),
            };
            let serve = crate::bench::ServeArgs {
                config: cli.config.clone(),
                data_dir: config.data_dir.clone(),
                database_url: config.database_url.clone(),
            };
            let report = crate::bench::residents(&store, &opts, &serve).await?;
            store.close().await;
            println!("{report}");
        }
        Command::Bench(BenchCommand::Indicators { year, requests }) => {
            let store = open(&config).await?;
            let web = config.to_web_config()?;
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let opts = crate::bench_indicators::Options {
                year,
                requests,
                county: web.county.clone(),
                utc_offset_hours: web.utc_offset_hours,
                today: (yiwei_store::now()
                    + chrono::Duration::hours(i64::from(web.utc_offset_hours)))
                .date_naive(),
                public_url: web.public_url.clone(),
                command: command.join(" "),
            };
            let report = crate::bench_indicators::indicators(&store, &opts).await?;
            store.close().await;
            println!("{report}");
        }
        Command::Bench(BenchCommand::Programmes {
            requests,
            indicator_runs,
            year,
        }) => {
            let store = open(&config).await?;
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let today = (yiwei_store::now()
                + chrono::Duration::hours(i64::from(config.county.utc_offset_hours)))
            .date_naive();
            let opts = crate::bench_services::Options {
                requests,
                indicator_runs,
                year,
                today,
                command: command.join(" "),
            };
            let report = crate::bench_services::programmes(&store, &opts).await?;
            store.close().await;
            println!("{report}");
        }
        Command::Bench(BenchCommand::CostAlerts {
            residents,
            charges,
            export,
        }) => {
            let store = open(&config).await?;
            if !backup::is_empty(&store).await? {
                bail!("yiwei bench cost-alerts runs on an empty database; this one holds data");
            }
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let today = (yiwei_store::now()
                + chrono::Duration::hours(i64::from(config.county.utc_offset_hours)))
            .date_naive();
            let report = crate::bench_cost_alert::run(
                &store,
                residents,
                charges,
                today,
                export.as_deref(),
                command.join(" "),
            )
            .await?;
            store.close().await;
            println!("{report}");
        }
        Command::Bench(BenchCommand::Booking {
            clients,
            slots,
            seats,
            processes,
        }) => {
            if config.database_url.is_empty()
                && config.data_dir.join(yiwei_store::SQLITE_FILE).exists()
            {
                bail!(
                    "yiwei bench runs on a fresh data folder; {} already holds a database",
                    config.data_dir.display()
                );
            }
            let store = open(&config).await?;
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let opts = crate::bench_booking::Options {
                clients: clients as usize,
                slots: slots as usize,
                seats,
                processes: processes as usize,
                command: command.join(" "),
            };
            let args = crate::bench_booking::ProcessArgs {
                config: cli.config.clone(),
                data_dir: config.data_dir.clone(),
                database_url: config.database_url.clone(),
            };
            let report = crate::bench_booking::run(&store, &opts, &args).await;
            store.close().await;
            println!("{}", report?);
        }
        // imaging
        Command::Bench(BenchCommand::Imaging {
            studies,
            big_study,
            queries,
        }) => {
            if config.database_url.is_empty()
                && config.data_dir.join(yiwei_store::SQLITE_FILE).exists()
            {
                bail!(
                    "yiwei bench runs on a fresh data folder; {} already holds a database",
                    config.data_dir.display()
                );
            }
            let store = open(&config).await?;
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let opts = crate::bench_imaging::Options {
                studies: studies as usize,
                big_study,
                queries,
                command: command.join(" "),
            };
            let report = crate::bench_imaging::run(&store, config.to_web_config()?, &opts).await;
            store.close().await;
            println!("{}", report?);
        }
        Command::Bench(BenchCommand::BookingHttp {
            url,
            clients,
            slots,
            seats,
            rate,
            seconds,
        }) => {
            let store = open(&config).await?;
            let command: Vec<String> = std::iter::once("yiwei".to_owned())
                .chain(std::env::args().skip(1))
                .collect();
            let opts = crate::bench_booking_http::Options {
                url,
                clients: clients as usize,
                slots: slots as usize,
                seats,
                rate,
                seconds,
                offset_hours: config.county.utc_offset_hours,
                command: command.join(" "),
            };
            let report = crate::bench_booking_http::run(&store, &opts).await;
            store.close().await;
            println!("{}", report?);
        }
        Command::Bench(BenchCommand::BookingWorker {
            phase,
            first,
            count,
            out,
        }) => {
            let store = open(&config).await?;
            crate::bench_booking::worker(&store, &config.data_dir, &phase, first, count, &out)
                .await?;
            store.close().await;
        }
        Command::Backup { file } => {
            let store = open(&config).await?;
            let bar = ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let rows = backup::write(&store, &file, |table, n| {
                bar.set_message(format!("{table}: {n} rows"))
            })
            .await;
            bar.finish_and_clear();
            let rows =
                rows.with_context(|| format!("cannot write the backup {}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            audit::append(
                &store,
                &Event::new(system(), Action::Backup).object("backup", name),
            )
            .await?;
            println!("backup written: {rows} rows to {}", file.display());
        }
        Command::Restore { file } => {
            if !file.is_file() {
                bail!("no backup file at {}", file.display());
            }
            // A backup is only readable with the key it was made with: never make up a new
            // key for the target, which would leave a useless key file behind.
            let key_file = yiwei_store::crypto::key_path(&config.data_dir);
            if std::env::var_os(yiwei_store::crypto::MASTER_KEY_ENV).is_none() && !key_file.exists()
            {
                bail!(
                    "no master key: set {} or copy the key of the backed-up installation to {}",
                    yiwei_store::crypto::MASTER_KEY_ENV,
                    key_file.display()
                );
            }
            let keys =
                Keys::load_or_create(&config.data_dir).context("cannot load the master key")?;
            // Check the whole file before the target database is even opened.
            let summary = backup::check(&file, keys.fingerprint())
                .with_context(|| format!("cannot restore {}", file.display()))?;
            println!(
                "backup of {} rows made {} on {}, schema version {}",
                summary.rows, summary.created_at, summary.backend, summary.schema_version
            );
            let store = open(&config).await?;
            if !backup::is_empty(&store).await? {
                bail!(
                    "the target database is not empty: restore into a new data folder or an empty database"
                );
            }
            let bar = ProgressBar::new(summary.rows);
            bar.set_style(progress_style("{bar:40} {pos}/{len} rows"));
            let rows = backup::restore(&store, &file, |done, _| bar.set_position(done)).await;
            bar.finish_and_clear();
            let rows = rows.with_context(|| format!("cannot restore {}", file.display()))?;
            let check = audit::verify(&store, |_, _| {}).await?;
            if let Some((seq, problem)) = check.problem {
                bail!(
                    "restored, but the audit chain is broken at {seq}: {}",
                    problem.describe()
                );
            }
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            audit::append(
                &store,
                &Event::new(system(), Action::Restore).object("backup", name),
            )
            .await?;
            println!(
                "restored {rows} rows; audit chain intact: {} entries",
                check.checked
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn user_command(store: &Store, command: UserCommand) -> Result<()> {
    let by = system();
    let find = async |username: &str| {
        user::by_username(store, username)
            .await
            .with_context(|| format!("no user named {username:?}"))
    };
    match command {
        UserCommand::Add {
            username,
            name,
            role,
            institution,
            reach,
            resident_id,
            phone,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                let all: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                anyhow!("unknown role {role:?}; roles are: {}", all.join(", "))
            })?;
            let inst = org::by_code(store, &institution)
                .await
                .with_context(|| format!("no institution with code {institution:?}"))?;
            let reach = match reach {
                Some(r) => DivisionCode::parse(&r).with_context(|| format!("--reach {r:?}"))?,
                None => inst.division.clone(),
            };
            let password = read_password()?;
            let new = user::NewUser {
                username,
                display_name: name,
                role,
                institution_id: Some(inst.id),
                reach,
                resident_id,
                password,
                phone,
            };
            let added = user::add(store, &new, &by).await?;
            println!("added user {} ({})", added.username, added.role.as_str());
        }
        UserCommand::Disable { username } => {
            user::set_disabled(store, find(&username).await?.id, true, &by).await?;
            println!("disabled {username}");
        }
        UserCommand::Enable { username } => {
            user::set_disabled(store, find(&username).await?.id, false, &by).await?;
            println!("enabled {username}");
        }
        UserCommand::ResetPassword { username } => {
            let id = find(&username).await?.id;
            user::reset_password(store, id, &read_password()?, &by).await?;
            println!("password of {username} reset; lockout cleared, sessions ended");
        }
        UserCommand::Token {
            username,
            label,
            days,
        } => {
            let id = find(&username).await?.id;
            let expires = days.map(|d| yiwei_store::now() + chrono::Duration::days(d));
            println!(
                "{}",
                session::create_api_token(store, id, &label, expires).await?
            );
        }
        UserCommand::List => {
            let (users, _) = user::list(store, 10_000, 0).await?;
            for u in users {
                let state = if u.disabled { "disabled" } else { "active" };
                println!(
                    "{:<28} {:<16} {:<14} {state}",
                    u.username,
                    u.role.as_str(),
                    u.reach.as_str()
                );
            }
        }
    }
    Ok(())
}

/// Logs go to stderr, so stdout keeps only what a script reads. Log events carry ids, never
/// names, ID-card or phone numbers (design.md, "Identity, access and privacy").
fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("YIWEI_LOG_FILTER")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn serve(config: &Config, store: Store) -> Result<()> {
    let web = config.to_web_config()?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    println!(
        "\nyiwei serving {} on http://{} ({})",
        config.county.name,
        listener.local_addr()?,
        store.backend().as_str()
    );
    // Scheduled work (design.md, "Jobs") runs in every server process; the queue makes
    // sure each job runs once.
    let runner = tokio::spawn(crate::jobs::run_forever(
        store.clone(),
        crate::jobs::JobSettings::from_config(config)?,
    ));
    let app = yiwei_web::app(store.clone(), web);
    // Without TCP_NODELAY a streamed response (WADO-RS multipart: a part head, the file,
    // the closing delimiter) waits on the client's delayed ACK, about 40 ms a request.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    })
    .await
    .context("server failed")?;
    runner.abort();
    store.close().await;
    Ok(())
}
