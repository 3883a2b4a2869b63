//! `nn-mnist serve`: a web page to draw a digit on, and the JSON API under it.
//!
//! Routes: `GET /` (the page, embedded in the binary), `GET /api/models`, `POST /api/predict`
//! (a PNG, or JSON with 784 grey values). Nothing else is served: no path reaches the file
//! system. Networks run on a fixed pool of worker threads, each with its own copy of every
//! model (a network's tensors cannot cross threads); a full queue answers 503.

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

use crate::input::{self, InputError};
use crate::models::{ModelArgs, ModelInfo, Prediction, Spec, model_specs};

/// `nn-mnist serve`'s options.
#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on; the default is reachable from this machine only.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: std::net::SocketAddr,
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
    let names: Vec<String> = specs.iter().map(|s| s.info.name.clone()).collect();
    serve(specs, args.addr, workers, |bound| {
        println!(
            "serving {} on http://{bound}/ ({workers} workers; Ctrl-C to stop)",
            names.join(", ")
        );
    })
    .map_err(TrainError::Usage)
}

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;
/// Requests waiting for a worker beyond which the server answers 503.
const QUEUE: usize = 256;

const PAGE: &str = include_str!("page/index.html");

/// One request for the workers: its body (decoding a picture is work too, kept off the
/// server's two threads and bounded like the rest), the models to run (all if `None`).
struct Job {
    content_type: String,
    body: Bytes,
    model: Option<usize>,
    reply: tokio::sync::oneshot::Sender<Result<Answer, InputError>>,
}

struct AppState {
    models: Vec<ModelInfo>,
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
    addr: SocketAddr,
    workers: usize,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let models = specs.iter().map(|s| s.info.clone()).collect();
    let specs = Arc::new(specs);
    let (jobs, queue) = sync_channel::<Job>(QUEUE);
    let queue = Arc::new(Mutex::new(queue));
    let (built, ready) = std::sync::mpsc::channel();
    let workers = workers.max(1);
    for _ in 0..workers {
        let (specs, queue, built) = (Arc::clone(&specs), Arc::clone(&queue), built.clone());
        std::thread::spawn(move || worker(&specs, &queue, &built));
    }
    // A model that does not build stops the server before it listens (the workers then end
    // with the queue, dropped on return).
    for _ in 0..workers {
        ready
            .recv()
            .map_err(|_| "a worker stopped while building its models".to_string())??;
    }
    let state = Arc::new(AppState { models, jobs });
    let app = Router::new()
        .route("/", get(page))
        .route("/api/models", get(list_models).fallback(wrong_method))
        .route("/api/predict", post(predict).fallback(wrong_method))
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
fn worker(specs: &[Spec], queue: &Mutex<Receiver<Job>>, built: &Sender<Result<(), String>>) {
    let models: Result<Vec<_>, _> = specs.iter().map(Spec::build).collect();
    let mut models = match models {
        Ok(models) => {
            let _ = built.send(Ok(()));
            models
        }
        Err(e) => {
            let _ = built.send(Err(e.to_string()));
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
        let answer = input::from_request(&job.content_type, &job.body).map(|image| {
            let results = match job.model {
                Some(i) => vec![models[i].predict(&image)],
                None => models.iter_mut().map(|m| m.predict(&image)).collect(),
            };
            Answer { image, results }
        });
        // The client may have gone; nothing to do then.
        let _ = job.reply.send(answer);
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
    let mut response = PAGE.into_response();
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
        "not found: this server has the page at / and the API under /api/",
    )
}

async fn wrong_method() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method: GET /api/models, POST /api/predict",
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
    let job = Job {
        content_type,
        body,
        model,
        reply,
    };
    match state.jobs.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy: too many requests are waiting; try again",
            );
        }
        Err(TrySendError::Disconnected(_)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the workers have stopped",
            );
        }
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
