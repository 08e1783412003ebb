//! ordo's write model: the aggregates that decide what may happen.
//!
//! Pure and deterministic: no I/O and no clock reads (times arrive in commands), so
//! replaying the same events always rebuilds the same state. Each aggregate has its
//! commands (imperative), events (past tense; `event_type` strings never change) and a
//! typed error for every refusal.

pub mod order;
pub mod product;
pub mod shopper;
pub mod stock;
pub mod text;
pub mod user;

/// A field that failed validation and why, named the way the API names it
/// (`lines[0].quantity`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Field errors as one line: `name: must not be empty; price_cents: must be ≥ 0`.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
