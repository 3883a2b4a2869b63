//! `nn-mnist serve`: a web page to draw a digit on, a second one to type a date on, and the
//! JSON API under them.
//!
//! Routes: `GET /` (the digit page, embedded in the binary), `GET /dates` (the date page),
//! `GET /api/models`, `POST /api/predict` (a PNG, or JSON with 784 grey values), `POST
//! /api/date` (JSON `{"text": ...}`). Nothing else is served: no path reaches the file system.
//! Networks run on a fixed pool of worker threads, each with its own copy of every model (a
//! network's tensors cannot cross threads); a full queue answers 503.

use std::net::SocketAddr;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use nn_train::TrainError;
use serde::{Deserialize, Serialize};

use crate::dates::{DateAnswer, DateInputError, DateModel, DateSource};
use crate::input::{self, InputError};
use crate::models::{ModelArgs, ModelInfo, Prediction, Spec, model_specs};

/// `nn-mnist serve`'s options.
#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on; the default is reachable from this machine only.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
    /// Leave out the date page (the sequel's attention model, fetched with `date.txt`; left
    /// out with a warning anyway when those cannot be fetched).
    #[arg(long)]
    no_dates: bool,
    #[command(flatten)]
    pub models: ModelArgs,
}

/// `nn-mnist serve`: the networks of `args`, served until the process is stopped.
pub fn run(args: &ServeArgs) -> Result<(), TrainError> {
    let specs = model_specs(&args.models)?;
    // One request is one image: workers run side by side, each on one thread.
    let workers = args
        .models
        .data
        .threads
        .map_or_else(nn_core::kernels::num_threads, |n| {
            usize::try_from(n).unwrap_or(1)
        });
    nn_core::kernels::set_num_threads(1);
    if !args.addr.ip().is_loopback() {
        eprintln!(
            "nn-mnist: warning: listening on {}: other machines can reach this server",
            args.addr
        );
    }
    let dates = if args.no_dates {
        None
    } else {
        match DateSource::load(&crate::fetch_options(&args.models.data)?) {
            Ok(source) => Some(source),
            Err(e) => {
                eprintln!(
                    "nn-mnist: warning: leaving out the date page: {}",
                    crate::one_line(&e)
                );
                None
            }
        }
    };
    let names: Vec<String> = specs.iter().map(|s| s.info.name.clone()).collect();
    let has_dates = dates.is_some();
    serve(specs, dates, args.addr, workers, |bound| {
        println!(
            "serving {} on http://{bound}/ ({workers} workers; Ctrl-C to stop)",
            names.join(", ")
        );
        if has_dates {
            println!("the date page: http://{bound}/dates");
        }
    })
    .map_err(TrainError::Usage)
}

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Requests waiting for a worker beyond which the server answers 503.
const QUEUE: usize = 256;

const PAGE: &str = include_str!("page/index.html");
const DATE_PAGE: &str = include_str!("page/dates.html");

/// One request for the workers.
enum Job {
    /// A digit: its body (decoding a picture is work too, kept off the server's two threads and
    /// bounded like the rest), the models to run (all if `None`).
    Digit {
        content_type: String,
        body: Bytes,
        model: Option<usize>,
        reply: tokio::sync::oneshot::Sender<Result<Answer, InputError>>,
    },
    /// A date, checked and encoded.
    Date {
        text: String,
        reversed: Vec<usize>,
        reply: tokio::sync::oneshot::Sender<DateAnswer>,
    },
}

struct AppState {
    models: Vec<ModelInfo>,
    dates: Option<Arc<DateSource>>,
    jobs: SyncSender<Job>,
}

/// Starts `workers` threads that each build every model of `specs` and, once all have, serves
/// on `addr` until the process is stopped; `on_bound` is told the address actually bound (port
/// 0 asks the system for a free port).
///
/// # Errors
/// A model that does not build, or an address that cannot be bound.
pub fn serve(
    specs: Vec<Spec>,
    dates: Option<DateSource>,
    addr: SocketAddr,
    workers: usize,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let models = specs.iter().map(|s| s.info.clone()).collect();
    let specs = Arc::new(specs);
    let dates = dates.map(Arc::new);
    let (jobs, queue) = sync_channel::<Job>(QUEUE);
    let queue = Arc::new(Mutex::new(queue));
    let (built, ready) = std::sync::mpsc::channel();
    let workers = workers.max(1);
    for _ in 0..workers {
        let (specs, queue, built) = (Arc::clone(&specs), Arc::clone(&queue), built.clone());
        let dates = dates.clone();
        std::thread::spawn(move || worker(&specs, dates.as_deref(), &queue, &built));
    }
    // A model that does not build stops the server before it listens (the workers then end
    // with the queue, dropped on return).
    for _ in 0..workers {
        ready
            .recv()
            .map_err(|_| "a worker stopped while building its models".to_string())??;
    }
    let state = Arc::new(AppState {
        models,
        dates,
        jobs,
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/dates", get(date_page))
        .route("/api/models", get(list_models).fallback(wrong_method))
        .route("/api/predict", post(predict).fallback(wrong_method))
        .route("/api/date", post(date).fallback(wrong_method))
        .fallback(not_found)
        .with_state(state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        on_bound(bound);
        axum::serve(listener, app)
            .await
            .map_err(|e| format!("the server stopped: {e}"))
    })
}

/// Builds every model, says how that went on `built`, then answers jobs until the queue closes.
fn worker(
    specs: &[Spec],
    dates: Option<&DateSource>,
    queue: &Mutex<Receiver<Job>>,
    built: &Sender<Result<(), String>>,
) {
    let models: Result<Vec<_>, _> = specs.iter().map(Spec::build).collect();
    let date_model: Result<Option<DateModel>, String> = dates.map(DateSource::build).transpose();
    let (mut models, date_model) = match (models, date_model) {
        (Ok(models), Ok(date_model)) => {
            let _ = built.send(Ok(()));
            (models, date_model)
        }
        (Err(e), _) => {
            let _ = built.send(Err(e.to_string()));
            return;
        }
        (_, Err(e)) => {
            let _ = built.send(Err(e));
            return;
        }
    };
    loop {
        // The lock is held only while this worker waits; the others queue on it.
        let job = match queue.lock() {
            Ok(q) => q.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        // The client may have gone; nothing to do then.
        match job {
            Job::Digit {
                content_type,
                body,
                model,
                reply,
            } => {
                let answer = input::from_request(&content_type, &body).map(|image| {
                    let results = match model {
                        Some(i) => vec![models[i].predict(&image)],
                        None => models.iter_mut().map(|m| m.predict(&image)).collect(),
                    };
                    Answer { image, results }
                });
                let _ = reply.send(answer);
            }
            Job::Date {
                text,
                reversed,
                reply,
            } => {
                // Only queued when the date model was loaded.
                if let (Some(m), Some(source)) = (&date_model, dates) {
                    let _ = reply.send(m.answer(source, &text, &reversed));
                }
            }
        }
    }
}

/// A JSON error body: `{"error": "..."}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct Body {
        error: String,
    }
    (
        status,
        axum::Json(Body {
            error: message.into(),
        }),
    )
        .into_response()
}

