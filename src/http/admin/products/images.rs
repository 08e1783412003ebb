//! A product's images: an operator uploads one (checked by content, stored once by its
//! hash) or removes one; shoppers see them in every product answer.

use aggregates::text::TextRule;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, Multipart, State};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AdminUser;
use crate::http::extract::params::{
    IdPath, QueryRules, ValidQuery, check_text, required_text_param,
};
use crate::http::extract::recorded::Recorded;
use crate::http::views::product::ProductView;
use crate::http::views::read_your_writes::await_projections;
use crate::media::{ImageKind, MAX_IMAGE_BYTES, MediaKey, MediaStore, MediaUrls};
use crate::state::AppState;
use crate::write::WriteError;
use aggregates::product::{MAX_IMAGES, ProductError};

/// The form around the file: its boundaries and part headers.
const FORM_OVERHEAD_BYTES: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_image, remove_image))
        .layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES + FORM_OVERHEAD_BYTES))
}

/// The upload form (`multipart/form-data`): one `file`, nothing else. Read part by part
/// (see [`the_file`]); the derives state the form's shape for the document.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ImageUpload {
    /// A JPEG, PNG or WebP image of at most 5 MiB, judged by its content (the part's
    /// name and `Content-Type` are not believed).
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
struct ImageAdded {
    /// Where the image is served.
    url: String,
    /// The product's images now, cover first.
    product: ProductView,
}

/// Adds an image to a product (at the end; the first is the cover). The same image
/// uploaded again is stored once and listed once.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/images", tag = "admin",
    params(("id" = Uuid, Path, description = "the product")),
    request_body(content = inline(ImageUpload), content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "stored and listed", body = Envelope<ImageAdded>),
        (status = 400, description = "not a form with one `file` (40000)", body = ErrorBody),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
        (status = 409, description = "the product shows 9 images already (40900)", body = ErrorBody),
        (status = 413, description = "the file is over 5 MiB (41300)", body = ErrorBody),
        (status = 415, description = "not a JPEG, PNG or WebP image (41500)", body = ErrorBody),
        (status = 503, description = "no media store, or it failed (50300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn upload_image(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Success<ImageAdded>, ApiError> {
    let store = store(&state)?;
    let mut form = form.map_err(|err| ApiError::malformed_field("body", &err.body_text()))?;
    let bytes = the_file(&mut form).await?;
    let kind = ImageKind::sniff(&bytes).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "file: not a JPEG, PNG or WebP image (judged by its content)",
        )
    })?;
    // Hashing 5 MiB takes milliseconds: off the threads that serve requests.
    let (key, bytes) = tokio::task::spawn_blocking(move || (MediaKey::of(&bytes, kind), bytes))
        .await
        .map_err(|err| ApiError::internal(&err))?;
    // Refuse what the product will refuse before storing anything for it (the product
    // decides again when the image is added).
    let product = state
        .write
        .product(id)
        .await?
        .ok_or_else(|| ApiError::not_found("product"))?;
    let key_text = key.to_string();
    if product.images.len() >= MAX_IMAGES && !product.images.contains(&key_text) {
        return Err(WriteError::Product(ProductError::TooManyImages { max: MAX_IMAGES }).into());
    }
    let stored_new = store.put(&key, bytes).await.map_err(|err| {
        tracing::warn!(%err, store = store.description(), "could not store an image");
        ApiError::unavailable("the media store could not take the image; retry shortly")
    })?;
    tracing::info!(%key, stored_new, "image uploaded");
    let written = state
        .write
        .add_product_image(id, key_text.clone(), &metadata)
        .await?;
    await_projections(&state, &["catalog"], written.position).await;
    Ok(Success::created(ImageAdded {
        url: state.media_urls.url(&key_text),
        product: ProductView::new(written.value, &state.media_urls),
    }))
}

fn store(state: &AppState) -> Result<&MediaStore, ApiError> {
    state
        .media
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("no media store is configured"))
}

/// The one `file` part, read whole but never past the limit.
async fn the_file(form: &mut Multipart) -> Result<Bytes, ApiError> {
    let mut file = None;
    while let Some(field) = form.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("file") if file.is_none() => file = Some(read_capped(field).await?),
            Some("file") => {
                return Err(ApiError::malformed_field("file", "one file per upload"));
            }
            other => {
                let name = other
                    .unwrap_or_default()
                    .chars()
                    .take(40)
                    .collect::<String>();
                return Err(ApiError::malformed_field(
                    "body",
                    &format!("unexpected form field {name:?}: send one `file`"),
                ));
            }
        }
    }
    file.ok_or_else(|| ApiError::malformed_field("file", "missing: send the image as `file`"))
}

async fn read_capped(mut field: Field<'_>) -> Result<Bytes, ApiError> {
    let mut bytes = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(form_error)? {
        if bytes.len() + chunk.len() > MAX_IMAGE_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.freeze())
}

fn too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, "file: larger than 5 MiB")
}

fn form_error(err: MultipartError) -> ApiError {
    if err.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::malformed_field("body", &format!("not a readable form: {}", err.body_text()))
    }
}

/// Longest `url` accepted.
const MAX_URL_CHARS: usize = 2048;
/// A URL is one clean line.
const URL_TEXT: TextRule = TextRule::single_line(MAX_URL_CHARS).required();

/// `?url=` of the image to remove.
#[derive(Debug, Deserialize)]
struct ImageQuery {
    url: String,
}

impl IntoParams for ImageQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![required_text_param(
            "url",
            "The image's URL as the product lists it (one served under an earlier base URL \
             names the same image).",
            URL_TEXT,
        )]
    }
}

impl QueryRules for ImageQuery {
    fn check(&self) -> Result<(), ApiError> {
        check_text("url", &self.url, URL_TEXT)
    }
}

/// Removes one of a product's images. Orders placed while it was the cover still show
/// it, so its bytes stay stored.
#[utoipa::path(delete, path = "/api/v1/admin/products/{id}/images", tag = "admin",
    params(("id" = Uuid, Path, description = "the product"), ImageQuery),
    responses(
        (status = 200, description = "removed", body = Envelope<ProductView>),
        (status = 400, description = "no `url` (40000)", body = ErrorBody),
        (status = 404, description = "no such product, or it has no such image (40400)", body = ErrorBody),
        (status = 422, description = "`url` empty, too long or not one clean line (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn remove_image(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    ValidQuery(query): ValidQuery<ImageQuery>,
) -> Result<Success<ProductView>, ApiError> {
    let key = MediaUrls::key_in(&query.url).to_owned();
    let written = state.write.remove_product_image(id, key, &metadata).await?;
    await_projections(&state, &["catalog"], written.position).await;
    Ok(Success::ok(ProductView::new(
        written.value,
        &state.media_urls,
    )))
}
