//! Family-doctor teams, service packages and contracts (家庭医生签约服务), with the services
//! delivered under them (履约) and the coverage indicators.
//!
//! The rules (period, renewal window, fulfilment, key groups, the indicator formulas) are
//! `yiwei_domain::contract`; this module keeps the rows and applies the rules inside the
//! write transaction:
//!
//! - **One active contract per resident.** [`sign`] looks for the resident's active contract
//!   inside its transaction and refuses with `Conflict { constraint: "contract_one_active" }`
//!   while it is in force; the partial unique index of the same name catches two
//!   transactions racing on PostgreSQL. An active contract already past its end when a new
//!   one starts is closed and linked to the new one, as a late renewal.
//! - **History is kept.** [`renew`] and [`transfer`] end the old row and insert a new one,
//!   linked by `replaced_by`; [`terminate`] records the reason and the last day. Nothing is
//!   deleted, so coverage can be computed for any past date.
//! - **Coverage** counts live records by the resident's *current* village (the same base as
//!   the key groups and the population figures), set-based in one query per division.
//!
//! Teams and packages are staff and configuration data, not personal data: their functions
//! are public and audit their changes with the `Who` given. Contracts are personal: their
//! readers and writers are `pub(crate)`, and callers outside the crate go through
//! [`crate::access`], which checks the viewer's reach (or contract tie) and audits.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use yiwei_domain::access::Role;
use yiwei_domain::contract::{
    self as rules, ContractStatus, ItemFulfilment, PackageItem, PackageKind, PeriodRules, TeamRole,
};
use yiwei_domain::division::{DivisionCode, Level};
use yiwei_domain::key_group::KeyGroup;

use crate::audit::{self, Action, Event, Who};
use crate::{Result, Row, Store, StoreError, Tx, on_pool, on_tx};

/// The longest team or package name, in characters.
pub const MAX_NAME_CHARS: usize = 50;
/// The largest drawn signature kept (bytes of its data URL).
pub const MAX_DRAWING_BYTES: usize = 256 * 1024;
/// The longest witness name, in characters.
pub const MAX_WITNESS_CHARS: usize = 50;
/// The longest termination or transfer reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;
const PNG_DATA_URL: &str = "data:image/png;base64,";

/// 家庭医生团队.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    pub id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub name: String,
    pub lead_user_id: Option<i64>,
    pub lead_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub active: bool,
    pub n_members: i64,
    pub n_villages: i64,
}

/// A member of a team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: TeamRole,
}

/// A village a team serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamVillage {
    pub code: DivisionCode,
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct NewTeam {
    pub institution_id: i64,
    pub name: String,
    /// Added as a member with the role `lead`.
    pub lead_user_id: Option<i64>,
}

/// 服务包.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: PackageKind,
    /// Money is integer fen.
    pub price_fen: i64,
    pub items: Vec<PackageItem>,
    pub active: bool,
}

#[derive(Clone, Debug)]
pub struct NewPackage {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: PackageKind,
    pub price_fen: i64,
    pub items: Vec<PackageItem>,
}

/// The resident's signature: signed on paper before a witness, and/or drawn on the screen
/// (a PNG data URL). Kept as JSON text in `contract.signature`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signature {
    pub on_paper: bool,
    /// Who witnessed the signing (staff name), required for a paper signature.
    pub witness: String,
    /// `data:image/png;base64,…`.
    pub drawing: Option<String>,
}

impl Signature {
    /// Check and trim; every problem in one message.
    pub fn checked(&self) -> Result<Signature> {
        let witness = self.witness.trim().to_owned();
        let drawing = self
            .drawing
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        if !self.on_paper && drawing.is_none() {
            return Err(StoreError::Invalid(
                "record the resident's signature: signed on paper before a witness, or drawn"
                    .into(),
            ));
        }
        if self.on_paper && witness.is_empty() {
            return Err(StoreError::Invalid(
                "a paper signature needs the witness's name".into(),
            ));
        }
        if witness.chars().count() > MAX_WITNESS_CHARS {
            return Err(StoreError::Invalid(format!(
                "a witness name has at most {MAX_WITNESS_CHARS} characters"
            )));
        }
        if let Some(d) = &drawing {
            let ok = d.len() <= MAX_DRAWING_BYTES
                && d.strip_prefix(PNG_DATA_URL).is_some_and(|b64| {
                    !b64.is_empty()
                        && b64
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
                });
            if !ok {
                return Err(StoreError::Invalid(format!(
                    "a drawn signature is a PNG data URL of at most {} KiB",
                    MAX_DRAWING_BYTES / 1024
                )));
            }
        }
        Ok(Signature {
            on_paper: self.on_paper,
            witness,
            drawing,
        })
    }

    fn to_json(&self) -> String {
        json!({"on_paper": self.on_paper, "witness": self.witness, "drawing": self.drawing})
            .to_string()
    }

    fn from_json(text: &str) -> Signature {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        Signature {
            on_paper: v["on_paper"].as_bool().unwrap_or(false),
            witness: v["witness"].as_str().unwrap_or_default().to_owned(),
            drawing: v["drawing"].as_str().map(str::to_owned),
        }
    }
}

/// 签约: one resident with one team and doctor, for a period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contract {
    pub id: i64,
    pub resident_id: i64,
    /// The resident's village when the contract was signed.
    pub division: DivisionCode,
    pub team_id: i64,
    pub team_name: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub doctor_id: i64,
    pub doctor_name: String,
    pub package_id: i64,
    pub package_name: String,
    pub package_name_en: String,
    pub status: ContractStatus,
    pub starts_on: NaiveDate,
    /// The last day in force as signed.
    pub ends_on: NaiveDate,
    /// The last day in force of a contract stopped early (terminated, transferred).
    pub ended_on: Option<NaiveDate>,
    pub signed_at: DateTime<Utc>,
    pub signature: Signature,
    pub ended_reason: Option<String>,
    /// The contract that renewed or took over this one.
    pub replaced_by: Option<i64>,
    /// The contract this one renewed or took over.
    pub replaces: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl Contract {
    /// The last day the contract is (or was) in force.
    pub fn last_day(&self) -> NaiveDate {
        self.ended_on.unwrap_or(self.ends_on).min(self.ends_on)
    }

    pub fn in_force_on(&self, on: NaiveDate) -> bool {
        rules::in_force(self.starts_on, self.ends_on, self.ended_on, on)
    }
}

/// A contract to sign.
#[derive(Clone, Debug)]
pub struct NewContract {
    pub resident_id: i64,
    pub team_id: i64,
    pub doctor_id: i64,
    pub package_id: i64,
    pub starts_on: NaiveDate,
    /// The last day in force; `None` for the shortest period the rules allow.
    pub ends_on: Option<NaiveDate>,
    pub signature: Signature,
}

/// A renewal (续约) of an active contract.
#[derive(Clone, Debug)]
pub struct Renewal {
    /// The county's today: the renewal window is checked against it.
    pub today: NaiveDate,
    /// The new contract's last day; `None` for the shortest period.
    pub ends_on: Option<NaiveDate>,
    /// Another package; `None` keeps the old one.
    pub package_id: Option<i64>,
    pub signature: Signature,
}

