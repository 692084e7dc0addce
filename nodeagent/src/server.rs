//! The agent's HTTP endpoint (the kubelet's port): `GET /containerLogs/...`,
//! the streaming `/exec/...`, `/attach/...` and `/portForward/...` (GET and
//! POST, upgraded), and `/healthz`, behind a bearer token.

use crate::runtime::logs::{self, LogOptions};
use crate::runtime::{Ctx, Live};
use crate::streaming::{attach, console, exec, portforward, remotecommand};
use axum::body::Body;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
use axum::Router;
use k8s_openapi::jiff::Timestamp;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct AppState {
    ctx: Arc<Ctx>,
    token: Arc<String>,
}

pub async fn serve(ctx: Arc<Ctx>, token: String, listener: tokio::net::TcpListener) {
    let state = AppState {
        ctx,
        token: Arc::new(token),
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/containerLogs/{ns}/{pod}/{container}", get(container_logs))
        .route("/exec/{ns}/{pod}/{container}", on(get_or_post(), exec))
        .route("/attach/{ns}/{pod}/{container}", on(get_or_post(), attach))
        .route("/portForward/{ns}/{pod}", on(get_or_post(), port_forward))
        .with_state(state);
    if let Err(e) = axum::serve(listener, app).await {
        tracing::warn!(error = %e, "agent endpoint stopped");
    }
}

/// Streaming endpoints take GET (WebSocket) and POST (SPDY, as kubectl
/// sends it).
fn get_or_post() -> MethodFilter {
    MethodFilter::GET.or(MethodFilter::POST)
}

fn text(code: StatusCode, msg: String) -> Response {
    (code, msg).into_response()
}

/// An error as a `kind: Status`, which the API server relays unchanged.
fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (
        code,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The pod's (uid, container) live record, or the error the kubelet gives.
fn container_record(
    st: &AppState,
    ns: &str,
    pod_name: &str,
    container: &str,
) -> Result<Live, Box<Response>> {
    let uid = indexed_uid(&st.ctx, ns, pod_name).ok_or_else(|| {
        Box::new(status(
            StatusCode::NOT_FOUND,
            "NotFound",
            pod_not_found(pod_name),
        ))
    })?;
    st.ctx
        .live
        .lock()
        .ok()
        .and_then(|l| l.get(&(uid, container.to_string())).cloned())
        .ok_or_else(|| Box::new(container_not_found(container)))
}

fn container_not_found(container: &str) -> Response {
    status(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("container not found (\"{container}\")"),
    )
}

/// What exec and attach both check first: the cluster's credentials, the
/// options, and the container's record (exec also needs it running).
fn console_request(
    st: &AppState,
    headers: &HeaderMap,
    (ns, pod_name, container): &(String, String, String),
    query: Option<&str>,
) -> Result<(remotecommand::Options, Live), Box<Response>> {
    if !authorized(headers, &st.token) {
        return Err(Box::new(text(
            StatusCode::UNAUTHORIZED,
            "Unauthorized".into(),
        )));
    }
    let opts = remotecommand::Options::parse(query);
    let live = container_record(st, ns, pod_name, container)?;
    Ok((opts, live))
}

async fn exec(
    State(st): State<AppState>,
    Path(target): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let (opts, live) = match console_request(&st, req.headers(), &target, query.as_deref()) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if opts.command.is_empty() {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "you must specify at least one command for the container".into(),
        );
    }
    let Some(exec_target) = live.exec.filter(|_| live.running) else {
        return container_not_found(&target.2);
    };
    let watchdog = st.ctx.watchdog.clone();
    console::upgrade(req, opts.clone(), move |conn| {
        exec::serve(conn, opts, exec_target, watchdog)
    })
    .await
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| !token.is_empty() && t.trim() == token)
}

fn parse_bool(v: Option<&String>) -> bool {
    v.is_some_and(|v| v == "true" || v == "1" || v.is_empty())
}

/// The log file of the current (or previous) instance.
fn instance_file(dir: &std::path::Path, restart: i32) -> PathBuf {
    dir.join(format!("{restart}.log"))
}

/// The uid of the pod `ns/name` if it runs on this node.
fn indexed_uid(ctx: &Ctx, ns: &str, name: &str) -> Option<String> {
    ctx.index
        .lock()
        .ok()
        .and_then(|i| i.get(&(ns.to_string(), name.to_string())).cloned())
}

fn pod_not_found(name: &str) -> String {
    format!("pod \"{name}\" not found on this node")
}

async fn port_forward(
    State(st): State<AppState>,
    Path((ns, pod_name)): Path<(String, String)>,
    req: Request,
) -> Response {
    if !authorized(req.headers(), &st.token) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized".into());
    }
    let Some(uid) = indexed_uid(&st.ctx, &ns, &pod_name) else {
        return status(StatusCode::NOT_FOUND, "NotFound", pod_not_found(&pod_name));
    };
    let ip = st.ctx.ipam.lock().ok().and_then(|i| i.ip_of(&uid));
    let Some(ip) = ip else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("pod \"{pod_name}\" has no IP yet: it is not running"),
        );
    };
    let target = portforward::Target {
        ip,
        full_name: format!("{pod_name}_{ns}"),
        uid,
    };
    portforward::handle(target, req).await
}

