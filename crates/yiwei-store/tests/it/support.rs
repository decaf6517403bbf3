//! Test databases on both backends, the fixture county, and raw SQL helpers.

use std::path::{Path, PathBuf};

use sqlx::Connection;
use tempfile::TempDir;
use yiwei_domain::access::Role;
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::org::InstitutionKind;
use yiwei_store::audit::Who;
use yiwei_store::division::{self, Division};
use yiwei_store::org::{self, NewInstitution};
use yiwei_store::resident::{self, NewResident};
use yiwei_store::user::{self, NewUser, User};
use yiwei_store::{Backend, Keys, Store, StoreError, on_pool};

/// The PostgreSQL server to test against.
pub const PG_URL_ENV: &str = "YIWEI_TEST_PG_URL";
/// Set to `1` to turn a missing PostgreSQL into a failure instead of a skip.
pub const REQUIRE_PG_ENV: &str = "YIWEI_REQUIRE_PG";

/// The master key of the fixture stores.
pub fn keys() -> Keys {
    Keys::from_master(&[7; 32])
}

/// Another master key, for "restore with the wrong key".
pub fn other_keys() -> Keys {
    Keys::from_master(&[8; 32])
}

/// The PostgreSQL URL, or `None` with a skip message (or a panic when PostgreSQL is required).
pub fn pg_url() -> Option<String> {
    match std::env::var(PG_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ if std::env::var(REQUIRE_PG_ENV).is_ok_and(|v| v == "1") => panic!(
            "{REQUIRE_PG_ENV}=1 but {PG_URL_ENV} is not set: start PostgreSQL and set it, \
             e.g. {PG_URL_ENV}=postgres://yiwei@127.0.0.1:55432/yiwei"
        ),
        _ => {
            eprintln!("skipping the PostgreSQL variant: {PG_URL_ENV} is not set");
            None
        }
    }
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    format!("{}/{name}{query}", &base[..path])
}

/// A PostgreSQL database made for one test.
struct PgDb {
    admin_url: String,
    name: String,
}

impl PgDb {
    async fn create(admin_url: &str) -> PgDb {
        let name = format!("yiwei_t_{}", &yiwei_store::crypto::random_token()[..16]);
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("cannot connect to {PG_URL_ENV} ({admin_url}): {e}; is PostgreSQL running?")
            });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        admin.close().await.ok();
        PgDb {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    fn url(&self) -> String {
        with_database(&self.admin_url, &self.name)
    }

    async fn drop_database(&self) {
        let Ok(mut admin) = sqlx::PgConnection::connect(&self.admin_url).await else {
            eprintln!("cannot connect to drop the test database {}", self.name);
            return;
        };
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
        {
            eprintln!("cannot drop the test database {}: {e}", self.name);
        }
        admin.close().await.ok();
    }
}

/// A fresh, migrated store that cleans up after itself: the SQLite folder is removed and
/// the PostgreSQL database dropped, also when the test panics.
pub struct TestDb {
    store: Store,
    dir: Option<TempDir>,
    pg: Option<PgDb>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        TestDb::sqlite_with(keys()).await
    }

    pub async fn sqlite_with(keys: Keys) -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::open("", dir.path(), keys)
            .await
            .expect("open SQLite");
        TestDb {
            store,
            dir: Some(dir),
            pg: None,
        }
    }

    /// `None` (after a skip message) when no PostgreSQL is configured.
    pub async fn postgres() -> Option<TestDb> {
        TestDb::postgres_with(keys()).await
    }

    pub async fn postgres_with(keys: Keys) -> Option<TestDb> {
        let admin_url = pg_url()?;
        let pg = PgDb::create(&admin_url).await;
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = match Store::open(&pg.url(), dir.path(), keys).await {
            Ok(store) => store,
            Err(e) => {
                pg.drop_database().await;
                panic!("cannot open the store on {}: {e}", pg.name);
            }
        };
        Some(TestDb {
            store,
            dir: Some(dir),
            pg: Some(pg),
        })
    }

    /// Another fresh store on the same backend as `store`.
    pub async fn like(store: &Store, keys: Keys) -> TestDb {
        match store.backend() {
            Backend::Sqlite => TestDb::sqlite_with(keys).await,
            Backend::Postgres => TestDb::postgres_with(keys)
                .await
                .expect("a PostgreSQL store exists, so PostgreSQL is configured"),
        }
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// A folder for files of this test (backups).
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("every test database has a folder")
            .path()
    }

    /// Close the pool and drop the database.
    pub async fn finish(mut self) {
        self.store.close().await;
        if let Some(pg) = self.pg.take() {
            pg.drop_database().await;
        }
    }
}