/// A transfer (转签) of an active contract to another team or doctor.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub team_id: i64,
    pub doctor_id: i64,
    /// The first day with the new team: the old contract's last day is the day before.
    pub on: NaiveDate,
    pub reason: String,
    /// The resident's signature for the new doctor; `None` carries the old one over.
    pub signature: Option<Signature>,
}

/// A service delivered under a contract (履约记录).
#[derive(Clone, Debug)]
pub struct NewService {
    pub item_code: String,
    pub delivered_on: NaiveDate,
    /// The encounter that delivered it, when recorded as one.
    pub encounter_id: Option<i64>,
    /// The county's today: a service cannot be delivered in the future.
    pub today: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    pub id: i64,
    pub contract_id: i64,
    pub item_code: String,
    pub delivered_on: NaiveDate,
    pub encounter_id: Option<i64>,
    pub recorded_by: Option<i64>,
    pub recorded_by_name: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// 履约 of a contract in one contract year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fulfilment {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub items: Vec<ItemFulfilment>,
}

impl Fulfilment {
    pub fn fulfilled(&self) -> bool {
        rules::all_fulfilled(&self.items)
    }
}

/// The caller's event (who, basis, address) as another action.
trait IntoAction {
    fn into_action(self, action: Action) -> Event;
}

impl IntoAction for Event {
    fn into_action(self, action: Action) -> Event {
        Event { action, ..self }
    }
}

fn bad(what: &str) -> StoreError {
    StoreError::Other(format!("stored contract data has a bad {what}"))
}

fn check_name(name: &str, what: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "a {what} name has 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(n.to_owned())
}

/// A unique violation of the one-active-contract index, named the same on both backends.
fn one_active(e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict { constraint }
            if constraint.contains("contract_one_active")
                || constraint.contains("contract.resident_id") =>
        {
            StoreError::Conflict {
                constraint: "contract_one_active".into(),
            }
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------------------
// Teams

const TEAM_COLUMNS: &str = "t.id, t.institution_id, i.name AS institution_name, t.name, t.lead_user_id, \
    u.display_name AS lead_name, t.created_at, t.active, \
    (SELECT COUNT(*) FROM fd_team_member m WHERE m.team_id = t.id) AS n_members, \
    (SELECT COUNT(*) FROM fd_team_village v WHERE v.team_id = t.id) AS n_villages";
const TEAM_FROM: &str = "FROM fd_team t JOIN institution i ON i.id = t.institution_id \
    LEFT JOIN app_user u ON u.id = t.lead_user_id";

fn team(row: &impl Row) -> Result<Team> {
    Ok(Team {
        id: row.col("id")?,
        institution_id: row.col("institution_id")?,
        institution_name: row.col("institution_name")?,
        name: row.col("name")?,
        lead_user_id: row.col("lead_user_id")?,
        lead_name: row.col("lead_name")?,
        created_at: row.col("created_at")?,
        active: row.col("active")?,
        n_members: row.col("n_members")?,
        n_villages: row.col("n_villages")?,
    })
}

async fn audit_team(
    store: &Store,
    by: &Who,
    action: Action,
    team_id: i64,
    what: &str,
) -> Result<()> {
    let event = Event::new(by.clone(), action)
        .object("fd_team", team_id)
        .reason(what);
    audit::append(store, &event).await.map(|_| ())
}

/// The staff account `user_id`, refused when it does not exist, is disabled, or belongs
/// to a resident.
async fn staff_user(tx: &mut Tx<'_>, user_id: i64) -> Result<()> {
    let row: Option<(String, bool)> = on_tx!(tx, |conn| {
        sqlx::query_as("SELECT role, disabled FROM app_user WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match row {
        None => Err(StoreError::Invalid(format!(
            "user {user_id} does not exist"
        ))),
        Some((_, true)) => Err(StoreError::Invalid(format!("user {user_id} is disabled"))),
        Some((role, false)) if role == Role::Resident.as_str() => Err(StoreError::Invalid(
            "a resident's account cannot join a family-doctor team".into(),
        )),
        Some(_) => Ok(()),
    }
}

/// Create a team; its lead (if given) becomes its first member. Audited as `create`.
pub async fn create_team(store: &Store, new: &NewTeam, by: &Who) -> Result<i64> {
    let name = check_name(&new.name, "team")?;
    let mut tx = store.begin().await?;
    let active: Option<bool> = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar("SELECT active FROM institution WHERE id = $1")
            .bind(new.institution_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match active {
        None => {
            return Err(StoreError::Invalid(format!(
                "institution {} does not exist",
                new.institution_id
            )));
        }
        Some(false) => {
            return Err(StoreError::Invalid(
                "the institution is no longer active".into(),
            ));
        }
        Some(true) => {}
    }
    if let Some(lead) = new.lead_user_id {
        staff_user(&mut tx, lead).await?;
    }
    let now = crate::now();
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO fd_team (institution_id, name, lead_user_id, created_at, active) \
             VALUES ($1, $2, $3, $4, TRUE) RETURNING id",
        )
        .bind(new.institution_id)
        .bind(&name)
        .bind(new.lead_user_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })?;
    if let Some(lead) = new.lead_user_id {
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO fd_team_member (team_id, user_id, role) VALUES ($1, $2, 'lead')",
            )
            .bind(id)
            .bind(lead)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })?;
    }
    let event = Event::new(by.clone(), Action::Create)
        .object("fd_team", id)
        .reason("team created");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Rename a team, or set it active or inactive. An inactive team signs no new contracts;
/// its existing ones stay until renewed, transferred or ended.
pub async fn update_team(store: &Store, id: i64, name: &str, active: bool, by: &Who) -> Result<()> {
    let name = check_name(name, "team")?;
    let n = on_pool!(store, |pool| {
        sqlx::query("UPDATE fd_team SET name = $1, active = $2 WHERE id = $3")
            .bind(&name)
            .bind(active)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound("team"));
    }
    audit_team(store, by, Action::Update, id, "team updated").await
}

pub async fn get_team(store: &Store, id: i64) -> Result<Team> {
    let sql = format!("SELECT {TEAM_COLUMNS} {TEAM_FROM} WHERE t.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("team"))?;
        team(&row)
    })
}

/// Teams whose institution lies inside `root`, or that serve a village inside `root`, or
/// of which `member` is a member; active first, then by name; with the total.
pub async fn list_teams(
    store: &Store,
    root: &DivisionCode,
    member: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Team>, i64)> {
    let (low, high) = root.subtree_range();
    let filter = "((i.division_code >= $1 AND i.division_code < $2) \
        OR EXISTS (SELECT 1 FROM fd_team_village v WHERE v.team_id = t.id AND v.division_code >= $1 AND v.division_code < $2) \
        OR EXISTS (SELECT 1 FROM fd_team_member m WHERE m.team_id = t.id AND m.user_id = $3))";
    let list_sql = format!(
        "SELECT {TEAM_COLUMNS} {TEAM_FROM} WHERE {filter} ORDER BY t.active DESC, t.name, t.id LIMIT $4 OFFSET $5"
    );
    let count_sql = format!("SELECT COUNT(*) {TEAM_FROM} WHERE {filter}");
    let member = member.unwrap_or(-1);
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(member)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(member)
            .fetch_one(pool)
            .await?;
        Ok((rows.iter().map(team).collect::<Result<Vec<_>>>()?, total))
    })
}

