//! A database failure as the layers above the stores see it: the database being away
//! for a while (the caller may retry) or something else, and what it said. The stores
//! speak sqlx; nothing above them needs to.

/// What a store's query could not do.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DatabaseError {
    unavailable: bool,
    message: String,
}

impl DatabaseError {
    /// The database is away (connection, resources, shutting down) rather than broken.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }
}

impl From<&sqlx::Error> for DatabaseError {
    fn from(err: &sqlx::Error) -> Self {
        Self {
            unavailable: projections::failure::is_unavailable(err),
            message: err.to_string(),
        }
    }
}

impl From<sqlx::Error> for DatabaseError {
    fn from(err: sqlx::Error) -> Self {
        Self::from(&err)
    }
}