async fn container_logs(
    State(st): State<AppState>,
    Path((ns, pod_name, container)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers, &st.token) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized".into());
    }
    let Some(uid) = indexed_uid(&st.ctx, &ns, &pod_name) else {
        return text(StatusCode::NOT_FOUND, pod_not_found(&pod_name));
    };
    let live = st
        .ctx
        .live
        .lock()
        .ok()
        .and_then(|l| l.get(&(uid.clone(), container.clone())).cloned());
    let Some(live) = live else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("container \"{container}\" in pod \"{pod_name}\" is waiting to start: ContainerCreating"),
        );
    };
    let opts = LogOptions {
        follow: parse_bool(q.get("follow")),
        previous: parse_bool(q.get("previous")),
        tail_lines: q
            .get("tailLines")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|n| n.max(0) as usize),
        since: q
            .get("sinceSeconds")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|s| {
                Timestamp::now()
                    .checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(s))
                    .ok()
            })
            .or_else(|| q.get("sinceTime").and_then(|t| t.parse().ok())),
        timestamps: parse_bool(q.get("timestamps")),
        limit_bytes: q.get("limitBytes").and_then(|v| v.parse().ok()),
    };
    let dir = st.ctx.log_dir_of(&ns, &pod_name, &uid).join(&container);
    let restart = if opts.previous {
        // Like the kubelet: lastState's instance, which in back-off is the
        // last one that ran.
        let n = if live.waiting_reason.is_some() && !live.running {
            live.restart_count
        } else {
            live.restart_count - 1
        };
        if n < 0 || !instance_file(&dir, n).exists() {
            return text(
                StatusCode::BAD_REQUEST,
                format!(
                    "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
                ),
            );
        }
        n
    } else {
        live.restart_count
    };
    let path = instance_file(&dir, restart);
    if !path.exists() {
        let reason = live
            .waiting_reason
            .clone()
            .unwrap_or_else(|| "ContainerCreating".into());
        return text(
            StatusCode::BAD_REQUEST,
            format!(
                "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {reason}"
            ),
        );
    }
    let mut head = logs::read_all(&path, &opts);
    let plain = !opts.follow
        && !opts.previous
        && !opts.timestamps
        && opts.tail_lines.is_none()
        && opts.since.is_none()
        && opts.limit_bytes.is_none();
    if let (true, Some(hub)) = (plain, &live.attach) {
        hub.note_log_read(head.len());
    }
    if let Some(limit) = opts.limit_bytes {
        if head.len() > limit {
            let mut cut = limit;
            while !head.is_char_boundary(cut) {
                cut -= 1;
            }
            head.truncate(cut);
            return text(StatusCode::OK, head);
        }
    }
    if !opts.follow || opts.previous || !live.running {
        return text(StatusCode::OK, head);
    }
    // Follow: what is there, then new lines until the instance ends.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(16);
    let ctx = st.ctx.clone();
    let key = (uid, container.clone());
    let timestamps = opts.timestamps;
    tokio::spawn(async move {
        if tx.send(Ok(bytes::Bytes::from(head))).await.is_err() {
            return;
        }
        let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut pending = String::new();
        let mut idle_after_exit = 0;
        loop {
            let mut chunk = String::new();
            if let Ok(mut f) = std::fs::File::open(&path) {
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                if len < offset {
                    offset = 0; // rotated
                }
                if f.seek(SeekFrom::Start(offset)).is_ok() {
                    let _ = f.read_to_string(&mut chunk);
                    offset += chunk.len() as u64;
                }
            }
            if !chunk.is_empty() {
                pending.push_str(&chunk);
                let mut out = String::new();
                while let Some(i) = pending.find('\n') {
                    let line: String = pending.drain(..=i).collect();
                    if let Some(e) = logs::parse_line(line.trim_end_matches('\n')) {
                        out.push_str(&logs::render(&e, timestamps));
                    }
                }
                if !out.is_empty() && tx.send(Ok(bytes::Bytes::from(out))).await.is_err() {
                    return;
                }
                continue;
            }
            let still = ctx
                .live
                .lock()
                .ok()
                .and_then(|l| l.get(&key).cloned())
                .is_some_and(|l| l.running && l.restart_count == restart);
            if !still {
                idle_after_exit += 1;
                if idle_after_exit > 2 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response".into()))
}

async fn attach(
    State(st): State<AppState>,
    Path(target): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let (opts, live) = match console_request(&st, req.headers(), &target, query.as_deref()) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let Some(hub) = live.attach.clone() else {
        return container_not_found(&target.2);
    };
    let Some(log) = instance_log(&st, &target, &live) else {
        return container_not_found(&target.2);
    };
    console::upgrade(req, opts.clone(), move |conn| {
        attach::serve(conn, opts, hub, log)
    })
    .await
}

/// The log file of the instance `live` describes.
fn instance_log(
    st: &AppState,
    (ns, pod_name, container): &(String, String, String),
    live: &Live,
) -> Option<PathBuf> {
    let uid = indexed_uid(&st.ctx, ns, pod_name)?;
    let dir = st.ctx.log_dir_of(ns, pod_name, &uid).join(container);
    Some(instance_file(&dir, live.restart_count))
}