/// Active teams that may sign a resident of `village`: those serving the village, and
/// those of `institution_id` (the signing user's own), by name.
pub async fn teams_for_signing(
    store: &Store,
    village: &DivisionCode,
    institution_id: Option<i64>,
) -> Result<Vec<Team>> {
    let sql = format!(
        "SELECT {TEAM_COLUMNS} {TEAM_FROM} WHERE t.active AND (t.institution_id = $1 OR EXISTS \
         (SELECT 1 FROM fd_team_village v WHERE v.team_id = t.id AND v.division_code = $2)) \
         ORDER BY t.name, t.id"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(institution_id.unwrap_or(-1))
            .bind(village.as_str())
            .fetch_all(pool)
            .await?;
        rows.iter().map(team).collect()
    })
}

/// The members of a team, lead first.
pub async fn members(store: &Store, team_id: i64) -> Result<Vec<Member>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT m.user_id, u.username, u.display_name, m.role FROM fd_team_member m \
             JOIN app_user u ON u.id = m.user_id WHERE m.team_id = $1 ORDER BY m.id",
        )
        .bind(team_id)
        .fetch_all(pool)
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                let role: String = r.col("role")?;
                Ok(Member {
                    user_id: r.col("user_id")?,
                    username: r.col("username")?,
                    display_name: r.col("display_name")?,
                    role: TeamRole::parse(&role).ok_or_else(|| bad("team role"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|m| m.role);
        Ok(out)
    })
}

/// Add a member, or change the role of one; a new lead takes the place (and the
/// `lead_user_id`) of the old, who stays a doctor of the team.
pub async fn add_member(
    store: &Store,
    team_id: i64,
    user_id: i64,
    role: TeamRole,
    by: &Who,
) -> Result<()> {
    let mut tx = store.begin().await?;
    get_team_in(&mut tx, team_id).await?;
    staff_user(&mut tx, user_id).await?;
    on_tx!(&mut tx, |conn| {
        if role == TeamRole::Lead {
            sqlx::query(
                "UPDATE fd_team_member SET role = 'doctor' WHERE team_id = $1 AND role = 'lead'",
            )
            .bind(team_id)
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE fd_team SET lead_user_id = $1 WHERE id = $2")
                .bind(user_id)
                .bind(team_id)
                .execute(&mut *conn)
                .await?;
        } else {
            sqlx::query(
                "UPDATE fd_team SET lead_user_id = NULL WHERE id = $1 AND lead_user_id = $2",
            )
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        }
        sqlx::query(
            "INSERT INTO fd_team_member (team_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(team_id)
        .bind(user_id)
        .bind(role.code())
        .execute(&mut *conn)
        .await?;
        Ok::<_, StoreError>(())
    })?;
    let event = Event::new(by.clone(), Action::Update)
        .object("fd_team", team_id)
        .reason(&format!("member {user_id} as {}", role.code()));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Remove a member; refused while they are the doctor of an active contract of the team
/// (transfer those first, so no resident is left without a doctor).
pub async fn remove_member(store: &Store, team_id: i64, user_id: i64, by: &Who) -> Result<()> {
    let mut tx = store.begin().await?;
    let holding: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM contract WHERE team_id = $1 AND doctor_id = $2 AND status = 'active'",
        )
        .bind(team_id)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await
    })?;
    if holding > 0 {
        return Err(StoreError::Invalid(format!(
            "this member is the doctor of {holding} active contracts of the team: transfer them first"
        )));
    }
    let n = on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE fd_team SET lead_user_id = NULL WHERE id = $1 AND lead_user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query("DELETE FROM fd_team_member WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound("team member"));
    }
    let event = Event::new(by.clone(), Action::Update)
        .object("fd_team", team_id)
        .reason(&format!("member {user_id} removed"));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// The villages a team serves, by code.
pub async fn villages(store: &Store, team_id: i64) -> Result<Vec<TeamVillage>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT v.division_code, d.name FROM fd_team_village v JOIN division d ON d.code = v.division_code \
             WHERE v.team_id = $1 ORDER BY v.division_code",
        )
        .bind(team_id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                let code: String = r.col("division_code")?;
                Ok(TeamVillage {
                    code: DivisionCode::parse(&code).map_err(|_| bad("village"))?,
                    name: r.col("name")?,
                })
            })
            .collect()
    })
}

/// Add a village (a division at village level) to those a team serves.
pub async fn add_village(
    store: &Store,
    team_id: i64,
    village: &DivisionCode,
    by: &Who,
) -> Result<()> {
    if village.level() != Level::Village {
        return Err(StoreError::Invalid(
            "a team serves villages: give a 12-digit village code".into(),
        ));
    }
    let mut tx = store.begin().await?;
    get_team_in(&mut tx, team_id).await?;
    let exists: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar("SELECT COUNT(*) FROM division WHERE code = $1")
            .bind(village.as_str())
            .fetch_one(&mut *conn)
            .await
    })?;
    if exists == 0 {
        return Err(StoreError::Invalid(format!(
            "village {} is not in the division list",
            village.as_str()
        )));
    }
    on_tx!(&mut tx, |conn| {
        sqlx::query(
            "INSERT INTO fd_team_village (team_id, division_code) VALUES ($1, $2) \
             ON CONFLICT (team_id, division_code) DO NOTHING",
        )
        .bind(team_id)
        .bind(village.as_str())
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })?;
    let event = Event::new(by.clone(), Action::Update)
        .object("fd_team", team_id)
        .reason(&format!("serves village {}", village.as_str()));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_village(
    store: &Store,
    team_id: i64,
    village: &DivisionCode,
    by: &Who,
) -> Result<()> {
    let n = on_pool!(store, |pool| {
        sqlx::query("DELETE FROM fd_team_village WHERE team_id = $1 AND division_code = $2")
            .bind(team_id)
            .bind(village.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound("team village"));
    }
    audit_team(
        store,
        by,
        Action::Update,
        team_id,
        &format!("no longer serves village {}", village.as_str()),
    )
    .await
}

/// The role of `user_id` in a team, if a member.
pub async fn member_role(store: &Store, team_id: i64, user_id: i64) -> Result<Option<TeamRole>> {
    let role: Option<String> = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT role FROM fd_team_member WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await
    })?;
    Ok(role.as_deref().and_then(TeamRole::parse))
}

