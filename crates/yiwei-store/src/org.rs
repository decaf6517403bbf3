//! Institutions (医疗卫生机构) and medical communities (医共体).

use yiwei_domain::division::DivisionCode;
use yiwei_domain::org::InstitutionKind;

use crate::{Result, Row, Store, StoreError, on_pool};

/// 医共体: a county medical community, led by one institution (usually the county
/// people's hospital), with township centres and village clinics as members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MedicalCommunity {
    pub id: i64,
    pub name: String,
    pub name_en: String,
    pub county: DivisionCode,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Institution {
    pub id: i64,
    /// The institution's registration code (统一社会信用代码 or 医疗机构登记号).
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: InstitutionKind,
    pub division: DivisionCode,
    pub community_id: Option<i64>,
    /// Whether it leads its medical community (牵头医院).
    pub is_lead: bool,
    pub active: bool,
}

/// A new institution; the id is assigned by the store.
#[derive(Clone, Debug)]
pub struct NewInstitution {
    pub code: String,
    pub name: String,
    pub name_en: String,
    pub kind: InstitutionKind,
    pub division: DivisionCode,
    pub community_id: Option<i64>,
    pub is_lead: bool,
}

fn institution(row: &impl Row) -> Result<Institution> {
    let kind: String = row.col("kind")?;
    let division: String = row.col("division_code")?;
    Ok(Institution {
        id: row.col("id")?,
        code: row.col("code")?,
        name: row.col("name")?,
        name_en: row.col("name_en")?,
        kind: InstitutionKind::parse(&kind)
            .ok_or_else(|| StoreError::Other(format!("unknown institution kind {kind:?}")))?,
        division: DivisionCode::parse(&division)
            .map_err(|_| StoreError::Other("stored institution has a bad division".into()))?,
        community_id: row.col("community_id")?,
        is_lead: row.col("is_lead")?,
        active: row.col("active")?,
    })
}

fn community(row: &impl Row) -> Result<MedicalCommunity> {
    let county: String = row.col("county_code")?;
    Ok(MedicalCommunity {
        id: row.col("id")?,
        name: row.col("name")?,
        name_en: row.col("name_en")?,
        county: DivisionCode::parse(&county)
            .map_err(|_| StoreError::Other("stored community has a bad county".into()))?,
    })
}

pub async fn add_community(
    store: &Store,
    name: &str,
    name_en: &str,
    county: &DivisionCode,
) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "INSERT INTO medical_community (name, name_en, county_code) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(name_en)
        .bind(county.as_str())
        .fetch_one(pool)
        .await
    })
    .map_err(Into::into)
}

pub async fn communities(store: &Store) -> Result<Vec<MedicalCommunity>> {
    on_pool!(store, |pool| {
        let rows = sqlx::query("SELECT * FROM medical_community ORDER BY id")
            .fetch_all(pool)
            .await?;
        rows.iter().map(community).collect()
    })
}

pub async fn community_by_id(store: &Store, id: i64) -> Result<MedicalCommunity> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM medical_community WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("medical community"))?;
        community(&row)
    })
}

pub async fn add(store: &Store, new: &NewInstitution) -> Result<i64> {
    on_pool!(store, |pool| {
        sqlx::query_scalar(
            "INSERT INTO institution (code, name, name_en, kind, division_code, community_id, is_lead) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&new.code)
        .bind(&new.name)
        .bind(&new.name_en)
        .bind(new.kind.as_str())
        .bind(new.division.as_str())
        .bind(new.community_id)
        .bind(new.is_lead)
        .fetch_one(pool)
        .await
    })
    .map_err(Into::into)
}

pub async fn get(store: &Store, id: i64) -> Result<Institution> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM institution WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("institution"))?;
        institution(&row)
    })
}

pub async fn by_code(store: &Store, code: &str) -> Result<Institution> {
    on_pool!(store, |pool| {
        let row = sqlx::query("SELECT * FROM institution WHERE code = $1")
            .bind(code)
            .fetch_optional(pool)
            .await?
            .ok_or(StoreError::NotFound("institution"))?;
        institution(&row)
    })
}

/// Search filter for [`list`]; empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only institutions inside this division.
    pub within: Option<DivisionCode>,
    pub kind: Option<InstitutionKind>,
    pub community_id: Option<i64>,
    /// Part of the name (Chinese or English).
    pub name: Option<String>,
}

/// Institutions matching `filter`, by division and name, with the total count.
pub async fn list(
    store: &Store,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Institution>, i64)> {
    let (low, high) = match &filter.within {
        Some(root) => root.subtree_range(),
        None => (String::new(), "~".to_owned()),
    };
    let pattern = filter
        .name
        .as_deref()
        .map(|n| format!("%{}%", n.trim().replace(['%', '_'], "")));
    const WHERE: &str = "division_code >= $1 AND division_code < $2 AND ($3 IS NULL OR kind = $3) \
        AND ($4 IS NULL OR community_id = $4) AND ($5 IS NULL OR name LIKE $5 OR name_en LIKE $5)";
    let list_sql = format!(
        "SELECT * FROM institution WHERE {WHERE} ORDER BY division_code, kind, name LIMIT $6 OFFSET $7"
    );
    let count_sql = format!("SELECT COUNT(*) FROM institution WHERE {WHERE}");
    on_pool!(store, |pool| {
        let rows = sqlx::query(sqlx::AssertSqlSafe(list_sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(filter.kind.map(InstitutionKind::as_str))
            .bind(filter.community_id)
            .bind(pattern.as_deref())
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&low)
            .bind(&high)
            .bind(filter.kind.map(InstitutionKind::as_str))
            .bind(filter.community_id)
            .bind(pattern.as_deref())
            .fetch_one(pool)
            .await?;
        Ok((
            rows.iter().map(institution).collect::<Result<Vec<_>>>()?,
            total,
        ))
    })
}
