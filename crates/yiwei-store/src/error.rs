//! The store's error type, mapped from sqlx in one place.

/// What went wrong in the store. A missing row is [`StoreError::NotFound`], never `None`
/// hiding a database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or foreign-key rule refused the change; `constraint` names it.
    #[error("conflicts with existing data ({constraint})")]
    Conflict { constraint: String },
    /// The caller passed something the store cannot take; the message says what.
    #[error("{0}")]
    Invalid(String),
    /// The database cannot be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Encrypted data could not be decrypted: wrong key or altered ciphertext.
    #[error("encrypted field cannot be read: {0}")]
    Crypto(&'static str),
    #[error("database error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(e.to_string())
            }
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() || db.is_foreign_key_violation() {
                    let constraint = db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned());
                    StoreError::Conflict { constraint }
                } else {
                    StoreError::Other(db.message().to_owned())
                }
            }
            other => StoreError::Other(other.to_string()),
        }
    }
}
