//! `/portForward/{ns}/{pod}` on the agent's endpoint, driven by scripted
//! clients speaking each protocol over real sockets to a running nginx pod:
//! SPDY/3.1 upgrade, SPDY tunneled in WebSocket, and the v4 channel
//! WebSocket protocol.

use crate::common;

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use nodeagent::streaming::spdy::frame::{FLAG_FIN, RST_CANCEL};
use nodeagent::streaming::spdy::{Frame, Headers, SpdyCodec};
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{Decoder, Encoder};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: pf\r\nConnection: close\r\n\r\n";

fn nginx(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]}
    })
}

async fn running_nginx(c: &common::Cluster) {
    c.create(nginx("web")).await;
    c.wait_pod("web", 30, |p| {
        common::condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
}

/// The byte stream under the SPDY client.
enum Transport {
    Tcp(TcpStream),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
}

/// A scripted SPDY client (what kubectl's spdystream does).
struct SpdyClient {
    io: Transport,
    codec: SpdyCodec,
    buf: BytesMut,
    next_id: u32,
    /// Error stream ids; the others are data streams.
    errors: Vec<u32>,
}

impl SpdyClient {
    fn new(io: Transport) -> Self {
        SpdyClient {
            io,
            codec: SpdyCodec::new().unwrap(),
            buf: BytesMut::new(),
            next_id: 1,
            errors: Vec::new(),
        }
    }

    async fn send(&mut self, f: Frame) {
        let mut b = BytesMut::new();
        self.codec.encode(f, &mut b).unwrap();
        match &mut self.io {
            Transport::Tcp(t) => t.write_all(&b).await.unwrap(),
            Transport::Ws(w) => w.send(Message::Binary(b.freeze())).await.unwrap(),
        }
    }

    async fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.codec.decode(&mut self.buf).unwrap() {
                return Some(f);
            }
            match &mut self.io {
                Transport::Tcp(t) => {
                    if t.read_buf(&mut self.buf).await.ok()? == 0 {
                        return None;
                    }
                }
                Transport::Ws(w) => match w.next().await?.ok()? {
                    Message::Binary(b) => self.buf.extend_from_slice(&b),
                    Message::Close(_) => return None,
                    _ => {}
                },
            }
        }
    }

    /// Opens the error and data streams of one forwarded connection.
    async fn open_pair(&mut self, port: u16, request: u32) -> (u32, u32) {
        let mut ids = Vec::new();
        for kind in ["error", "data"] {
            let id = self.next_id;
            self.next_id += 2;
            let headers = Headers::default()
                .with("streamtype", kind)
                .with("port", &port.to_string())
                .with("requestid", &request.to_string());
            self.send(Frame::SynStream {
                stream_id: id,
                associated_to: 0,
                priority: 0,
                flags: 0,
                headers,
            })
            .await;
            ids.push(id);
        }
        // kubectl half-closes the error stream at once.
        self.send(fin(ids[0])).await;
        self.errors.push(ids[0]);
        (ids[0], ids[1])
    }

    /// Reads frames until every stream in `ids` got FIN; returns their data.
    async fn collect(&mut self, ids: &[u32]) -> HashMap<u32, Vec<u8>> {
        let mut out: HashMap<u32, Vec<u8>> = ids.iter().map(|i| (*i, Vec::new())).collect();
        let mut open: Vec<u32> = ids.to_vec();
        let mut replied = Vec::new();
        while !open.is_empty() {
            let f = tokio::time::timeout(Duration::from_secs(20), self.recv())
                .await
                .expect("frames in time")
                .expect("connection open");
            match f {
                Frame::SynReply { stream_id, .. } => replied.push(stream_id),
                Frame::Data {
                    stream_id,
                    flags,
                    data,
                } => {
                    out.entry(stream_id).or_default().extend_from_slice(&data);
                    if flags & FLAG_FIN != 0 {
                        open.retain(|i| *i != stream_id);
                        // like kubectl: reset the data stream once it ended.
                        if !self.errors.contains(&stream_id) {
                            self.send(Frame::RstStream {
                                stream_id,
                                status: RST_CANCEL,
                            })
                            .await;
                        }
                    }
                }
                other => panic!("unexpected frame {other:?}"),
            }
        }
        for id in ids {
            assert!(replied.contains(id), "no SYN_REPLY for {id}");
        }
        out
    }
}

fn fin(id: u32) -> Frame {
    Frame::Data {
        stream_id: id,
        flags: FLAG_FIN,
        data: Bytes::new(),
    }
}

fn data(id: u32, b: &[u8]) -> Frame {
    Frame::Data {
        stream_id: id,
        flags: 0,
        data: Bytes::copy_from_slice(b),
    }
}

/// Sends a raw HTTP/1.1 request and returns the response head.
async fn raw_request(c: &common::Cluster, head: &str) -> (TcpStream, String) {
    let addr = c.agent.as_ref().unwrap().endpoint;
    let mut t = TcpStream::connect(addr).await.unwrap();
    t.write_all(head.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    while !resp.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if t.read(&mut b).await.unwrap() == 0 {
            break;
        }
        resp.push(b[0]);
    }
    (t, String::from_utf8_lossy(&resp).to_string())
}

