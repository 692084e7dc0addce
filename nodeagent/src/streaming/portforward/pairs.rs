//! Which forwarded connection a SPDY stream belongs to, decided from its
//! headers as the kubelet does (pkg/kubelet/cri/streaming/portforward):
//! every local connection kubectl accepts opens an error stream and a data
//! stream carrying the same `port` and `requestID`; the pair is forwarded
//! once both have arrived, or dropped when the second one does not come in
//! time. Pure: the caller owns the streams and the clock.

use crate::streaming::spdy::Headers;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long the kubelet waits for the second stream of a pair (its
/// `streamCreationTimeout` default).
pub const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Data,
}

/// A valid port-forward stream's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    pub port: u16,
    pub kind: Kind,
    pub request_id: String,
}

/// Validates a stream's headers; the error is the reason it is refused.
/// Clients older than `requestID` get the kubelet's best effort: the error
/// stream's id, or the data stream's id minus 2.
pub fn classify(headers: &Headers, stream_id: u32) -> Result<StreamRequest, String> {
    let port = headers
        .get("port")
        .filter(|p| !p.is_empty())
        .ok_or("\"port\" header is required")?;
    let port = match port.parse::<u16>() {
        Ok(0) => return Err(format!("port \"{port}\" must be > 0")),
        Ok(p) => p,
        Err(e) => return Err(format!("unable to parse \"{port}\" as a port: {e}")),
    };
    let kind = match headers.get("streamType").filter(|t| !t.is_empty()) {
        None => return Err("\"streamType\" header is required".into()),
        Some("error") => Kind::Error,
        Some("data") => Kind::Data,
        Some(other) => return Err(format!("invalid stream type \"{other}\"")),
    };
    let request_id = match headers.get("requestID").filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None if kind == Kind::Error => stream_id.to_string(),
        None => stream_id.saturating_sub(2).to_string(),
    };
    Ok(StreamRequest {
        port,
        kind,
        request_id,
    })
}

/// What adding a stream to the pending pairs led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Added<T> {
    /// Both streams are here: forward them.
    Complete { error: T, data: T },
    /// Waiting for the other one.
    Waiting,
    /// The pair already has a stream of this kind: the new one is refused.
    Duplicate { refused: T, message: String },
}

struct Pending<T> {
    error: Option<T>,
    data: Option<T>,
    since: Instant,
}

/// Pairs waiting for their second stream, by request id.
pub struct Pairs<T> {
    pending: HashMap<String, Pending<T>>,
}

impl<T> Default for Pairs<T> {
    fn default() -> Self {
        Pairs {
            pending: HashMap::new(),
        }
    }
}

impl<T> Pairs<T> {
    pub fn add(&mut self, req: &StreamRequest, stream: T, now: Instant) -> Added<T> {
        let p = self
            .pending
            .entry(req.request_id.clone())
            .or_insert_with(|| Pending {
                error: None,
                data: None,
                since: now,
            });
        let slot = match req.kind {
            Kind::Error => &mut p.error,
            Kind::Data => &mut p.data,
        };
        if slot.is_some() {
            let which = match req.kind {
                Kind::Error => "error",
                Kind::Data => "data",
            };
            return Added::Duplicate {
                refused: stream,
                message: format!(
                    "error processing stream for request {}: {which} stream already assigned",
                    req.request_id
                ),
            };
        }
        *slot = Some(stream);
        if p.error.is_some() && p.data.is_some() {
            let p = self.pending.remove(&req.request_id);
            if let Some(Pending {
                error: Some(error),
                data: Some(data),
                ..
            }) = p
            {
                return Added::Complete { error, data };
            }
        }
        Added::Waiting
    }

    /// Removes the pairs older than `timeout`, with their request ids and
    /// whatever streams they got.
    pub fn expire(
        &mut self,
        now: Instant,
        timeout: Duration,
    ) -> Vec<(String, Option<T>, Option<T>)> {
        let old: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| now.duration_since(p.since) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        old.into_iter()
            .filter_map(|k| self.pending.remove(&k).map(|p| (k, p.error, p.data)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        pairs
            .iter()
            .fold(Headers::default(), |h, (k, v)| h.with(k, v))
    }

    #[test]
    fn classify_reads_kubectl_headers() {
        let req = classify(
            &h(&[("streamtype", "data"), ("port", "80"), ("requestid", "4")]),
            9,
        )
        .unwrap();
        assert_eq!(
            req,
            StreamRequest {
                port: 80,
                kind: Kind::Data,
                request_id: "4".into()
            }
        );
    }

    #[test]
    fn classify_refuses_bad_headers_with_kubelet_messages() {
        let err = |pairs: &[(&str, &str)]| classify(&h(pairs), 1).unwrap_err();
        assert_eq!(
            err(&[("streamtype", "data")]),
            "\"port\" header is required"
        );
        assert_eq!(
            err(&[("port", "0"), ("streamtype", "data")]),
            "port \"0\" must be > 0"
        );
        assert!(err(&[("port", "99999"), ("streamtype", "data")])
            .starts_with("unable to parse \"99999\" as a port: "));
        assert_eq!(err(&[("port", "80")]), "\"streamType\" header is required");
        assert_eq!(
            err(&[("port", "80"), ("streamtype", "stdin")]),
            "invalid stream type \"stdin\""
        );
    }

    #[test]
    fn old_clients_get_ids_from_stream_numbers() {
        let e = classify(&h(&[("port", "80"), ("streamtype", "error")]), 5).unwrap();
        let d = classify(&h(&[("port", "80"), ("streamtype", "data")]), 7).unwrap();
        assert_eq!((e.request_id.as_str(), d.request_id.as_str()), ("5", "5"));
    }

    #[test]
    fn pairs_complete_in_either_order_and_refuse_duplicates() {
        let now = Instant::now();
        let req = |kind, id: &str| StreamRequest {
            port: 80,
            kind,
            request_id: id.into(),
        };
        let mut p = Pairs::default();
        assert_eq!(p.add(&req(Kind::Error, "0"), "e0", now), Added::Waiting);
        assert_eq!(p.add(&req(Kind::Data, "1"), "d1", now), Added::Waiting);
        assert_eq!(
            p.add(&req(Kind::Data, "0"), "d0", now),
            Added::Complete {
                error: "e0",
                data: "d0"
            }
        );
        assert!(matches!(
            p.add(&req(Kind::Data, "1"), "d1bis", now),
            Added::Duplicate { refused: "d1bis", ref message }
                if message == "error processing stream for request 1: data stream already assigned"
        ));
        assert_eq!(
            p.add(&req(Kind::Error, "1"), "e1", now),
            Added::Complete {
                error: "e1",
                data: "d1"
            }
        );
        assert!(p.is_empty());
    }

    #[test]
    fn incomplete_pairs_expire() {
        let t0 = Instant::now();
        let mut p = Pairs::default();
        let req = StreamRequest {
            port: 80,
            kind: Kind::Error,
            request_id: "3".into(),
        };
        p.add(&req, "e3", t0);
        assert!(p
            .expire(t0 + Duration::from_secs(1), STREAM_CREATION_TIMEOUT)
            .is_empty());
        let gone = p.expire(t0 + STREAM_CREATION_TIMEOUT, STREAM_CREATION_TIMEOUT);
        assert_eq!(gone, vec![("3".to_string(), Some("e3"), None)]);
        assert_eq!(p.len(), 0);
    }
}