async fn page() -> Response {
    html(PAGE)
}

async fn date_page() -> Response {
    html(DATE_PAGE)
}

/// An embedded page, with the headers that keep it to this server.
fn html(page: &'static str) -> Response {
    let mut response = page.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Everything the page needs is inline; it talks to this server only.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             img-src data:; connect-src 'self'",
        ),
    );
    response
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not found: this server has the pages at / and /dates and the API under /api/",
    )
}

async fn wrong_method() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method: GET /api/models, POST /api/predict, POST /api/date",
    )
}

async fn list_models(State(state): State<Arc<AppState>>) -> Response {
    #[derive(Serialize)]
    struct Models<'a> {
        models: &'a [ModelInfo],
    }
    axum::Json(Models {
        models: &state.models,
    })
    .into_response()
}

#[derive(Deserialize)]
struct PredictQuery {
    model: Option<String>,
}

/// What `POST /api/predict` answers.
#[derive(Serialize)]
struct Answer {
    /// The 28×28 image the networks saw, row-major, ink 1 on 0.
    image: Vec<f32>,
    results: Vec<Prediction>,
}

async fn predict(
    State(state): State<Arc<AppState>>,
    query: Result<Query<PredictQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad query string: {e}")),
    };
    let model = match &query.model {
        None => None,
        Some(name) => match state.models.iter().position(|m| &m.name == name) {
            Some(i) => Some(i),
            None => {
                let known: Vec<&str> = state.models.iter().map(|m| m.name.as_str()).collect();
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown model {name:?}; this server has {}",
                        known.join(", ")
                    ),
                );
            }
        },
    };
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY} bytes"),
        );
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job::Digit {
        content_type,
        body,
        model,
        reply,
    };
    if let Some(response) = enqueue(&state, job) {
        return response;
    }
    match answer.await {
        Ok(Ok(answer)) => axum::Json(answer).into_response(),
        Ok(Err(InputError::Unsupported(message))) => {
            error(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
        }
        Ok(Err(InputError::TooLarge(message))) => error(StatusCode::PAYLOAD_TOO_LARGE, message),
        Ok(Err(InputError::Invalid(message))) => error(StatusCode::BAD_REQUEST, message),
        Ok(Err(InputError::NoInk(message))) => error(StatusCode::UNPROCESSABLE_ENTITY, message),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the worker stopped"),
    }
}

/// Hands `job` to the workers; the response that says why not if they cannot take it.
fn enqueue(state: &AppState, job: Job) -> Option<Response> {
    match state.jobs.try_send(job) {
        Ok(()) => None,
        Err(TrySendError::Full(_)) => Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy: too many requests are waiting; try again",
        )),
        Err(TrySendError::Disconnected(_)) => Some(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the workers have stopped",
        )),
    }
}

/// The largest `POST /api/date` body accepted (a date is a few dozen bytes).
const MAX_DATE_BODY: usize = 4096;

/// `POST /api/date` with `{"text": "september 27, 1994"}`: the date in ISO form and the
/// attention behind each of its characters.
async fn date(State(state): State<Arc<AppState>>, body: Body) -> Response {
    #[derive(Deserialize)]
    struct Question {
        text: String,
    }
    let Some(source) = &state.dates else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the date model is not loaded on this server (see its log)",
        );
    };
    let Ok(body) = to_bytes(body, MAX_DATE_BODY).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_DATE_BODY} bytes"),
        );
    };
    let question: Question = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("expected JSON {{\"text\": \"a date\"}}: {e}"),
            );
        }
    };
    let reversed = match source.encode(&question.text) {
        Ok(ids) => ids,
        Err(e @ DateInputError::Unknown(..)) => {
            return error(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Job::Date {
        text: question.text,
        reversed,
        reply,
    };
    if let Some(response) = enqueue(&state, job) {
        return response;
    }
    match answer.await {
        Ok(answer) => axum::Json(answer).into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "the worker stopped"),
    }
}