async fn get_team_in(tx: &mut Tx<'_>, team_id: i64) -> Result<(i64, bool)> {
    let row: Option<(i64, bool)> = on_tx!(tx, |conn| {
        sqlx::query_as("SELECT institution_id, active FROM fd_team WHERE id = $1")
            .bind(team_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    row.ok_or(StoreError::NotFound("team"))
}

/// An active team, and a member of it who may hold contracts.
async fn check_team_doctor(tx: &mut Tx<'_>, team_id: i64, doctor_id: i64) -> Result<()> {
    let (_, active) = get_team_in(tx, team_id)
        .await
        .map_err(|_| StoreError::Invalid(format!("team {team_id} does not exist")))?;
    if !active {
        return Err(StoreError::Invalid(
            "this team is no longer active and signs no contracts".into(),
        ));
    }
    let role: Option<String> = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT role FROM fd_team_member WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(doctor_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match role.as_deref().and_then(TeamRole::parse) {
        None => Err(StoreError::Invalid(
            "the contract's doctor must be a member of the team".into(),
        )),
        Some(r) if !r.may_hold_contracts() => Err(StoreError::Invalid(format!(
            "a {} does not hold contracts: choose the team lead, a family doctor or a village doctor",
            r.name_en()
        ))),
        Some(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Packages

fn items_json(items: &[PackageItem]) -> String {
    Value::Array(
        items
            .iter()
            .map(|i| json!({"code": i.code, "per_year": i.per_year}))
            .collect(),
    )
    .to_string()
}

fn items_of(text: &str) -> Result<Vec<PackageItem>> {
    let v: Value = serde_json::from_str(text).map_err(|_| bad("package item list"))?;
    v.as_array()
        .ok_or_else(|| bad("package item list"))?
        .iter()
        .map(|i| {
            Ok(PackageItem {
                code: i["code"]
                    .as_str()
                    .ok_or_else(|| bad("package item"))?
                    .to_owned(),
                per_year: i["per_year"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| bad("package item count"))?,
            })
        })
        .collect()
}

fn package(row: &impl Row) -> Result<Package> {
    let kind: String = row.col("kind")?;
    Ok(Package {
        id: row.col("id")?,
        code: row.col("code")?,
        name: row.col("name")?,
        name_en: row.col("name_en")?,
        kind: PackageKind::parse(&kind).ok_or_else(|| bad("package kind"))?,
        price_fen: row.col("price_fen")?,
        items: items_of(&row.col::<String>("items")?)?,
        active: row.col("active")?,
    })
}

/// Add a service package; its code is unique. Audited as `create`.
pub async fn create_package(store: &Store, new: &NewPackage, by: &Who) -> Result<i64> {
    let name = check_name(&new.name, "package")?;
    let code = new.code.trim();
    rules::check_item_code(code)
        .map_err(|_| StoreError::Invalid("a package code has 1-40 letters, digits or _".into()))?;
    if new.price_fen < 0 {
        return Err(StoreError::Invalid("a price cannot be negative".into()));
    }
    for item in &new.items {
        rules::check_item_code(&item.code).map_err(StoreError::Invalid)?;
        if item.per_year == 0 {
            return Err(StoreError::Invalid(format!(
                "{} is owed at least once a year",
                item.code
            )));
        }
    }
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO service_package (code, name, name_en, kind, price_fen, items, active) \
             VALUES ($1, $2, $3, $4, $5, $6, TRUE) RETURNING id",
        )
        .bind(code)
        .bind(&name)
        .bind(new.name_en.trim())
        .bind(new.kind.code())
        .bind(new.price_fen)
        .bind(items_json(&new.items))
        .fetch_one(&mut *conn)
        .await
    })?;
    let event = Event::new(by.clone(), Action::Create).object("service_package", id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn get_package(store: &Store, id: i64) -> Result<Package> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM service_package WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("service package"))?;
        package(&row)
    })
}

/// Service packages, basic first then by code; only active ones when `active_only`.
pub async fn list_packages(store: &Store, active_only: bool) -> Result<Vec<Package>> {
    on_pool!(store, |pool| {
        let rows =
            sqlx::query("SELECT * FROM service_package WHERE active OR NOT $1 ORDER BY kind, code")
                .bind(active_only)
                .fetch_all(pool)
                .await?;
        rows.iter().map(package).collect()
    })
}

/// Offer a package for new contracts, or withdraw it (existing contracts keep it).
pub async fn set_package_active(store: &Store, id: i64, active: bool, by: &Who) -> Result<()> {
    let n = on_pool!(store, |pool| {
        sqlx::query("UPDATE service_package SET active = $1 WHERE id = $2")
            .bind(active)
            .bind(id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::NotFound("service package"));
    }
    let event = Event::new(by.clone(), Action::Update)
        .object("service_package", id)
        .reason(if active { "offered" } else { "withdrawn" });
    audit::append(store, &event).await.map(|_| ())
}

async fn active_package(tx: &mut Tx<'_>, id: i64) -> Result<()> {
    let active: Option<bool> = on_tx!(tx, |conn| {
        sqlx::query_scalar("SELECT active FROM service_package WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match active {
        None => Err(StoreError::Invalid(format!(
            "service package {id} does not exist"
        ))),
        Some(false) => Err(StoreError::Invalid(
            "this service package is withdrawn: choose another".into(),
        )),
        Some(true) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Contracts

const CONTRACT_COLUMNS: &str = "c.id, c.resident_id, c.division_code, c.team_id, t.name AS team_name, \
    t.institution_id, i.name AS institution_name, c.doctor_id, u.display_name AS doctor_name, \
    c.package_id, p.name AS package_name, p.name_en AS package_name_en, c.status, c.starts_on, \
    c.ends_on, c.ended_on, c.signed_at, c.signature, c.ended_reason, c.replaced_by, \
    (SELECT MIN(o.id) FROM contract o WHERE o.replaced_by = c.id) AS replaces, c.created_by, \
    c.created_at, c.version";
const CONTRACT_FROM: &str = "FROM contract c JOIN fd_team t ON t.id = c.team_id \
    JOIN institution i ON i.id = t.institution_id JOIN app_user u ON u.id = c.doctor_id \
    JOIN service_package p ON p.id = c.package_id";

fn contract(row: &impl Row) -> Result<Contract> {
    let division: String = row.col("division_code")?;
    let status: String = row.col("status")?;
    Ok(Contract {
        id: row.col("id")?,
        resident_id: row.col("resident_id")?,
        division: DivisionCode::parse(&division).map_err(|_| bad("division"))?,
        team_id: row.col("team_id")?,
        team_name: row.col("team_name")?,
        institution_id: row.col("institution_id")?,
        institution_name: row.col("institution_name")?,
        doctor_id: row.col("doctor_id")?,
        doctor_name: row.col("doctor_name")?,
        package_id: row.col("package_id")?,
        package_name: row.col("package_name")?,
        package_name_en: row.col("package_name_en")?,
        status: ContractStatus::parse(&status).ok_or_else(|| bad("status"))?,
        starts_on: row.col("starts_on")?,
        ends_on: row.col("ends_on")?,
        ended_on: row.col("ended_on")?,
        signed_at: row.col("signed_at")?,
        signature: Signature::from_json(&row.col::<String>("signature")?),
        ended_reason: row.col("ended_reason")?,
        replaced_by: row.col("replaced_by")?,
        replaces: row.col("replaces")?,
        created_by: row.col("created_by")?,
        created_at: row.col("created_at")?,
        version: row.col("version")?,
    })
}

async fn get_in(tx: &mut Tx<'_>, id: i64) -> Result<Contract> {
    let sql = format!("SELECT {CONTRACT_COLUMNS} {CONTRACT_FROM} WHERE c.id = $1");
    on_tx!(tx, |conn| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("contract"))?;
        contract(&row)
    })
}

/// The village of a live record, read in the transaction; a merged record is refused.
async fn live_village(tx: &mut Tx<'_>, resident_id: i64) -> Result<String> {
    let row: Option<(String, Option<i64>)> = on_tx!(tx, |conn| {
        sqlx::query_as("SELECT division_code, merged_into FROM resident WHERE id = $1")
            .bind(resident_id)
            .fetch_optional(&mut *conn)
            .await
    })?;
    match row {
        None => Err(StoreError::NotFound("resident")),
        Some((_, Some(into))) => Err(StoreError::Invalid(format!(
            "this record was merged into record {into}; sign on that one"
        ))),
        Some((division, None)) => Ok(division),
    }
}

/// The resident's active contract: (id, last day in force).
async fn active_of(tx: &mut Tx<'_>, resident_id: i64) -> Result<Option<(i64, NaiveDate)>> {
    on_tx!(tx, |conn| {
        sqlx::query_as(
            "SELECT id, ends_on FROM contract WHERE resident_id = $1 AND status = 'active'",
        )
        .bind(resident_id)
        .fetch_optional(&mut *conn)
        .await
    })
    .map_err(Into::into)
}

struct Insert<'a> {
    resident_id: i64,
    division: &'a str,
    team_id: i64,
    doctor_id: i64,
    package_id: i64,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    signature: &'a Signature,
    created_by: Option<i64>,
}

async fn insert(tx: &mut Tx<'_>, new: Insert<'_>) -> Result<i64> {
    let now = crate::now();
    on_tx!(tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO contract (resident_id, division_code, team_id, doctor_id, package_id, status, \
             starts_on, ends_on, signed_at, signature, created_by, created_at, version) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $8, 1) RETURNING id",
        )
        .bind(new.resident_id)
        .bind(new.division)
        .bind(new.team_id)
        .bind(new.doctor_id)
        .bind(new.package_id)
        .bind(new.starts_on)
        .bind(new.ends_on)
        .bind(now)
        .bind(new.signature.to_json())
        .bind(new.created_by)
        .fetch_one(&mut *conn)
        .await
    })
    .map_err(one_active)
}

async fn link(tx: &mut Tx<'_>, old: i64, new: i64) -> Result<()> {
    on_tx!(tx, |conn| {
        sqlx::query("UPDATE contract SET replaced_by = $1 WHERE id = $2")
            .bind(new)
            .bind(old)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })
    .map_err(Into::into)
}

/// End `id` if it is still active at `expected_version` (`None`: any version); the
/// conflict names what changed.
async fn close(
    tx: &mut Tx<'_>,
    id: i64,
    expected_version: Option<i64>,
    status: ContractStatus,
    ended_on: Option<NaiveDate>,
    reason: Option<&str>,
) -> Result<()> {
    let n = on_tx!(tx, |conn| {
        sqlx::query(
            "UPDATE contract SET status = $1, ended_on = $2, ended_reason = $3, version = version + 1 \
             WHERE id = $4 AND status = 'active' AND (version = $5 OR $5 < 0)",
        )
        .bind(status.as_str())
        .bind(ended_on)
        .bind(reason)
        .bind(id)
        .bind(expected_version.unwrap_or(-1))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n == 0 {
        return Err(StoreError::Conflict {
            constraint: "version: the contract changed since you opened it; reload and try again"
                .into(),
        });
    }
    Ok(())
}

/// Sign a contract, with `event` (the caller's `create`, with its access basis) appended in
/// the same transaction. See the module documentation for the one-active rule.
pub(crate) async fn sign(
    store: &Store,
    new: &NewContract,
    rules: &PeriodRules,
    created_by: Option<i64>,
    event: Event,
) -> Result<i64> {
    let signature = new.signature.checked()?;
    let ends_on = new
        .ends_on
        .unwrap_or_else(|| rules::default_end(new.starts_on, rules));
    rules::check_period(new.starts_on, ends_on, rules)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut tx = store.begin().await?;
    let division = live_village(&mut tx, new.resident_id).await?;
    check_team_doctor(&mut tx, new.team_id, new.doctor_id).await?;
    active_package(&mut tx, new.package_id).await?;
    let earlier = active_of(&mut tx, new.resident_id).await?;
    if let Some((id, last)) = earlier {
        if last >= new.starts_on {
            return Err(StoreError::Conflict {
                constraint: "contract_one_active".into(),
            });
        }
        close(&mut tx, id, None, ContractStatus::Ended, None, None).await?;
    }
    // A stopped or renewed contract may still be in force on the new dates.
    let overlap: Option<(i64, NaiveDate)> = on_tx!(&mut tx, |conn| {
        sqlx::query_as(
            "SELECT id, COALESCE(ended_on, ends_on) AS last_day FROM contract \
             WHERE resident_id = $1 AND status <> 'active' AND starts_on <= $2 \
             AND COALESCE(ended_on, ends_on) >= $3 AND COALESCE(ended_on, ends_on) >= starts_on \
             ORDER BY id DESC LIMIT 1",
        )
        .bind(new.resident_id)
        .bind(ends_on)
        .bind(new.starts_on)
        .fetch_optional(&mut *conn)
        .await
    })?;
    if let Some((id, last)) = overlap {
        return Err(StoreError::Invalid(format!(
            "contract {id} is in force until {last}: start on {} or later",
            last.succ_opt().unwrap_or(last)
        )));
    }
    let id = insert(
        &mut tx,
        Insert {
            resident_id: new.resident_id,
            division: &division,
            team_id: new.team_id,
            doctor_id: new.doctor_id,
            package_id: new.package_id,
            starts_on: new.starts_on,
            ends_on,
            signature: &signature,
            created_by,
        },
    )
    .await?;
    if let Some((old, _)) = earlier {
        link(&mut tx, old, id).await?;
    }
    let event = event.object("contract", id).resident(new.resident_id);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Renew an active contract (续约) inside the renewal window: the old one runs to its end
/// and the new one starts the day after (or today, when late). Returns the new contract.
pub(crate) async fn renew(
    store: &Store,
    id: i64,
    expected_version: i64,
    renewal: &Renewal,
    rules: &PeriodRules,
    created_by: Option<i64>,
    event: Event,
) -> Result<i64> {
    let signature = renewal.signature.checked()?;
    let mut tx = store.begin().await?;
    let old = get_in(&mut tx, id).await?;
    if old.status != ContractStatus::Active {
        return Err(StoreError::Invalid(format!(
            "only an active contract can be renewed; this one is {}",
            old.status.name_en()
        )));
    }
    rules::check_renewal(old.ends_on, renewal.today, rules)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let starts_on = rules::renewal_start(old.ends_on, renewal.today);
    let ends_on = renewal
        .ends_on
        .unwrap_or_else(|| rules::default_end(starts_on, rules));
    rules::check_period(starts_on, ends_on, rules)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let division = live_village(&mut tx, old.resident_id).await?;
    check_team_doctor(&mut tx, old.team_id, old.doctor_id).await?;
    let package_id = renewal.package_id.unwrap_or(old.package_id);
    active_package(&mut tx, package_id).await?;
    close(
        &mut tx,
        id,
        Some(expected_version),
        ContractStatus::Ended,
        None,
        None,
    )
    .await?;
    let new_id = insert(
        &mut tx,
        Insert {
            resident_id: old.resident_id,
            division: &division,
            team_id: old.team_id,
            doctor_id: old.doctor_id,
            package_id,
            starts_on,
            ends_on,
            signature: &signature,
            created_by,
        },
    )
    .await?;
    link(&mut tx, id, new_id).await?;
    let key = store.keys().audit_key();
    let ended = event
        .clone()
        .into_action(Action::Update)
        .object("contract", id)
        .resident(old.resident_id)
        .reason(&format!("renewed by contract {new_id}"));
    audit::append_in(&mut tx, key, &ended).await?;
    let created = event
        .into_action(Action::Create)
        .object("contract", new_id)
        .resident(old.resident_id)
        .reason(&format!("renewal of contract {id}"));
    audit::append_in(&mut tx, key, &created).await?;
    tx.commit().await?;
    Ok(new_id)
}

/// Move an active contract to another team or doctor (转签) from `on`: the old one ends the
/// day before with the reason, the new one runs to the old one's end (it continues the
/// signed term, so the one-year minimum applies to the term, not to the remainder).
pub(crate) async fn transfer(
    store: &Store,
    id: i64,
    expected_version: i64,
    transfer: &Transfer,
    created_by: Option<i64>,
    event: Event,
) -> Result<i64> {
    let reason = rules::reason(&transfer.reason).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    let signature = transfer
        .signature
        .as_ref()
        .map(Signature::checked)
        .transpose()?;
    let mut tx = store.begin().await?;
    let old = get_in(&mut tx, id).await?;
    if old.status != ContractStatus::Active {
        return Err(StoreError::Invalid(format!(
            "only an active contract can be transferred; this one is {}",
            old.status.name_en()
        )));
    }
    if transfer.on < old.starts_on || transfer.on > old.ends_on {
        return Err(StoreError::Invalid(format!(
            "a transfer takes effect within the contract's period, {} to {}",
            old.starts_on, old.ends_on
        )));
    }
    if transfer.team_id == old.team_id && transfer.doctor_id == old.doctor_id {
        return Err(StoreError::Invalid(
            "the contract is already with this team and doctor".into(),
        ));
    }
    check_team_doctor(&mut tx, transfer.team_id, transfer.doctor_id).await?;
    let division = live_village(&mut tx, old.resident_id).await?;
    let last_day = transfer.on - Duration::days(1);
    close(
        &mut tx,
        id,
        Some(expected_version),
        ContractStatus::Transferred,
        Some(last_day),
        Some(&reason),
    )
    .await?;
    let signature = signature.unwrap_or_else(|| old.signature.clone());
    let new_id = insert(
        &mut tx,
        Insert {
            resident_id: old.resident_id,
            division: &division,
            team_id: transfer.team_id,
            doctor_id: transfer.doctor_id,
            package_id: old.package_id,
            starts_on: transfer.on,
            ends_on: old.ends_on,
            signature: &signature,
            created_by,
        },
    )
    .await?;
    link(&mut tx, id, new_id).await?;
    let key = store.keys().audit_key();
    let ended = event
        .clone()
        .into_action(Action::Update)
        .object("contract", id)
        .resident(old.resident_id)
        .reason(&format!("transferred to contract {new_id}: {reason}"));
    audit::append_in(&mut tx, key, &ended).await?;
    let created = event
        .into_action(Action::Create)
        .object("contract", new_id)
        .resident(old.resident_id)
        .reason(&format!("transfer of contract {id}"));
    audit::append_in(&mut tx, key, &created).await?;
    tx.commit().await?;
    Ok(new_id)
}

/// Terminate an active contract (解约) with a reason; `on` is its last day in force (a
/// day after its end is taken as the end).
pub(crate) async fn terminate(
    store: &Store,
    id: i64,
    expected_version: i64,
    reason: &str,
    on: NaiveDate,
    event: Event,
) -> Result<()> {
    let reason = rules::reason(reason).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    let mut tx = store.begin().await?;
    let old = get_in(&mut tx, id).await?;
    if old.status != ContractStatus::Active {
        return Err(StoreError::Invalid(format!(
            "only an active contract can be terminated; this one is {}",
            old.status.name_en()
        )));
    }
    close(
        &mut tx,
        id,
        Some(expected_version),
        ContractStatus::Terminated,
        Some(on.min(old.ends_on)),
        Some(&reason),
    )
    .await?;
    let event = event
        .into_action(Action::Update)
        .object("contract", id)
        .resident(old.resident_id)
        .reason(&format!("terminated: {reason}"));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Record a service delivered under a contract (履约): an item of its package, on a day the
/// contract was in force and not in the future, optionally with the encounter that
/// delivered it (which must be the resident's).
pub(crate) async fn record_service(
    store: &Store,
    contract_id: i64,
    new: &NewService,
    recorded_by: Option<i64>,
    event: Event,
) -> Result<i64> {
    let mut tx = store.begin().await?;
    let c = get_in(&mut tx, contract_id).await?;
    let items: String = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar("SELECT items FROM service_package WHERE id = $1")
            .bind(c.package_id)
            .fetch_one(&mut *conn)
            .await
    })?;
    let code = new.item_code.trim();
    if !items_of(&items)?.iter().any(|i| i.code == code) {
        return Err(StoreError::Invalid(format!(
            "{code} is not an item of this contract's package ({})",
            c.package_name
        )));
    }
    if new.delivered_on > new.today {
        return Err(StoreError::Invalid(
            "a service cannot be recorded for a day in the future".into(),
        ));
    }
    if !c.in_force_on(new.delivered_on) {
        return Err(StoreError::Invalid(format!(
            "the contract was in force from {} to {}; {} is outside",
            c.starts_on,
            c.last_day(),
            new.delivered_on
        )));
    }
    if let Some(encounter_id) = new.encounter_id {
        let owner: Option<i64> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar(
                "SELECT r.id FROM encounter e JOIN resident r ON r.id = e.resident_id \
                 WHERE e.id = $1 AND (r.id = $2 OR r.merged_into = $2) AND e.voided_at IS NULL",
            )
            .bind(encounter_id)
            .bind(c.resident_id)
            .fetch_optional(&mut *conn)
            .await
        })?;
        if owner.is_none() {
            return Err(StoreError::Invalid(format!(
                "encounter {encounter_id} is not one of this resident's"
            )));
        }
    }
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO contract_service (contract_id, item_code, delivered_on, encounter_id, recorded_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(contract_id)
        .bind(code)
        .bind(new.delivered_on)
        .bind(new.encounter_id)
        .bind(recorded_by)
        .bind(crate::now())
        .fetch_one(&mut *conn)
        .await
    })?;
    let event = event
        .object("contract_service", id)
        .resident(c.resident_id)
        .reason(&format!("contract {contract_id}"));
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Close every active contract whose last day is before `today` (到期), as the scheduled
/// job does; each keeps `replaced_by` empty, so it counts as due but not renewed. Audited
/// as one system `update` with the count.
pub async fn close_expired(store: &Store, today: NaiveDate, by: &Who) -> Result<u64> {
    let mut tx = store.begin().await?;
    let n = on_tx!(&mut tx, |conn| {
        sqlx::query(
            "UPDATE contract SET status = 'ended', ended_reason = 'expired', version = version + 1 \
             WHERE status = 'active' AND ends_on < $1",
        )
        .bind(today)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected())
    })?;
    if n > 0 {
        let event = Event::new(by.clone(), Action::Update)
            .object("contract", "expired")
            .reason(&format!("{n} contracts reached their end"));
        audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// The resident a contract belongs to: no content, so no check (like
/// [`crate::resident::scope`]); the caller checks access to that resident.
pub async fn resident_of(store: &Store, contract_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT resident_id FROM contract WHERE id = $1")
            .bind(contract_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("contract"))
}

/// The team of a contract: no content, for the access check of a change.
pub async fn team_of(store: &Store, contract_id: i64) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT team_id FROM contract WHERE id = $1")
            .bind(contract_id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("contract"))
}

/// Whether `institution_id` holds an active contract with the resident that has not run
/// past its end: the `contract` tie of [`crate::access`].
pub(crate) async fn institution_holds(
    store: &Store,
    institution_id: i64,
    resident_id: i64,
    today: NaiveDate,
) -> Result<bool> {
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM contract c JOIN fd_team t ON t.id = c.team_id \
             WHERE c.resident_id = $1 AND c.status = 'active' AND c.ends_on >= $2 \
             AND t.institution_id = $3",
        )
        .bind(resident_id)
        .bind(today)
        .bind(institution_id)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

/// Whether `user` acts for a team: a member of it, or staff of its institution.
pub async fn acts_for_team(
    store: &Store,
    team_id: i64,
    user_id: i64,
    institution_id: Option<i64>,
) -> Result<bool> {
    let n: i64 = on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM fd_team t WHERE t.id = $1 AND (t.institution_id = $2 OR EXISTS \
             (SELECT 1 FROM fd_team_member m WHERE m.team_id = t.id AND m.user_id = $3))",
        )
        .bind(team_id)
        .bind(institution_id.unwrap_or(-1))
        .bind(user_id)
        .fetch_one(pool)
        .await
    })?;
    Ok(n > 0)
}

