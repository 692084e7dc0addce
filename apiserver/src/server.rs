//! The HTTPS server: router, authentication, readiness, TLS accept loop.

use crate::discovery;
use crate::rest::status::ApiError;
use crate::rest::{self, SharedState};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use http::header;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Readiness of the whole process: storage open and every in-process
/// component synced.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Bearer token expected from remote clients.
#[derive(Clone)]
struct Auth {
    token: Arc<str>,
}

/// The API without authentication (for in-process components).
pub fn router(state: SharedState, readiness: Readiness) -> Router {
    let ready = readiness.clone();
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.is_ready() {
                        "ok".into_response()
                    } else {
                        (http::StatusCode::SERVICE_UNAVAILABLE, "readyz check failed")
                            .into_response()
                    }
                }
            }),
        )
        .route("/metrics", get(crate::metrics::handler))
        .route("/openapi/v2", get(openapi_v2))
        .route("/openapi/v3", get(openapi_v3_index))
        .route("/openapi/v3/{*path}", get(openapi_v3_doc))
        .route("/api", get(discovery::core_root))
        .route("/api/v1", get(discovery::core_v1))
        .route("/apis", get(discovery::groups_root))
        .route("/apis/{group}", get(discovery::group))
        .route("/apis/{group}/{version}", get(discovery::group_version))
        .route("/api/v1/{*rest}", any(rest::handle))
        .route("/apis/{group}/{version}/{*rest}", any(rest::handle))
        .fallback(|| async { ApiError::not_found_path().into_response() })
        .with_state(state)
}

/// Built on first use and kept: documents are static for a given binary.
fn openapi() -> &'static crate::openapi::OpenApi {
    static DOCS: std::sync::OnceLock<crate::openapi::OpenApi> = std::sync::OnceLock::new();
    DOCS.get_or_init(|| crate::openapi::OpenApi::build(crate::registry::catalog().all()))
}

fn json_bytes(b: &[u8]) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], b.to_vec()).into_response()
}

async fn openapi_v2(headers: http::HeaderMap) -> Response {
    crate::openapi::serve_v2::respond(openapi(), &headers)
}

async fn openapi_v3_index() -> Response {
    json_bytes(openapi().v3_index())
}

async fn openapi_v3_doc(axum::extract::Path(path): axum::extract::Path<String>) -> Response {
    match openapi().v3_document(&path) {
        Some(doc) => json_bytes(doc),
        None => ApiError::not_found_path().into_response(),
    }
}

/// The API as served over HTTPS: token authentication in front of [`router`].
pub fn authenticated(router: Router, token: &str) -> Router {
    let auth = Auth {
        token: token.into(),
    };
    router.layer(middleware::from_fn_with_state(auth, authenticate))
}

const PUBLIC_PATHS: &[&str] = &["/healthz", "/livez", "/readyz", "/version"];

async fn authenticate(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if PUBLIC_PATHS
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(t) if constant_time_eq(t.as_bytes(), auth.token.as_bytes()) => next.run(req).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves.
pub async fn serve_tls(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
    }
}
