use crate::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("the product already exists")]
    AlreadyExists,
    #[error("the product does not exist")]
    NotFound,
    #[error("a product shows at most {max} images: remove one first")]
    TooManyImages { max: usize },
    #[error("the product has no such image")]
    ImageNotFound,
    #[error("the product has no such SKU")]
    SkuNotFound,
    #[error("invalid product: {}", crate::describe(.0))]
    Invalid(Vec<FieldError>),
}