pub(crate) async fn get(store: &Store, id: i64) -> Result<Contract> {
    let sql = format!("SELECT {CONTRACT_COLUMNS} {CONTRACT_FROM} WHERE c.id = $1");
    on_pool!(store, |pool| {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("contract"))?;
        contract(&row)
    })
}

/// A resident's contracts (and those of records merged into it), newest first; only
/// those of `status` when given.
pub(crate) async fn of_resident(
    store: &Store,
    resident_id: i64,
    status: Option<ContractStatus>,
) -> Result<Vec<Contract>> {
    let sql = format!(
        "SELECT {CONTRACT_COLUMNS} {CONTRACT_FROM} WHERE c.resident_id IN \
         (SELECT id FROM resident WHERE id = $1 OR merged_into = $1) AND (c.status = $2 OR $2 = '') \
         ORDER BY c.starts_on DESC, c.id DESC"
    );
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(resident_id)
            .bind(status.map_or("", ContractStatus::as_str))
            .fetch_all(pool)
            .await?;
        rows.iter().map(contract).collect()
    })
}

/// One row of a team's contract list: the contract and the resident's name and village.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamContract {
    pub contract: Contract,
    pub resident_name: String,
    pub village_name: String,
}

/// A team's contracts, active first then by end date; with the total.
pub(crate) async fn of_team(
    store: &Store,
    team_id: i64,
    active_only: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<TeamContract>, i64)> {
    let filter = "c.team_id = $1 AND (c.status = 'active' OR NOT $2)";
    let sql = format!(
        "SELECT {CONTRACT_COLUMNS}, r.name AS resident_name, d.name AS village_name {CONTRACT_FROM} \
         JOIN resident r ON r.id = c.resident_id JOIN division d ON d.code = r.division_code \
         WHERE {filter} ORDER BY c.status = 'active' DESC, c.ends_on, c.id LIMIT $3 OFFSET $4"
    );
    let count_sql = format!("SELECT COUNT(*) FROM contract c WHERE {filter}");
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(team_id)
            .bind(active_only)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(team_id)
            .bind(active_only)
            .fetch_one(pool)
            .await?;
        let list = rows
            .iter()
            .map(|r| {
                Ok(TeamContract {
                    contract: contract(r)?,
                    resident_name: r.col("resident_name")?,
                    village_name: r.col("village_name")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    })
}

/// The services recorded under a contract, newest first.
pub(crate) async fn services(store: &Store, contract_id: i64) -> Result<Vec<Service>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT s.id, s.contract_id, s.item_code, s.delivered_on, s.encounter_id, s.recorded_by, \
             u.display_name AS recorded_by_name, s.recorded_at FROM contract_service s \
             LEFT JOIN app_user u ON u.id = s.recorded_by WHERE s.contract_id = $1 \
             ORDER BY s.delivered_on DESC, s.id DESC",
        )
        .bind(contract_id)
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Service {
                    id: r.col("id")?,
                    contract_id: r.col("contract_id")?,
                    item_code: r.col("item_code")?,
                    delivered_on: r.col("delivered_on")?,
                    encounter_id: r.col("encounter_id")?,
                    recorded_by: r.col("recorded_by")?,
                    recorded_by_name: r.col("recorded_by_name")?,
                    recorded_at: r.col("recorded_at")?,
                })
            })
            .collect()
    })
}

