//! The socket side: hickory's server (UDP and TCP, truncation of UDP
//! answers beyond 512 bytes or the client's EDNS size) with a handler that
//! asks `answer::answer` under a read lock of the index, and relays other
//! names to the upstream resolvers.

use super::answer::{answer, Outcome, Reply, Zone};
use super::forward::Forwarder;
use super::index::Index;
use hickory_proto::op::{Edns, Header, HeaderCounts, Message, Metadata, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use std::sync::{Arc, RwLock};

/// Answers questions from the index, forwards the rest.
pub struct Handler {
    pub index: Arc<RwLock<Index>>,
    pub zone: Zone,
    pub forwarder: Forwarder,
}

/// The records of a response, in sections.
#[derive(Default)]
struct Sections {
    rcode: ResponseCode,
    authoritative: bool,
    truncated: bool,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additionals: Vec<Record>,
}

impl From<Reply> for Sections {
    fn from(r: Reply) -> Self {
        Sections {
            rcode: r.rcode,
            authoritative: true,
            truncated: false,
            answers: r.answers,
            authority: r.authority,
            additionals: r.additionals,
        }
    }
}

impl From<Message> for Sections {
    fn from(m: Message) -> Self {
        Sections {
            rcode: m.metadata.response_code,
            authoritative: false,
            truncated: m.metadata.truncation,
            answers: m.answers,
            authority: m.authorities,
            additionals: m.additionals,
        }
    }
}

fn servfail() -> Sections {
    Sections {
        rcode: ResponseCode::ServFail,
        ..Default::default()
    }
}

impl Handler {
    fn local(&self, qname: &str, qtype: RecordType) -> Outcome {
        match self.index.read() {
            Ok(index) => answer(&index, &self.zone, qname, qtype),
            Err(_) => Outcome::Local(Reply {
                rcode: ResponseCode::ServFail,
                answers: Vec::new(),
                additionals: Vec::new(),
                authority: Vec::new(),
                chase: None,
            }),
        }
    }

    /// The sections for a request: local answer, or upstream's.
    async fn sections(&self, request: &Request) -> Sections {
        let Ok(info) = request.request_info() else {
            return Sections {
                rcode: ResponseCode::FormErr,
                ..Default::default()
            };
        };
        let qname = info.query.name().to_string();
        let qtype = info.query.query_type();
        match self.local(&qname, qtype) {
            Outcome::Local(reply) => {
                let chase = reply.chase.clone();
                let mut sections = Sections::from(reply);
                if let Some(target) = chase {
                    sections.answers.extend(self.chase(&target, qtype).await);
                }
                sections
            }
            Outcome::Forward => match self.forwarder.forward(request.as_slice()).await {
                Some(reply) => reply.into(),
                None => servfail(),
            },
        }
    }

    /// The addresses of an ExternalName target, from upstream.
    async fn chase(&self, target: &hickory_proto::rr::Name, qtype: RecordType) -> Vec<Record> {
        let mut q = Message::query();
        q.metadata.id = rand::random();
        q.metadata.recursion_desired = true;
        q.add_query(hickory_proto::op::Query::query(target.clone(), qtype));
        let Ok(bytes) = q.to_vec() else {
            return Vec::new();
        };
        self.forwarder
            .forward(&bytes)
            .await
            .map(|m| m.answers)
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let s = self.sections(request).await;
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = s.rcode;
        metadata.authoritative = s.authoritative;
        metadata.truncation = s.truncated;
        metadata.recursion_available = true;
        // Answer with EDNS when asked with it, so large answers fit the
        // client's buffer before hickory truncates.
        let edns = request.edns.as_ref().map(|e| {
            let mut r = Edns::new();
            r.set_max_payload(e.max_payload().max(512));
            r
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = &edns {
            builder.edns(e);
        }
        let response = builder.build(
            metadata,
            s.answers.iter(),
            std::iter::empty(),
            s.authority.iter(),
            s.additionals.iter(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::warn!(error = %e, "sending a DNS response failed");
                let mut failed = Metadata::response_from_request(&request.metadata);
                failed.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata: failed,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
