//! Divisions (行政区划): the county, its townships and villages.

use yiwei_domain::division::{DivisionCode, Level};

use crate::{Result, Row, Store, StoreError, on_pool};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Division {
    pub code: DivisionCode,
    pub parent: Option<DivisionCode>,
    pub level: Level,
    pub name: String,
    pub name_en: String,
}

fn division(row: &impl Row) -> Result<Division> {
    let code: String = row.col("code")?;
    let parent: Option<String> = row.col("parent_code")?;
    let level: String = row.col("level")?;
    let bad = |what: &str| StoreError::Other(format!("stored division has a bad {what}"));
    Ok(Division {
        code: DivisionCode::parse(&code).map_err(|_| bad("code"))?,
        parent: parent
            .map(|p| DivisionCode::parse(&p))
            .transpose()
            .map_err(|_| bad("parent"))?,
        level: Level::parse(&level).ok_or_else(|| bad("level"))?,
        name: row.col("name")?,
        name_en: row.col("name_en")?,
    })
}

/// Insert a division or update its names. Its parent must already exist (except for the
/// top division of the database, usually the county).
pub async fn upsert(store: &Store, d: &Division) -> Result<()> {
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO division (code, parent_code, level, name, name_en) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, name_en = excluded.name_en",
        )
        .bind(d.code.as_str())
        .bind(d.parent.as_ref().map(DivisionCode::as_str))
        .bind(d.level.as_str())
        .bind(&d.name)
        .bind(&d.name_en)
        .execute(pool)
        .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

pub async fn get(store: &Store, code: &DivisionCode) -> Result<Division> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM division WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("division"))?;
        division(&row)
    })
}

/// The direct children of `code`, by code.
pub async fn children(store: &Store, code: &DivisionCode) -> Result<Vec<Division>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query("SELECT * FROM division WHERE parent_code = $1 ORDER BY code")
            .bind(code.as_str())
            .fetch_all(pool)
            .await?;
        rows.iter().map(division).collect()
    })
}

/// Divisions inside `root` (itself included) whose name contains `name` (all if empty),
/// optionally at one level, by code.
pub async fn search(
    store: &Store,
    root: &DivisionCode,
    name: &str,
    level: Option<Level>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Division>> {
    let (low, high) = root.subtree_range();
    let pattern = format!("%{}%", name.replace(['%', '_'], ""));
    on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT * FROM division WHERE code >= $1 AND code < $2 AND name LIKE $3 \
             AND ($4 IS NULL OR level = $4) ORDER BY code LIMIT $5 OFFSET $6",
        )
        .bind(&low)
        .bind(&high)
        .bind(&pattern)
        .bind(level.map(Level::as_str))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
        rows.iter().map(division).collect()
    })
}

/// Number of divisions inside `root`, itself included.
pub async fn count_within(store: &Store, root: &DivisionCode) -> Result<i64> {
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        sqlx::query_scalar("SELECT COUNT(*) FROM division WHERE code >= $1 AND code < $2")
            .bind(&low)
            .bind(&high)
            .fetch_one(pool)
            .await
    })
    .map_err(Into::into)
}

/// Number of divisions at `level` inside `root`.
pub async fn count_at_level(store: &Store, root: &DivisionCode, level: Level) -> Result<i64> {
    let (low, high) = root.subtree_range();
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM division WHERE code >= $1 AND code < $2 AND level = $3",
        )
        .bind(&low)
        .bind(&high)
        .bind(level.as_str())
        .fetch_one(pool)
        .await
    })
    .map_err(Into::into)
}

/// Set the 常住人口 of a division for a year (replacing an earlier figure).
pub async fn set_population(
    store: &Store,
    code: &DivisionCode,
    year: i32,
    population: i64,
) -> Result<()> {
    if population < 0 {
        return Err(StoreError::Invalid(
            "a population cannot be negative".into(),
        ));
    }
    on_pool!(store, |pool| {
        sqlx::query(
            "INSERT INTO division_population (code, year, population) VALUES ($1, $2, $3) \
             ON CONFLICT (code, year) DO UPDATE SET population = excluded.population",
        )
        .bind(code.as_str())
        .bind(i64::from(year))
        .bind(population)
        .execute(pool)
        .await
        .map(|_| ())
    })?;
    Ok(())
}

/// The 常住人口 of `root` for `year`: its own figure if entered, else the sum of the
/// figures entered for divisions inside it at the next level that has any; `None` when
/// nothing is known (an indicator then shows no rate rather than a guess).
pub async fn population(store: &Store, root: &DivisionCode, year: i32) -> Result<Option<i64>> {
    let (low, high) = root.subtree_range();
    let rows: Vec<(String, i64)> = on_pool!(store, |pool| {
        let rows = sqlx::query(
            "SELECT code, population FROM division_population WHERE code >= $1 AND code < $2 AND year = $3",
        )
        .bind(&low)
        .bind(&high)
        .bind(i64::from(year))
        .fetch_all(pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.col("code")?, r.col("population")?)))
            .collect::<Result<Vec<_>>>()
    })?;
    if let Some((_, n)) = rows.iter().find(|(c, _)| c == root.as_str()) {
        return Ok(Some(*n));
    }
    // The shallowest level below the root that has figures, summed.
    let shallowest = rows.iter().map(|(c, _)| c.len()).min();
    Ok(shallowest.map(|len| {
        rows.iter()
            .filter(|(c, _)| c.len() == len)
            .map(|(_, n)| n)
            .sum()
    }))
}