/// 履约 of a contract in the contract year containing `on`.
pub(crate) async fn fulfilment(store: &Store, c: &Contract, on: NaiveDate) -> Result<Fulfilment> {
    let package = get_package(store, c.package_id).await?;
    let delivered = services(store, c.id).await?;
    let (from, to) = rules::contract_year(c.starts_on, c.last_day(), on);
    let pairs: Vec<(&str, NaiveDate)> = delivered
        .iter()
        .map(|s| (s.item_code.as_str(), s.delivered_on))
        .collect();
    Ok(Fulfilment {
        from,
        to,
        items: rules::fulfilment(&package.items, &pairs, from, to),
    })
}

/// The teams that held (or hold) a resident's contracts, newest contract first, without
/// repeats.
pub(crate) async fn teams_of_resident(store: &Store, resident_id: i64) -> Result<Vec<Team>> {
    let mut out: Vec<Team> = Vec::new();
    for c in of_resident(store, resident_id, None).await? {
        if !out.iter().any(|t| t.id == c.team_id) {
            out.push(get_team(store, c.team_id).await?);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Coverage (签约服务覆盖率, 重点人群签约服务覆盖率, 续签率)

/// Counts of one division on one day: live records, those under contract, and the same per
/// key group. No personal data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoverageRow {
    /// The division's code (a child of the root asked for, or the root itself).
    pub code: String,
    pub residents: i64,
    pub signed: i64,
    /// Residents in at least one key group, and those of them under contract.
    pub key_residents: i64,
    pub key_signed: i64,
    /// Per key group (in `yiwei_domain::contract::KEY_POPULATIONS` order): residents and
    /// those under contract.
    pub groups: Vec<(KeyGroup, i64, i64)>,
}

impl CoverageRow {
    /// The sum of rows (the root's figures from its children's).
    pub fn total(code: &str, rows: &[CoverageRow]) -> CoverageRow {
        let mut t = CoverageRow {
            code: code.to_owned(),
            groups: rules::KEY_POPULATIONS.iter().map(|g| (*g, 0, 0)).collect(),
            ..CoverageRow::default()
        };
        for r in rows {
            t.residents += r.residents;
            t.signed += r.signed;
            t.key_residents += r.key_residents;
            t.key_signed += r.key_signed;
            for (sum, g) in t.groups.iter_mut().zip(&r.groups) {
                sum.1 += g.1;
                sum.2 += g.2;
            }
        }
        t
    }
}

/// The SQL condition that a resident `r` is in `group` on the day bound at `$3`, with the
/// age cut-offs bound at `$4` (65 years) and `$5` (7 years).
fn group_condition(group: KeyGroup) -> String {
    match group {
        KeyGroup::Elderly65 => "r.birth_date <= $4".to_owned(),
        KeyGroup::Child0to6 => "(r.birth_date > $5 AND r.birth_date <= $3)".to_owned(),
        other => format!(
            "(',' || r.key_groups || ',') LIKE '%,{},%' ESCAPE '\\'",
            other.code().replace('_', "\\_")
        ),
    }
}

/// Coverage on `on` per child division of `root` (per village for a township, per township
/// for a county; the village itself for a village), from the live records by their current
/// village. One set-based query; a contract counts when it was in force that day.
pub async fn coverage(
    store: &Store,
    root: &DivisionCode,
    on: NaiveDate,
) -> Result<Vec<CoverageRow>> {
    let digits = root
        .level()
        .child()
        .map_or(root.as_str().len(), |l| l.digits()) as i64;
    let (low, high) = root.subtree_range();
    let groups = rules::KEY_POPULATIONS;
    let conditions: Vec<String> = groups.iter().map(|g| group_condition(*g)).collect();
    let mut inner = vec![
        "r.division_code".to_owned(),
        "CASE WHEN EXISTS (SELECT 1 FROM contract c WHERE c.resident_id = r.id AND c.starts_on <= $3 \
         AND COALESCE(c.ended_on, c.ends_on) >= $3 AND c.ends_on >= $3) THEN 1 ELSE 0 END AS s"
            .to_owned(),
        format!("CASE WHEN {} THEN 1 ELSE 0 END AS k", conditions.join(" OR ")),
    ];
    let mut outer = vec![
        "substr(t.division_code, 1, CAST($6 AS INTEGER)) AS child".to_owned(),
        "COUNT(*) AS residents".to_owned(),
        "SUM(t.s) AS signed".to_owned(),
        "SUM(t.k) AS key_residents".to_owned(),
        "SUM(t.k * t.s) AS key_signed".to_owned(),
    ];
    for (n, condition) in conditions.iter().enumerate() {
        inner.push(format!("CASE WHEN {condition} THEN 1 ELSE 0 END AS g{n}"));
        outer.push(format!("SUM(t.g{n}) AS g{n}"));
        outer.push(format!("SUM(t.g{n} * t.s) AS g{n}s"));
    }
    let sql = format!(
        "SELECT {} FROM (SELECT {} FROM resident r WHERE r.division_code >= $1 AND r.division_code < $2 \
         AND r.merged_into IS NULL) t GROUP BY child ORDER BY child",
        outer.join(", "),
        inner.join(", ")
    );
    let cut65 = rules::age_cutoff(on, 65);
    let cut7 = rules::age_cutoff(on, 7);
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(on)
            .bind(cut65)
            .bind(cut7)
            .bind(digits)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| {
                let mut out = CoverageRow {
                    code: r.col("child")?,
                    residents: r.col("residents")?,
                    signed: r.col("signed")?,
                    key_residents: r.col("key_residents")?,
                    key_signed: r.col("key_signed")?,
                    groups: Vec::with_capacity(groups.len()),
                };
                for (n, g) in groups.iter().enumerate() {
                    out.groups
                        .push((*g, r.col(&format!("g{n}"))?, r.col(&format!("g{n}s"))?));
                }
                Ok(out)
            })
            .collect()
    })
}