impl Drop for TestDb {
    /// Reached with a database still present only when a test panicked: drop it from a
    /// thread of its own, since the test's runtime cannot be blocked on.
    fn drop(&mut self) {
        if let Some(pg) = self.pg.take() {
            let dropper = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(pg.drop_database());
            });
            let _ = dropper.join();
        }
    }
}

/// Open the database of `store` a second time (running the migration step again).
pub async fn reopen(store: &Store, keys: Keys) -> Store {
    match store.backend() {
        Backend::Sqlite => {
            let file: String = on_pool!(store, |pool| {
                sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(pool)
                    .await
            })
            .expect("the SQLite file");
            let dir = PathBuf::from(file).parent().expect("a folder").to_owned();
            Store::open("", &dir, keys).await.expect("reopen SQLite")
        }
        Backend::Postgres => {
            let name: String = on_pool!(store, |pool| {
                sqlx::query_scalar("SELECT current_database()::text")
                    .fetch_one(pool)
                    .await
            })
            .expect("the database name");
            let url = with_database(&pg_url().expect("PostgreSQL is configured"), &name);
            Store::open(&url, Path::new("."), keys)
                .await
                .expect("reopen PostgreSQL")
        }
    }
}

/// Run one statement without parameters.
pub async fn exec(store: &Store, sql: &str) -> Result<u64, StoreError> {
    let sql = sql.to_owned();
    let n = on_pool!(store, |pool| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n)
}

