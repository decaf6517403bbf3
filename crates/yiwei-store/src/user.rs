//! Users (用户), passwords and logins.
//!
//! Passwords are hashed with argon2id (the `argon2` crate's defaults: m = 19 MiB, t = 2,
//! p = 1, the OWASP baseline) on a blocking thread. A login for an unknown name still
//! verifies against a fixed hash, so timing does not reveal which names exist. Failed
//! logins count towards the lockout rule of `yiwei_domain::lockout`; every login and
//! failed login is audited.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use yiwei_domain::access::{Actor, Role};
use yiwei_domain::division::DivisionCode;
use yiwei_domain::lockout::{LockoutPolicy, LoginState};

use crate::audit::{self, Action, Event, Who};
use crate::crypto::Field;
use crate::{Backend, Result, Row, Store, StoreError, on_pool, on_tx};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub institution_id: Option<i64>,
    /// Root of the user's division subtree.
    pub reach: DivisionCode,
    /// For a resident's own account.
    pub resident_id: Option<i64>,
    pub disabled: bool,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub has_phone: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor {
            role: self.role,
            reach: self.reach.clone(),
            own_resident: self.resident_id,
        }
    }

    pub fn who(&self) -> Who {
        Who {
            user_id: Some(self.id),
            username: Some(self.username.clone()),
            role: Some(self.role.as_str().to_owned()),
            institution_id: self.institution_id,
        }
    }
}

/// A user to add.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub institution_id: Option<i64>,
    pub reach: DivisionCode,
    pub resident_id: Option<i64>,
    pub password: String,
    pub phone: Option<String>,
}

pub(crate) fn user(row: &impl Row) -> Result<User> {
    let role: String = row.col("role")?;
    let reach: String = row.col("reach_code")?;
    let phone_hash: Option<Vec<u8>> = row.col("phone_hash")?;
    Ok(User {
        id: row.col("id")?,
        username: row.col("username")?,
        display_name: row.col("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Other(format!("unknown role {role:?}")))?,
        institution_id: row.col("institution_id")?,
        reach: DivisionCode::parse(&reach)
            .map_err(|_| StoreError::Other("stored user has a bad reach code".into()))?,
        resident_id: row.col("resident_id")?,
        disabled: row.col("disabled")?,
        failed_logins: row.col("failed_logins")?,
        locked_until: row.col("locked_until")?,
        has_phone: phone_hash.is_some(),
        created_at: row.col("created_at")?,
    })
}

/// Check a username: 3 to 32 characters of ASCII letters, digits, `.`, `_` or `-`.
pub fn check_username(name: &str) -> Result<()> {
    let ok = (3..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "a username has 3 to 32 letters, digits, '.', '_' or '-'".into(),
        ))
    }
}

/// Check a new password against the policy.
pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StoreError::Invalid(format!(
            "a password has at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Hash a password with argon2id on a blocking thread.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| StoreError::Other(format!("password hashing task failed: {e}")))?
}

/// Verify a password against a stored argon2 hash on a blocking thread.
pub async fn verify_password(password: &str, stored: &str) -> bool {
    let password = password.to_owned();
    let stored = stored.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A valid argon2id hash of a random string, verified against when the username is
/// unknown so that the answer takes as long as for a real account.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$FmfZgRBt5mljcEp1axS7gDsJlCcrqv9JrOkYXJ6Atp4";

/// Add a user (audited as `user_admin` by `by`).
pub async fn add(store: &Store, new: &NewUser, by: &Who) -> Result<User> {
    check_username(&new.username)?;
    check_password(&new.password)?;
    if new.display_name.trim().is_empty() {
        return Err(StoreError::Invalid("a user needs a display name".into()));
    }
    if new.role == Role::Resident && new.resident_id.is_none() {
        return Err(StoreError::Invalid(
            "a resident account must name its resident".into(),
        ));
    }
    let hash = hash_password(&new.password).await?;
    let phone = new.phone.as_deref().filter(|p| !p.trim().is_empty());
    let phone_enc = phone.map(|p| {
        store
            .keys()
            .encrypt(Field::Phone, &Field::Phone.normalise(p))
    });
    let phone_hash = phone.map(|p| store.keys().lookup_hash(Field::Phone, p));
    let now = crate::now();
    let mut tx = store.begin().await?;
    let id: i64 = on_tx!(&mut tx, |conn| {
        sqlx::query_scalar(
            "INSERT INTO app_user (username, display_name, role, institution_id, reach_code, \
             resident_id, password_hash, phone_enc, phone_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(&new.username)
        .bind(new.display_name.trim())
        .bind(new.role.as_str())
        .bind(new.institution_id)
        .bind(new.reach.as_str())
        .bind(new.resident_id)
        .bind(&hash)
        .bind(phone_enc)
        .bind(phone_hash)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    })?;
    let event = Event::new(by.clone(), Action::UserAdmin)
        .object("user", id)
        .reason("added");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    get(store, id).await
}

pub async fn get(store: &Store, id: i64) -> Result<User> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM app_user WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        user(&row)
    })
}