/// 续签率 inputs for the live records inside `root`: contracts whose signed end falls in
/// `[from, to]` and that ran to it (active past its end, or ended), and how many of them
/// were renewed (ended with a successor). Terminated and transferred contracts count in
/// neither.
pub async fn renewals(
    store: &Store,
    root: &DivisionCode,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(i64, i64)> {
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        let row = sqlx::query(
            "SELECT COUNT(*) AS due, \
             SUM(CASE WHEN c.status = 'ended' AND c.replaced_by IS NOT NULL THEN 1 ELSE 0 END) AS renewed \
             FROM contract c JOIN resident r ON r.id = c.resident_id \
             WHERE r.division_code >= $1 AND r.division_code < $2 AND r.merged_into IS NULL \
             AND c.status IN ('active', 'ended') AND c.ends_on >= $3 AND c.ends_on <= $4",
        )
        .bind(&low)
        .bind(&high)
        .bind(from)
        .bind(to)
        .fetch_one(pool)
        .await?;
        let due: i64 = row.col("due")?;
        let renewed: Option<i64> = row.col("renewed")?;
        Ok((due, renewed.unwrap_or(0)))
    })
}

/// The coverage figures of a division on a day: its own (the sum of its children's), its
/// children's, and 续签率 over the year that ends that day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    pub on: NaiveDate,
    pub root: CoverageRow,
    pub children: Vec<CoverageRow>,
    /// The first day of the renewal period (the period ends on `on`).
    pub renewals_from: NaiveDate,
    pub renewals_due: i64,
    pub renewed: i64,
}

