use crate::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("the product already exists")]
    AlreadyExists,
    #[error("the product does not exist")]
    NotFound,
    #[error("invalid product: {}", crate::describe(.0))]
    Invalid(Vec<FieldError>),
}