pub async fn by_username(store: &Store, username: &str) -> Result<User> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM app_user WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        user(&row)
    })
}

/// Users whose phone number is `phone`, found through the keyed hash.
pub async fn by_phone(store: &Store, phone: &str) -> Result<Vec<User>> {
    let hash = store.keys().lookup_hash(Field::Phone, phone);
    on_pool!(store, |pool| {
        let rows = sqlx::query("SELECT * FROM app_user WHERE phone_hash = $1 ORDER BY id")
            .bind(hash)
            .fetch_all(pool)
            .await?;
        rows.iter().map(user).collect()
    })
}

/// The decrypted phone number of a user (for an audited reveal).
pub async fn phone(store: &Store, id: i64) -> Result<Option<String>> {
    let blob: Option<Vec<u8>> = on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT phone_enc FROM app_user WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await
    })?
    .ok_or(StoreError::NotFound("user"))?;
    blob.map(|b| store.keys().decrypt(Field::Phone, &b))
        .transpose()
}

/// All users, by username, with the total.
pub async fn list(store: &Store, limit: i64, offset: i64) -> Result<(Vec<User>, i64)> {
    on_pool!(store, |pool| {
        let rows = sqlx::query("SELECT * FROM app_user ORDER BY username LIMIT $1 OFFSET $2")
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_user")
            .fetch_one(pool)
            .await?;
        Ok((rows.iter().map(user).collect::<Result<Vec<_>>>()?, total))
    })
}

/// Which staff a directory search returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaffFilter {
    pub institution_id: Option<i64>,
    pub role: Option<Role>,
    /// Part of the display name or the username.
    pub name: Option<String>,
}

/// The staff directory (every account but residents' own), by username, with the total:
/// what FHIR Practitioner and PractitionerRole serve. Staff names and roles are not
/// residents' personal data; phones are not returned.
pub async fn staff(
    store: &Store,
    filter: &StaffFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64)> {
    let mut conditions = vec!["role <> 'resident'".to_owned()];
    let mut n = 0;
    if filter.institution_id.is_some() {
        n += 1;
        conditions.push(format!("institution_id = ${n}"));
    }
    if filter.role.is_some() {
        n += 1;
        conditions.push(format!("role = ${n}"));
    }
    let pattern = filter.name.as_deref().map(|t| format!("%{}%", t.trim()));
    if pattern.is_some() {
        n += 1;
        conditions.push(format!("(display_name LIKE ${n} OR username LIKE ${n})"));
    }
    let where_sql = conditions.join(" AND ");
    let list_sql = format!(
        "SELECT * FROM app_user WHERE {where_sql} ORDER BY username LIMIT ${} OFFSET ${}",
        n + 1,
        n + 2
    );
    let count_sql = format!("SELECT COUNT(*) FROM app_user WHERE {where_sql}");
    on_pool!(store, |pool| {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()));
        let mut c = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql.as_str()));
        if let Some(i) = filter.institution_id {
            q = q.bind(i);
            c = c.bind(i);
        }
        if let Some(r) = filter.role {
            q = q.bind(r.as_str());
            c = c.bind(r.as_str());
        }
        if let Some(p) = &pattern {
            q = q.bind(p.clone());
            c = c.bind(p.clone());
        }
        let rows = q.bind(limit).bind(offset).fetch_all(pool).await?;
        let total = c.fetch_one(pool).await?;
        Ok((rows.iter().map(user).collect::<Result<Vec<_>>>()?, total))
    })
}

/// Disable or re-enable a user. Disabling ends their sessions and API tokens at once.
pub async fn set_disabled(store: &Store, id: i64, disabled: bool, by: &Who) -> Result<()> {
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        let changed =
            sqlx::query("UPDATE app_user SET disabled = $1, updated_at = $2 WHERE id = $3")
                .bind(disabled)
                .bind(crate::now())
                .bind(id)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        if disabled {
            sqlx::query("DELETE FROM web_session WHERE user_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "UPDATE api_token SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(crate::now())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        Ok::<_, StoreError>(changed)
    })?;
    if changed == 0 {
        return Err(StoreError::NotFound("user"));
    }
    let what = if disabled { "disabled" } else { "enabled" };
    let event = Event::new(by.clone(), Action::UserAdmin)
        .object("user", id)
        .reason(what);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await
}

