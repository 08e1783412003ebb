//! The integrity report, answered whole or streamed with its progress (the console shows
//! how far a verification of a long log has got).

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::verify::{Progress, Report, VerifyError};
use crate::database::DatabaseError;
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AdminUser;
use crate::http::extract::params::{QueryRules, ValidQuery};
use crate::state::AppState;
use projections::cancellation::Cancellation;

/// How often a streamed verification says how far it got (besides each pass's start
/// and end): often enough for a moving bar, seldom enough to cost nothing.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_log))
        .routes(routes!(verify_log_streamed))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VerifyQuery {
    /// `false` skips comparing the read models with a replay (faster).
    read_models: Option<bool>,
}

impl QueryRules for VerifyQuery {}

/// The integrity report: hash chains, seals, invariants, read models vs a replay.
/// `ok: false` names the first offending position.
#[utoipa::path(get, path = "/api/v1/admin/audit/verify", tag = "audit",
    params(VerifyQuery),
    responses(
        (status = 200, description = "the report (look at `ok`)", body = Envelope<Report>),
    ),
    security(("bearer" = [])))]
async fn verify_log(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<VerifyQuery>,
) -> Result<Success<Report>, ApiError> {
    // A task of its own, called off when the client hangs up (this handler's future is
    // dropped, and the guard with it): it stops at its next batch and releases its lock
    // and copies, instead of being cut off mid-statement.
    let cancellation = Cancellation::default();
    let guard = cancellation.on_drop();
    let report = tokio::spawn(run(state, query, cancellation, Answer::Report, |_| {}))
        .await
        .map_err(|err| ApiError::internal(&err))?;
    guard.disarm();
    Ok(Success::ok(report?))
}

/// One line of a streamed verification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum VerifyLine {
    /// How far it has got: the pass, and events (or projections) done of the total.
    Progress(Progress),
    /// The last line when it finished: the same report `GET /audit/verify` answers.
    Report(Report),
    /// The last line when it could not finish (`code` and `message` as in any error).
    Error(ErrorBody),
}

/// The same verification, streamed as NDJSON: a `{"progress":…}` line as each pass
/// starts and about five times a second while it runs, then one `{"report":…}` line (or
/// `{"error":…}` when it could not finish). Hanging up calls it off.
#[utoipa::path(get, path = "/api/v1/admin/audit/verify/stream", tag = "audit",
    params(VerifyQuery),
    responses(
        (status = 200, description = "NDJSON: progress lines, then the report", content_type = "application/x-ndjson", body = VerifyLine),
    ),
    security(("bearer" = [])))]
async fn verify_log_streamed(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<VerifyQuery>,
) -> Response {
    let (mut lines, received) = mpsc::channel::<VerifyLine>(16);
    let cancellation = Cancellation::default();
    // Held by the body: a client hanging up drops the body, and the job stops.
    let guard = cancellation.on_drop();
    let mut progress_lines = lines.clone();
    let mut last_sent: Option<(Progress, Instant)> = None;
    let on_progress = move |progress: Progress| {
        let due = last_sent.is_none_or(|(last, at)| {
            last.pass != progress.pass
                || progress.done == progress.total
                || at.elapsed() >= PROGRESS_EVERY
        });
        // Progress is worth losing when the client reads slowly: the job never waits.
        if due
            && progress_lines
                .try_send(VerifyLine::Progress(progress))
                .is_ok()
        {
            last_sent = Some((progress, Instant::now()));
        }
    };
    tokio::spawn(async move {
        let last = match run(state, query, cancellation, Answer::Stream, on_progress).await {
            Ok(report) => VerifyLine::Report(report),
            Err(error) => VerifyLine::Error(ErrorBody {
                code: error.code as u32,
                message: error.message,
                data: error.data,
            }),
        };
        // Fails only when the client has gone; there is no one left to tell.
        let _ = lines.send(last).await;
    });
    let body = received.map(move |line| {
        let _held = &guard;
        let mut json = serde_json::to_vec(&line).map_err(std::io::Error::other)?;
        json.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(json))
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-store"),
            // nginx would otherwise hold the lines back until its buffer fills.
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// How a verification is answered, as `audit_verifications_total` labels it.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Report,
    Stream,
}

/// Runs the verification, its errors as the answer an operator reads, and counts it by
/// outcome (`ok`, `failed`, `cancelled`: its client hung up, `error`).
async fn run(
    state: AppState,
    query: VerifyQuery,
    cancellation: Cancellation,
    answer: Answer,
    progress: impl FnMut(Progress) + Send,
) -> Result<Report, ApiError> {
    let projector = query
        .read_models
        .unwrap_or(true)
        .then_some(&*state.projector);
    let result = state.audit.verify(projector, &cancellation, progress).await;
    let outcome = match &result {
        Ok(report) if report.ok => "ok",
        Ok(_) => "failed",
        Err(VerifyError::Cancelled) => "cancelled",
        Err(_) => "error",
    };
    let answer = match answer {
        Answer::Report => "report",
        Answer::Stream => "stream",
    };
    metrics::counter!("audit_verifications_total", "outcome" => outcome, "answer" => answer)
        .increment(1);
    result.map_err(|err| match err {
        VerifyError::Database(db) if DatabaseError::from(&db).is_unavailable() => {
            DatabaseError::from(db).into()
        }
        VerifyError::Replay(projections::rebuild::RebuildError::Busy(message)) => {
            ApiError::busy(message, "60")
        }
        // Operators see why the verification could not finish.
        other => {
            tracing::error!(%other, "verification could not finish");
            ApiError::new(
                ErrorCode::Internal,
                format!("the verification could not finish: {other}"),
            )
        }
    })
}