/// [`coverage`] and [`renewals`] of `root` on `on`.
pub async fn report(store: &Store, root: &DivisionCode, on: NaiveDate) -> Result<Coverage> {
    let children = coverage(store, root, on).await?;
    let total = CoverageRow::total(root.as_str(), &children);
    let renewals_from = on
        .checked_sub_months(chrono::Months::new(12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(on);
    let (renewals_due, renewed) = renewals(store, root, renewals_from, on).await?;
    Ok(Coverage {
        on,
        root: total,
        children,
        renewals_from,
        renewals_due,
        renewed,
    })
}

/// A contract for [`insert_batch`]: a demo county's or a migration's, already checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkContract {
    pub resident_id: i64,
    /// The resident's village.
    pub division: String,
    pub team_id: i64,
    pub doctor_id: i64,
    pub package_id: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Who witnessed the paper signature.
    pub witness: String,
}

/// Insert many contracts in one transaction with multi-row INSERTs (the demo county and
/// migrations from another system), active when in force on `today`, else ended. The rule
/// of one active contract per resident still holds (the unique index refuses a second).
/// Audited as one `contract_batch` event naming the count.
pub async fn insert_batch(
    store: &Store,
    rows: &[BulkContract],
    today: NaiveDate,
    by: &Who,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    const WIDTH: usize = 11;
    let per_statement = (crate::resident::max_params(store) / WIDTH).min(2000);
    let backend = store.backend();
    let now = crate::now();
    let mut tx = store.begin().await?;
    for chunk in rows.chunks(per_statement) {
        let sql = format!(
            "INSERT INTO contract (resident_id, division_code, team_id, doctor_id, package_id, \
             status, starts_on, ends_on, signed_at, signature, created_at) VALUES {}",
            crate::resident::values_list(backend, chunk.len(), WIDTH)
        );
        on_tx!(&mut tx, |conn| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for r in chunk {
                let signature = Signature {
                    on_paper: true,
                    witness: r.witness.clone(),
                    drawing: None,
                };
                let status = if r.ends_on >= today {
                    "active"
                } else {
                    "ended"
                };
                let signed_at = r
                    .starts_on
                    .and_hms_opt(10, 0, 0)
                    .map_or(now, |t| t.and_utc());
                q = q
                    .bind(r.resident_id)
                    .bind(&r.division)
                    .bind(r.team_id)
                    .bind(r.doctor_id)
                    .bind(r.package_id)
                    .bind(status)
                    .bind(r.starts_on)
                    .bind(r.ends_on)
                    .bind(signed_at)
                    .bind(signature.to_json())
                    .bind(now);
            }
            q.execute(&mut *conn).await.map(|_| ())
        })?;
    }
    let event = Event::new(by.clone(), Action::Create).object("contract_batch", rows.len());
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(rows.len() as u64)
}