/// Set a new password, clear the lockout and end the user's sessions.
pub async fn reset_password(store: &Store, id: i64, password: &str, by: &Who) -> Result<()> {
    check_password(password)?;
    let hash = hash_password(password).await?;
    let mut tx = store.begin().await?;
    let changed = on_tx!(&mut tx, |conn| {
        let changed = sqlx::query(
            "UPDATE app_user SET password_hash = $1, failed_logins = 0, locked_until = NULL, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(&hash)
        .bind(crate::now())
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM web_session WHERE user_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok::<_, StoreError>(changed)
    })?;
    if changed == 0 {
        return Err(StoreError::NotFound("user"));
    }
    let event = Event::new(by.clone(), Action::UserAdmin)
        .object("user", id)
        .reason("password reset");
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await
}

/// How a login attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    Ok(User),
    /// Wrong name or password; the two are not told apart.
    WrongCredentials,
    /// Too many failures; try again after the time given.
    Locked {
        until: DateTime<Utc>,
    },
    /// The account was disabled by an administrator.
    Disabled,
}

/// Check a username and password, apply the lockout rule and audit the attempt.
pub async fn login(
    store: &Store,
    username: &str,
    password: &str,
    policy: LockoutPolicy,
    remote_addr: Option<String>,
) -> Result<LoginOutcome> {
    let found = match by_username(store, username).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let stored_hash: Option<String> = match &found {
        Some(u) => on_pool!(store, |pool| {
            sqlx::query_scalar("SELECT password_hash FROM app_user WHERE id = $1")
                .bind(u.id)
                .fetch_optional(pool)
                .await
        })?,
        None => None,
    };
    let password_ok = verify_password(password, stored_hash.as_deref().unwrap_or(DECOY_HASH)).await;
    let Some(user) = found else {
        let who = Who {
            username: Some(truncate(username, 64)),
            ..Who::default()
        };
        let event = Event::new(who, Action::LoginFailed)
            .outcome("failed")
            .reason("unknown user")
            .from_addr(remote_addr);
        audit::append(store, &event).await?;
        return Ok(LoginOutcome::WrongCredentials);
    };
    let now = crate::now();
    let mut tx = store.begin().await?;
    let lock_sql = match store.backend() {
        Backend::Sqlite => "SELECT failed_logins, locked_until FROM app_user WHERE id = $1",
        Backend::Postgres => {
            "SELECT failed_logins, locked_until FROM app_user WHERE id = $1 FOR UPDATE"
        }
    };
    let state: LoginState = on_tx!(&mut tx, |conn| {
        let row = sqlx::query(lock_sql)
            .bind(user.id)
            .fetch_one(&mut *conn)
            .await?;
        let failures: i64 = row.col("failed_logins")?;
        Ok::<_, StoreError>(LoginState {
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
            locked_until: row.col("locked_until")?,
        })
    })?;
    let (outcome, new_state, reason) = if user.disabled {
        (LoginOutcome::Disabled, state, "disabled")
    } else if let Some(until) = state.locked_at(now) {
        (LoginOutcome::Locked { until }, state, "locked")
    } else if password_ok {
        (LoginOutcome::Ok(user.clone()), state.after_success(), "")
    } else {
        let next = state.after_failure(now, policy);
        match next.locked_at(now) {
            Some(until) => (
                LoginOutcome::Locked { until },
                next,
                "wrong password; now locked",
            ),
            None => (LoginOutcome::WrongCredentials, next, "wrong password"),
        }
    };
    on_tx!(&mut tx, |conn| {
        sqlx::query("UPDATE app_user SET failed_logins = $1, locked_until = $2 WHERE id = $3")
            .bind(i64::from(new_state.failures))
            .bind(new_state.locked_until)
            .bind(user.id)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
    })?;
    let event = match &outcome {
        LoginOutcome::Ok(_) => Event::new(user.who(), Action::Login),
        _ => Event::new(user.who(), Action::LoginFailed)
            .outcome("failed")
            .reason(reason),
    }
    .from_addr(remote_addr);
    audit::append_in(&mut tx, store.keys().audit_key(), &event).await?;
    tx.commit().await?;
    Ok(match outcome {
        LoginOutcome::Ok(_) => LoginOutcome::Ok(get(store, user.id).await?),
        other => other,
    })
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