async fn spdy_upgrade(c: &common::Cluster) -> SpdyClient {
    let head = format!(
        "POST /portForward/default/web HTTP/1.1\r\nHost: agent\r\nAuthorization: Bearer {}\r\n\
         Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\
         Content-Length: 0\r\n\r\n",
        c.token
    );
    let (t, resp) = raw_request(c, &head).await;
    assert!(resp.starts_with("HTTP/1.1 101"), "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(lower.contains("upgrade: spdy/3.1"), "{resp}");
    assert!(
        lower.contains("x-stream-protocol-version: portforward.k8s.io"),
        "{resp}"
    );
    SpdyClient::new(Transport::Tcp(t))
}

async fn websocket(
    c: &common::Cluster,
    query: &str,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let addr = c.agent.as_ref().unwrap().endpoint;
    let mut req = format!("ws://{addr}/portForward/default/web{query}")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert(
        "Authorization",
        format!("Bearer {}", c.token).parse().unwrap(),
    );
    h.insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    let selected = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(selected, protocol);
    ws
}

/// A forwarded HTTP GET, a refused port whose error arrives on the error
/// stream, and a connection after it on the same session; then many
/// connections at once.
async fn exercise_spdy(mut cl: SpdyClient) {
    let (e, d) = cl.open_pair(80, 0).await;
    cl.send(data(d, GET)).await;
    let got = cl.collect(&[e, d]).await;
    let page = String::from_utf8_lossy(&got[&d]);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Welcome to nginx!"), "{page}");
    assert!(
        got[&e].is_empty(),
        "{:?}",
        String::from_utf8_lossy(&got[&e])
    );

    let (e, d) = cl.open_pair(81, 1).await;
    let got = cl.collect(&[e, d]).await;
    let err = String::from_utf8_lossy(&got[&e]);
    assert!(
        err.starts_with("error forwarding port 81 to pod web_default, uid ")
            && err.ends_with(": connect: connection refused"),
        "{err}"
    );

    cl.send(Frame::Ping { id: 1 }).await;
    assert_eq!(cl.recv().await, Some(Frame::Ping { id: 1 }));

    // 20 connections open at once on the same session.
    let mut ids = Vec::new();
    for r in 2..22 {
        let (e, d) = cl.open_pair(80, r).await;
        ids.extend([e, d]);
    }
    for pair in ids.chunks(2) {
        cl.send(data(pair[1], GET)).await;
    }
    let got = cl.collect(&ids).await;
    for pair in ids.chunks(2) {
        let page = String::from_utf8_lossy(&got[&pair[1]]);
        assert!(
            page.contains("Welcome to nginx!"),
            "stream {}: {page}",
            pair[1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_protocols() {
    let c = common::start().await;
    running_nginx(&c).await;

    // SPDY/3.1 upgrade (older kubectl, kubectl's fallback).
    exercise_spdy(spdy_upgrade(&c).await).await;

    // SPDY tunneled in WebSocket binary messages (kubectl v1.31+).
    let ws = websocket(&c, "", "SPDY/3.1+portforward.k8s.io").await;
    exercise_spdy(SpdyClient::new(Transport::Ws(Box::new(ws)))).await;

    // v4 channel protocol (kube-rs): ports 80 and 81.
    let mut ws = websocket(&c, "?ports=80&ports=81", "v4.channel.k8s.io").await;
    let mut first = Vec::new();
    for _ in 0..4 {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => first.push(b.to_vec()),
            other => panic!("{other:?}"),
        }
    }
    first.sort();
    assert_eq!(
        first,
        vec![
            vec![0, 80, 0],
            vec![1, 80, 0],
            vec![2, 81, 0],
            vec![3, 81, 0]
        ]
    );
    let mut msg = vec![0u8];
    msg.extend_from_slice(GET);
    ws.send(Message::Binary(msg.into())).await.unwrap();
    let (mut page, mut error) = (Vec::new(), String::new());
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        match m {
            Message::Binary(b) if b[0] == 0 => page.extend_from_slice(&b[1..]),
            Message::Binary(b) if b[0] == 3 => error.push_str(&String::from_utf8_lossy(&b[1..])),
            Message::Close(_) => break,
            _ => {}
        }
    }
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("Welcome to nginx!"), "{page}");
    assert!(
        error.contains("error forwarding port 81 to pod web_default"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_forward_refusals() {
    let c = common::start().await;
    running_nginx(&c).await;
    let req = |auth: &str, extra: &str| {
        format!("GET /portForward/default/web HTTP/1.1\r\nHost: agent\r\n{auth}{extra}\r\n")
    };
    let bearer = format!("Authorization: Bearer {}\r\n", c.token);
    let (_, resp) = raw_request(&c, &req("", "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    let (_, resp) = raw_request(&c, &req(&bearer, "")).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    let (_, resp) = raw_request(
        &c,
        &req(
            &bearer,
            "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n",
        ),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 403"), "{resp}");
    let (_, resp) = raw_request(
        &c,
        &format!(
            "GET /portForward/default/nope HTTP/1.1\r\nHost: agent\r\n{bearer}Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n"
        ),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");

    // A stream with bad headers is reset; the session stays usable.
    let mut cl = spdy_upgrade(&c).await;
    cl.send(Frame::SynStream {
        stream_id: 1,
        associated_to: 0,
        priority: 0,
        flags: 0,
        headers: Headers::default()
            .with("streamtype", "data")
            .with("port", "http"),
    })
    .await;
    assert!(matches!(
        cl.recv().await,
        Some(Frame::RstStream { stream_id: 1, .. })
    ));
    cl.next_id = 3;
    let (e, d) = cl.open_pair(80, 0).await;
    cl.send(data(d, GET)).await;
    let got = cl.collect(&[e, d]).await;
    assert!(String::from_utf8_lossy(&got[&d]).contains("Welcome to nginx!"));
}