/// A single integer from a query without parameters.
pub async fn int(store: &Store, sql: &str) -> i64 {
    let sql = sql.to_owned();
    on_pool!(store, |pool| sqlx::query_scalar::<_, i64>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .fetch_one(pool)
    .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A nullable blob column of the row `id` of `table`.
pub async fn blob(store: &Store, table: &str, column: &str, id: i64) -> Option<Vec<u8>> {
    let sql = format!("SELECT {column} FROM {table} WHERE id = $1");
    on_pool!(store, |pool| sqlx::query_scalar::<_, Option<Vec<u8>>>(
        sqlx::AssertSqlSafe(sql.as_str())
    )
    .bind(id)
    .fetch_one(pool)
    .await)
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Whether `haystack` contains `needle` as a byte string.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Drop the triggers that keep `audit_log` append-only, as an attacker with database
/// access but without the key would.
pub async fn drop_audit_triggers(store: &Store) {
    let statements: &[&str] = match store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER audit_log_no_update ON audit_log"],
    };
    for sql in statements {
        exec(store, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

pub fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A valid 18-character ID-card number: area, birth date, a sequence and its check
/// character.
pub fn id_card(area: &str, birth: &str, sequence: u32) -> String {
    let first17 = format!("{area}{birth}{sequence:03}");
    let check = yiwei_domain::id_card::check_char(&first17);
    format!("{first17}{check}")
}

/// The first valid ID-card number for `area` and `birth` whose check character is `X`.
pub fn id_card_ending_in_x(area: &str, birth: &str) -> String {
    (1..1000)
        .map(|sequence| id_card(area, birth, sequence))
        .find(|number| number.ends_with('X'))
        .expect("one in eleven numbers ends in X")
}

pub const PASSWORD: &str = "correct horse battery";

/// The fixture county: 环江县 (451226) under 广西 (45) and 河池市 (4512), two townships,
/// three villages, a medical community, institutions, users of several roles and residents.
pub struct County {
    pub county: DivisionCode,
    pub township_a: DivisionCode,
    pub township_b: DivisionCode,
    /// Two villages in township A, one in township B.
    pub village_a1: DivisionCode,
    pub village_a2: DivisionCode,
    pub village_b1: DivisionCode,
    pub community: i64,
    pub hospital: i64,
    pub bureau: i64,
    pub centre_a: i64,
    pub centre_b: i64,
    pub clinic_a1: i64,
    pub admin: User,
    pub analyst: User,
    /// A township clinician of township A.
    pub clinician_a: User,
    /// The village doctor of village A1.
    pub doctor_a1: User,
    /// The own account of resident `ana`.
    pub resident_user: User,
    /// Residents: `ana` and `dai` live in A1, `bo` in A2, `chen` in B1.
    pub ana: i64,
    pub dai: i64,
    pub bo: i64,
    pub chen: i64,
    pub ana_id_card: String,
    pub ana_phone: String,
    pub bo_id_card: String,
    pub doctor_phone: String,
}

async fn add_division(store: &Store, code_text: &str, level: Level, name: &str, name_en: &str) {
    let c = code(code_text);
    division::upsert(
        store,
        &Division {
            parent: c.parent(),
            code: c,
            level,
            name: name.to_owned(),
            name_en: name_en.to_owned(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("division {code_text}: {e}"));
}

async fn add_institution(
    store: &Store,
    code_text: &str,
    name: &str,
    kind: InstitutionKind,
    division: &DivisionCode,
    community: i64,
    is_lead: bool,
) -> i64 {
    org::add(
        store,
        &NewInstitution {
            code: code_text.to_owned(),
            name: name.to_owned(),
            name_en: String::new(),
            kind,
            division: division.clone(),
            community_id: Some(community),
            is_lead,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("institution {code_text}: {e}"))
}

pub struct UserSpec<'a> {
    pub username: &'a str,
    pub role: Role,
    pub institution: Option<i64>,
    pub reach: &'a DivisionCode,
    pub resident: Option<i64>,
    pub phone: Option<&'a str>,
}

pub async fn add_user(store: &Store, spec: UserSpec<'_>, by: &Who) -> User {
    user::add(
        store,
        &NewUser {
            username: spec.username.to_owned(),
            display_name: format!("{} (test)", spec.username),
            role: spec.role,
            institution_id: spec.institution,
            reach: spec.reach.clone(),
            resident_id: spec.resident,
            password: PASSWORD.to_owned(),
            phone: spec.phone.map(str::to_owned),
        },
        by,
    )
    .await
    .unwrap_or_else(|e| panic!("user {}: {e}", spec.username))
}

pub fn new_resident(
    village: &DivisionCode,
    name: &str,
    sex: &str,
    id_card: Option<&str>,
    phone: Option<&str>,
) -> NewResident {
    let birth_date = id_card
        .map(|n| chrono::NaiveDate::parse_from_str(&n[6..14], "%Y%m%d").expect("a birth date"));
    NewResident {
        division: village.clone(),
        name: name.to_owned(),
        sex: sex.to_owned(),
        birth_date,
        id_card: id_card.map(str::to_owned),
        phone: phone.map(str::to_owned),
        contact_phone: None,
        details: Default::default(),
    }
}

impl County {
    pub async fn build(store: &Store) -> County {
        add_division(store, "45", Level::Province, "广西壮族自治区", "Guangxi").await;
        add_division(store, "4512", Level::Prefecture, "河池市", "Hechi").await;
        add_division(
            store,
            "451226",
            Level::County,
            "环江毛南族自治县",
            "Huanjiang",
        )
        .await;
        add_division(store, "451226100", Level::Township, "思恩镇", "Si'en").await;
        add_division(store, "451226101", Level::Township, "水源镇", "Shuiyuan").await;
        add_division(store, "451226100201", Level::Village, "城西村", "Chengxi").await;
        add_division(store, "451226100202", Level::Village, "城北村", "Chengbei").await;
        add_division(store, "451226101201", Level::Village, "水源村", "Shuiyuan").await;
        let county = code("451226");
        let township_a = code("451226100");
        let township_b = code("451226101");
        let village_a1 = code("451226100201");
        let village_a2 = code("451226100202");
        let village_b1 = code("451226101201");

        let community = org::add_community(store, "环江县医共体", "Huanjiang community", &county)
            .await
            .expect("medical community");
        use InstitutionKind::*;
        let hospital = add_institution(
            store,
            "H001",
            "环江县人民医院",
            CountyHospital,
            &county,
            community,
            true,
        )
        .await;
        let bureau = add_institution(
            store,
            "B001",
            "环江县卫生健康局",
            HealthBureau,
            &county,
            community,
            false,
        )
        .await;
        let centre_a = add_institution(
            store,
            "T100",
            "思恩镇卫生院",
            TownshipHealthCentre,
            &township_a,
            community,
            false,
        )
        .await;
        let centre_b = add_institution(
            store,
            "T101",
            "水源镇卫生院",
            TownshipHealthCentre,
            &township_b,
            community,
            false,
        )
        .await;
        let clinic_a1 = add_institution(
            store,
            "V201",
            "城西村卫生室",
            VillageClinic,
            &village_a1,
            community,
            false,
        )
        .await;

        let system = Who {
            username: Some("setup".into()),
            ..Who::default()
        };
        let admin = add_user(
            store,
            UserSpec {
                username: "admin",
                role: Role::CountyAdmin,
                institution: Some(bureau),
                reach: &county,
                resident: None,
                phone: None,
            },
            &system,
        )
        .await;
        let by = admin.who();

        let ana_id_card = id_card_ending_in_x("451226", "19850315");
        let ana_phone = "138 0771 0001".to_owned();
        let bo_id_card = id_card("451226", "19900101", 12);
        let ana = resident::create(
            store,
            &new_resident(
                &village_a1,
                "韦阿娜",
                "female",
                Some(&ana_id_card),
                Some(&ana_phone),
            ),
            &by,
        )
        .await
        .expect("resident ana");
        let dai = resident::create(
            store,
            &new_resident(
                &village_a1,
                "覃大",
                "male",
                Some(&id_card("451226", "19620708", 31)),
                None,
            ),
            &by,
        )
        .await
        .expect("resident dai");
        let bo = resident::create(
            store,
            &new_resident(
                &village_a2,
                "蒙波",
                "male",
                Some(&bo_id_card),
                Some("13907710002"),
            ),
            &by,
        )
        .await
        .expect("resident bo");
        let chen = resident::create(
            store,
            &new_resident(
                &village_b1,
                "谭晨",
                "female",
                Some(&id_card("451226", "20010920", 46)),
                Some("+86 139-0771-0003"),
            ),
            &by,
        )
        .await
        .expect("resident chen");

        let doctor_phone = "13977800001".to_owned();
        let analyst = add_user(
            store,
            UserSpec {
                username: "analyst",
                role: Role::Analyst,
                institution: Some(bureau),
                reach: &county,
                resident: None,
                phone: None,
            },
            &by,
        )
        .await;
        let clinician_a = add_user(
            store,
            UserSpec {
                username: "clinician.a",
                role: Role::Clinician,
                institution: Some(centre_a),
                reach: &township_a,
                resident: None,
                phone: Some("13977800002"),
            },
            &by,
        )
        .await;
        let doctor_a1 = add_user(
            store,
            UserSpec {
                username: "doctor.a1",
                role: Role::VillageDoctor,
                institution: Some(clinic_a1),
                reach: &village_a1,
                resident: None,
                phone: Some(&doctor_phone),
            },
            &by,
        )
        .await;
        let resident_user = add_user(
            store,
            UserSpec {
                username: "ana",
                role: Role::Resident,
                institution: None,
                reach: &village_a1,
                resident: Some(ana),
                phone: None,
            },
            &by,
        )
        .await;

        County {
            county,
            township_a,
            township_b,
            village_a1,
            village_a2,
            village_b1,
            community,
            hospital,
            bureau,
            centre_a,
            centre_b,
            clinic_a1,
            admin,
            analyst,
            clinician_a,
            doctor_a1,
            resident_user,
            ana,
            dai,
            bo,
            chen,
            ana_id_card,
            ana_phone,
            bo_id_card,
            doctor_phone,
        }
    }
}

#[test]
fn a_database_name_replaces_the_path_of_a_postgres_url() {
    assert_eq!(
        with_database("postgres://yiwei@127.0.0.1:55432/yiwei", "t1"),
        "postgres://yiwei@127.0.0.1:55432/t1"
    );
    assert_eq!(
        with_database("postgres://u:p@host/db?sslmode=disable", "t2"),
        "postgres://u:p@host/t2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgresql://host:5432", "t3"),
        "postgresql://host:5432/t3"
    );
}
