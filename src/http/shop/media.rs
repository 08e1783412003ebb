//! `GET /media/{key}`: a stored image, for mini programs and browsers to cache for good.
//! A key names its bytes forever (it is their hash), so the key is the `ETag` and a
//! client holding it is answered 304 without reading the store.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::ErrorBody;
use crate::http::error::ApiError;
use crate::media::{CACHE_CONTROL, MediaKey};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_image))
}

/// A stored image; no token needed.
#[utoipa::path(get, path = "/media/{key}", tag = "products",
    params(("key" = String, Path, description = "the image's key, as in its URL")),
    responses(
        (status = 200, description = "the image", content(
            (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/webp"))),
        (status = 304, description = "the client's copy (`If-None-Match`) is current"),
        (status = 404, description = "no such image (40400)", body = ErrorBody),
        (status = 503, description = "the media store failed (50300)", body = ErrorBody),
    ))]
async fn get_image(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = MediaKey::parse(&key).ok_or_else(|| ApiError::not_found("image"))?;
    let etag = key.etag();
    let cached = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, CACHE_CONTROL.to_owned()),
        // The bytes start like an image but may hold anything after: never sniffed as
        // another type, never run as a page on the API's origin.
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox".to_owned(),
        ),
    ];
    if client_has(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, cached).into_response());
    }
    let store = state
        .media
        .as_ref()
        .ok_or_else(|| ApiError::not_found("image"))?;
    let image = store
        .get(&key)
        .await
        .map_err(|err| {
            tracing::warn!(%err, %key, "could not read an image");
            ApiError::unavailable("the media store could not be read; retry shortly")
        })?
        .ok_or_else(|| ApiError::not_found("image"))?;
    let mut response = (cached, Body::from_stream(image.bytes)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(key.kind().content_type()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(image.size));
    Ok(response)
}

/// Whether `If-None-Match` lists `etag`, weak or strong (a weak comparison, as RFC 9110
/// asks for `If-None-Match`). `*` is not taken: it would answer 304 for an image that
/// was never stored, and no client holding a key needs it.
fn client_has(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag)
}
