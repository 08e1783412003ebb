//! The OpenAPI document, built from the handlers' `#[utoipa::path]` attributes as the
//! routes are registered, plus what every operation shares: bearer auth, the
//! `Idempotency-Key` header on POSTs, and the error answers any request can get.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, Object, ObjectBuilder, OpenApi as Document, Ref, RefOr, Required,
    ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi};

use crate::http::ADMIN_PREFIX;
use crate::http::envelope::ErrorBody;
use crate::http::error::ErrorCode;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ordo",
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "WeChat login and sessions"),
        (name = "me", description = "the caller's profile"),
        (name = "products", description = "the catalog shoppers browse"),
        (name = "orders", description = "the shopper's orders"),
        (name = "payments", description = "WeChat Pay's payment notices"),
        (name = "dev", description = "dev mode only"),
        (name = "audit", description = "auditors: history, state as of, export, verification"),
        (name = "admin", description = "operators: products, stock, shipping, projections"),
        (name = "service", description = "health and readiness"),
    ),
)]
struct Base;

/// The document's skeleton; [`complete`] adds what every operation shares once the routes
/// have added their paths.
pub fn base() -> Document {
    let mut document = Base::openapi();
    document.info.description = Some(description());
    document
}

/// The description, with the table of error codes from [`ErrorCode`] itself.
fn description() -> String {
    include_str!("openapi_description.md").replace("{error_codes}", &ErrorCode::table())
}

/// Adds the bearer scheme, the `Idempotency-Key` header and the shared error answers.
pub fn complete(mut document: Document) -> Document {
    SharedParts.modify(&mut document);
    document
}

struct SharedParts;

impl Modify for SharedParts {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (path, item) in &mut document.paths.paths {
            if let Some(post) = item.post.as_mut() {
                if !crate::http::middleware::idempotency::ignores_key(path) {
                    add_idempotency_key(post);
                }
                add_shared_errors(path, post);
            }
            for operation in [&mut item.get, &mut item.put, &mut item.delete]
                .into_iter()
                .flatten()
            {
                add_shared_errors(path, operation);
            }
        }
    }
}

fn add_idempotency_key(operation: &mut Operation) {
    if operation.security.is_none() {
        // Keys are kept per user: without a token there is no one to keep them for.
        return;
    }
    let parameter = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "1 to 255 characters. The same key from the same user within 24 h returns the \
             first answer again (with `Idempotent-Replayed: true`) and changes nothing; \
             the same key with another request is a 422.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                // Visible ASCII; spaces only inside (HTTP trims them at the ends).
                .pattern(Some("^[!-~]([ -~]*[!-~])?$")),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(parameter.into());
}

/// The error answers that depend on the kind of operation, not on the handler.
fn add_shared_errors(path: &str, operation: &mut Operation) {
    let authenticated = operation.security.is_some();
    let has_body = operation.request_body.is_some();
    let mut shared = vec![
        ("429", "too many requests (42900); see Retry-After", true),
        (
            "500",
            "a fault on our side (50000); it has been logged",
            false,
        ),
        (
            "503",
            "the database is unavailable (50300); see Retry-After",
            true,
        ),
    ];
    if authenticated {
        shared.push((
            "401",
            "missing, invalid or expired access token (40100)",
            false,
        ));
        if path.starts_with(ADMIN_PREFIX) {
            shared.push(("403", "not an operator token (40300)", false));
        }
    }
    if operation.parameters.as_ref().is_some_and(|parameters| {
        parameters
            .iter()
            .any(|parameter| {
                matches!(parameter, RefOr::T(parameter) if parameter.name == "Idempotency-Key")
            })
    }) {
        shared.push((
            "422",
            "the Idempotency-Key was used with another request (42200), or a field is invalid",
            false,
        ));
    }
    if has_body {
        shared.push(("400", "malformed JSON or not JSON (40000)", false));
        shared.push(("413", "the body is over 256 KiB (41300)", false));
        shared.push((
            "422",
            "a field is invalid (42200); `data.errors` names each one",
            false,
        ));
    } else if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        shared.push((
            "400",
            "a path or query parameter is malformed (40000)",
            false,
        ));
    }
    for (status, description, retry_after) in shared {
        if operation.responses.responses.contains_key(status) {
            continue;
        }
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        );
        if retry_after {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(Object::with_type(Type::Integer)))
                    .description(Some("seconds to wait before retrying"))
                    .build(),
            );
        }
        operation
            .responses
            .responses
            .insert(status.to_owned(), response.build().into());
    }
}
