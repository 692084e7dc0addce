//! The proxy's own HTTP endpoint: `/healthz` (kube-proxy's health check,
//! JSON, 200 or 503) and `/metrics` (Prometheus). kube-proxy serves these on
//! two well-known ports (10256 and 10249); several mkube agents share one
//! host, so one listener serves both, on an address the caller chooses
//! (by default the node IP with a port the kernel picks).

use super::health::ProxyHealth;
use super::metrics::{ProxyMetrics, CONTENT_TYPE};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::SystemTime;

#[derive(Clone)]
struct Status {
    health: ProxyHealth,
    metrics: ProxyMetrics,
}

/// Serves until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, health: ProxyHealth, metrics: ProxyMetrics) {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(Status { health, metrics });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "proxy status endpoint stopped");
    }
}

async fn healthz(axum::extract::State(st): axum::extract::State<Status>) -> Response {
    let report = st.health.report(SystemTime::now());
    let code = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        report.body(),
    )
        .into_response()
}

async fn metrics_text(axum::extract::State(st): axum::extract::State<Status>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], st.metrics.render()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        c.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let mut out = String::new();
        c.read_to_string(&mut out).await.expect("read");
        out
    }

    #[tokio::test]
    async fn serves_healthz_and_metrics_over_http() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let health = ProxyHealth::default();
        let metrics = ProxyMetrics::new();
        let task = tokio::spawn(serve(listener, health.clone(), metrics.clone()));
        let before = get(addr, "/healthz").await;
        assert!(before.starts_with("HTTP/1.0 503"), "{before}");
        health.updated(SystemTime::now());
        let after = get(addr, "/healthz").await;
        assert!(after.starts_with("HTTP/1.0 200"), "{after}");
        assert!(after.contains("\"lastUpdated\":"), "{after}");
        metrics.sync_duration.observe(0.002);
        let text = get(addr, "/metrics").await;
        assert!(text.contains("application/openmetrics-text"), "{text}");
        assert!(
            text.contains("kubeproxy_sync_proxy_rules_duration_seconds_count 1"),
            "{text}"
        );
        task.abort();
    }
}
