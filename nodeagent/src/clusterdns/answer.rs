//! The answer to one question, as a pure function of the index: the
//! Kubernetes DNS-Based Service Discovery specification (schema 1.1.0) for
//! the cluster domain, PTR records for Service and endpoint addresses, and
//! "not ours" for everything else (the server forwards those).
//!
//! Names exist or not as the specification says: a name with no record of
//! the asked type but that exists (a namespace with Services, a Service
//! asked for TXT, `svc.<zone>`) is NOERROR with no answers (NODATA); a name
//! that does not exist is NXDOMAIN. Both carry the zone's SOA in the
//! authority section, as CoreDNS's kubernetes plugin answers.

use super::index::{dashed, endpoint_label, EndpointEntry, Index, PortEntry, ServiceKind};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TTL of every record, CoreDNS's kubernetes plugin default.
pub const TTL: u32 = 5;
/// What `dns-version.<zone>` answers.
pub const SCHEMA_VERSION: &str = "1.1.0";

/// The cluster domain (`cluster.local`), lower case without the final dot.
#[derive(Debug, Clone)]
pub struct Zone {
    pub domain: String,
}

impl Zone {
    pub fn new(domain: &str) -> Self {
        Zone {
            domain: domain.trim_matches('.').to_ascii_lowercase(),
        }
    }

    /// The part of `qname` before the zone (`""` for the apex), or None
    /// when `qname` is outside the zone.
    fn relative<'a>(&self, qname: &'a str) -> Option<&'a str> {
        if qname == self.domain {
            return Some("");
        }
        qname.strip_suffix(&self.domain)?.strip_suffix('.')
    }

    /// `rel.<zone>.` as a DNS name.
    fn name(&self, rel: &str) -> Option<Name> {
        let text = if rel.is_empty() {
            format!("{}.", self.domain)
        } else {
            format!("{rel}.{}.", self.domain)
        };
        Name::from_ascii(text).ok()
    }
}

/// What to do with a question.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answered from the index.
    Local(Reply),
    /// Outside what this server knows: ask the upstream resolvers.
    Forward,
}

/// A locally computed response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The zone's SOA when there is no answer.
    pub authority: Vec<Record>,
    /// An ExternalName target outside the zone: the server may add its
    /// addresses from upstream, as CoreDNS does.
    pub chase: Option<Name>,
}

impl Reply {
    fn records(answers: Vec<Record>) -> Self {
        Reply {
            rcode: ResponseCode::NoError,
            answers,
            additionals: Vec::new(),
            authority: Vec::new(),
            chase: None,
        }
    }
}

/// The answer to `qname` (any case, with or without the final dot) and
/// `qtype`.
pub fn answer(index: &Index, zone: &Zone, qname: &str, qtype: RecordType) -> Outcome {
    let q = qname.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rel) = zone.relative(&q) {
        let labels: Vec<&str> = rel.split('.').filter(|l| !l.is_empty()).collect();
        let mut reply = zone_answer(index, zone, &labels, qtype, 0);
        if reply.answers.is_empty() {
            reply.authority = soa(zone, index.serial()).into_iter().collect();
        }
        return Outcome::Local(reply);
    }
    let Some(ip) = reverse_ip(&q) else {
        return Outcome::Forward;
    };
    let names = index.reverse(&ip);
    if names.is_empty() {
        // Not a cluster address: the upstream resolvers may know it.
        return Outcome::Forward;
    }
    let Ok(owner) = Name::from_ascii(format!("{q}.")) else {
        return Outcome::Forward;
    };
    if !matches!(qtype, RecordType::PTR | RecordType::ANY) {
        return Outcome::Local(nodata(zone, index));
    }
    let answers = names
        .iter()
        .filter_map(|n| zone.name(n))
        .map(|target| Record::from_rdata(owner.clone(), TTL, RData::PTR(PTR(target))))
        .collect();
    Outcome::Local(Reply::records(answers))
}

fn nodata(zone: &Zone, index: &Index) -> Reply {
    let mut r = Reply::records(Vec::new());
    r.authority = soa(zone, index.serial()).into_iter().collect();
    r
}

fn nxdomain() -> Reply {
    let mut r = Reply::records(Vec::new());
    r.rcode = ResponseCode::NXDomain;
    r
}

/// `<zone>. SOA ns.dns.<zone>. hostmaster.<zone>. serial 7200 1800 86400 5`.
fn soa(zone: &Zone, serial: u32) -> Option<Record> {
    let data = SOA::new(
        zone.name("ns.dns")?,
        zone.name("hostmaster")?,
        serial,
        7200,
        1800,
        86400,
        TTL,
    );
    Some(Record::from_rdata(zone.name("")?, TTL, RData::SOA(data)))
}

/// Names under the zone; `labels` are the labels before it.
fn zone_answer(index: &Index, zone: &Zone, labels: &[&str], qtype: RecordType, depth: u8) -> Reply {
    let Some(owner) = zone.name(&labels.join(".")) else {
        return nxdomain();
    };
    match labels {
        [] if qtype == RecordType::SOA => {
            Reply::records(soa(zone, index.serial()).into_iter().collect())
        }
        [] => Reply::records(Vec::new()),
        ["dns-version"] if matches!(qtype, RecordType::TXT | RecordType::ANY) => {
            Reply::records(vec![Record::from_rdata(
                owner,
                TTL,
                RData::TXT(TXT::new(vec![SCHEMA_VERSION.to_string()])),
            )])
        }
        ["dns-version"] => Reply::records(Vec::new()),
        [rest @ .., "svc"] => services(index, zone, &owner, rest, qtype, depth),
        [rest @ .., "pod"] => pod(&owner, rest, qtype),
        _ => nxdomain(),
    }
}

/// `<svc>.<ns>.svc`, `<endpoint>.<svc>.<ns>.svc`, `_<port>._<proto>.<svc>.<ns>.svc`.
fn services(
    index: &Index,
    zone: &Zone,
    owner: &Name,
    rest: &[&str],
    qtype: RecordType,
    depth: u8,
) -> Reply {
    match rest {
        [] => Reply::records(Vec::new()),
        [ns] if index.namespace_exists(ns) => Reply::records(Vec::new()),
        [_] => nxdomain(),
        [svc, ns] => service(index, zone, owner, ns, svc, qtype, depth),
        [port, proto, svc, ns] if port.starts_with('_') && proto.starts_with('_') => {
            named_port(index, zone, owner, ns, svc, &port[1..], &proto[1..], qtype)
        }
        [label, svc, ns] => endpoint(index, owner, ns, svc, label, qtype),
        _ => nxdomain(),
    }
}

/// Address records of `ips` for `qtype` (A: IPv4, AAAA: IPv6, ANY: both).
fn addresses(
    owner: &Name,
    ips: impl IntoIterator<Item = IpAddr>,
    qtype: RecordType,
) -> Vec<Record> {
    ips.into_iter()
        .filter_map(|ip| match (ip, qtype) {
            (IpAddr::V4(v4), RecordType::A | RecordType::ANY) => Some(RData::A(A(v4))),
            (IpAddr::V6(v6), RecordType::AAAA | RecordType::ANY) => Some(RData::AAAA(AAAA(v6))),
            _ => None,
        })
        .map(|d| Record::from_rdata(owner.clone(), TTL, d))
        .collect()
}

fn is_address_query(qtype: RecordType) -> bool {
    matches!(qtype, RecordType::A | RecordType::AAAA | RecordType::ANY)
}

fn service(
    index: &Index,
    zone: &Zone,
    owner: &Name,
    ns: &str,
    name: &str,
    qtype: RecordType,
    depth: u8,
) -> Reply {
    let Some(svc) = index.service(ns, name) else {
        return nxdomain();
    };
    match &svc.kind {
        ServiceKind::ExternalName(target) => {
            external_name(index, zone, owner, target, qtype, depth)
        }
        ServiceKind::ClusterIp(ips) => {
            if qtype == RecordType::SRV {
                let ports: Vec<&PortEntry> =
                    svc.ports.iter().filter(|p| !p.name.is_empty()).collect();
                return srv_to_service(owner, &ports, ips, qtype);
            }
            Reply::records(addresses(owner, ips.iter().copied(), qtype))
        }
        ServiceKind::Headless => {
            let eps = index.endpoints(ns, name);
            if eps.is_empty() {
                // No endpoint can answer: the name does not exist (CoreDNS).
                return nxdomain();
            }
            if qtype == RecordType::SRV {
                return srv_to_endpoints(owner, &eps, |p| !p.name.is_empty());
            }
            Reply::records(addresses(owner, eps.iter().map(|(e, _)| e.ip), qtype))
        }
    }
}

/// ExternalName: a CNAME; for address questions the target's addresses
/// follow when the target is in the zone (once: no chains of aliases).
fn external_name(
    index: &Index,
    zone: &Zone,
    owner: &Name,
    target: &str,
    qtype: RecordType,
    depth: u8,
) -> Reply {
    let Ok(target_name) = Name::from_ascii(format!("{target}.")) else {
        return Reply::records(Vec::new());
    };
    let cname = Record::from_rdata(owner.clone(), TTL, RData::CNAME(CNAME(target_name.clone())));
    let mut reply = Reply::records(vec![cname]);
    if !is_address_query(qtype) || depth > 0 {
        return reply;
    }
    match zone.relative(target) {
        Some(rel) => {
            let labels: Vec<&str> = rel.split('.').filter(|l| !l.is_empty()).collect();
            let inner = zone_answer(index, zone, &labels, qtype, depth + 1);
            reply.answers.extend(inner.answers);
        }
        None => reply.chase = Some(target_name),
    }
    reply
}

/// SRV records pointing at the Service name (ClusterIP Services).
fn srv_to_service(owner: &Name, ports: &[&PortEntry], ips: &[IpAddr], qtype: RecordType) -> Reply {
    if ports.is_empty() {
        return Reply::records(Vec::new());
    }
    let target = service_name_of(owner, qtype);
    let weight = srv_weight(ports.len());
    let answers = ports
        .iter()
        .map(|p| {
            Record::from_rdata(
                owner.clone(),
                TTL,
                RData::SRV(SRV::new(0, weight, p.port, target.clone())),
            )
        })
        .collect();
    let mut reply = Reply::records(answers);
    reply.additionals = addresses(&target, ips.iter().copied(), RecordType::ANY);
    reply
}

/// For `_<port>._<proto>.<svc>...` questions the Service name is the owner
/// without the two port labels; for `<svc>...` it is the owner.
fn service_name_of(owner: &Name, qtype: RecordType) -> Name {
    let first = owner.iter().next().unwrap_or_default();
    if qtype == RecordType::SRV && first.starts_with(b"_") {
        owner.base_name().base_name()
    } else {
        owner.clone()
    }
}

/// CoreDNS's weight: 100 shared by the records of one priority.
fn srv_weight(n: usize) -> u16 {
    u16::try_from(100 / n.max(1)).unwrap_or(100).max(1)
}

/// SRV records per endpoint and matching endpoint port (headless Services),
/// each target `<endpoint>.<svc>.<ns>.svc` with its address as additional.
fn srv_to_endpoints(
    owner: &Name,
    eps: &[(&EndpointEntry, &[PortEntry])],
    keep: impl Fn(&PortEntry) -> bool,
) -> Reply {
    let service_name = service_name_of(owner, RecordType::SRV);
    let pairs: Vec<(&EndpointEntry, &PortEntry)> = eps
        .iter()
        .flat_map(|(e, ports)| ports.iter().filter(|p| keep(p)).map(move |p| (*e, p)))
        .collect();
    if pairs.is_empty() {
        return Reply::records(Vec::new());
    }
    let weight = srv_weight(pairs.len());
    let mut reply = Reply::records(Vec::new());
    for (e, p) in pairs {
        let Ok(target) = service_name.prepend_label(endpoint_label(e).as_str()) else {
            continue;
        };
        reply.answers.push(Record::from_rdata(
            owner.clone(),
            TTL,
            RData::SRV(SRV::new(0, weight, p.port, target.clone())),
        ));
        reply
            .additionals
            .extend(addresses(&target, [e.ip], RecordType::ANY));
    }
    reply
}

#[allow(clippy::too_many_arguments)]
fn named_port(
    index: &Index,
    zone: &Zone,
    owner: &Name,
    ns: &str,
    name: &str,
    port: &str,
    proto: &str,
    qtype: RecordType,
) -> Reply {
    let _ = zone;
    let Some(svc) = index.service(ns, name) else {
        return nxdomain();
    };
    let matches = |p: &PortEntry| !p.name.is_empty() && p.name == port && p.protocol == proto;
    let reply = match &svc.kind {
        ServiceKind::ClusterIp(ips) => {
            let ports: Vec<&PortEntry> = svc.ports.iter().filter(|p| matches(p)).collect();
            srv_to_service(owner, &ports, ips, RecordType::SRV)
        }
        ServiceKind::Headless => srv_to_endpoints(owner, &index.endpoints(ns, name), matches),
        ServiceKind::ExternalName(_) => return nxdomain(),
    };
    if reply.answers.is_empty() {
        return nxdomain();
    }
    if qtype == RecordType::SRV || qtype == RecordType::ANY {
        reply
    } else {
        Reply::records(Vec::new())
    }
}

/// `<endpoint>.<svc>.<ns>.svc`: the endpoint's address by hostname or
/// dashed address.
fn endpoint(
    index: &Index,
    owner: &Name,
    ns: &str,
    svc: &str,
    label: &str,
    qtype: RecordType,
) -> Reply {
    if index.service(ns, svc).is_none() {
        return nxdomain();
    }
    let ips: Vec<IpAddr> = index
        .endpoints(ns, svc)
        .iter()
        .filter(|(e, _)| endpoint_label(e) == label)
        .map(|(e, _)| e.ip)
        .collect();
    if ips.is_empty() {
        return nxdomain();
    }
    Reply::records(addresses(owner, ips, qtype))
}

/// `a-b-c-d.<ns>.pod`: the address written in the name (CoreDNS's
/// `pods insecure` mode, the kubeadm default).
fn pod(owner: &Name, rest: &[&str], qtype: RecordType) -> Reply {
    match rest {
        [] | [_] => Reply::records(Vec::new()),
        [ip, _ns] => match undashed(ip) {
            Some(ip) => Reply::records(addresses(owner, [ip], qtype)),
            None => nxdomain(),
        },
        _ => nxdomain(),
    }
}

/// `10-244-0-5` -> 10.244.0.5, `fd00--5` -> fd00::5 (the inverse of
/// `dashed`).
fn undashed(label: &str) -> Option<IpAddr> {
    if let Ok(v4) = label.replace('-', ".").parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(v4));
    }
    let ip = IpAddr::V6(label.replace('-', ":").parse::<Ipv6Addr>().ok()?);
    (dashed(&ip) == label || label.contains(':')).then_some(ip)
}

/// The address of a reverse name: `d.c.b.a.in-addr.arpa`, or 32 nibbles
/// under `ip6.arpa`.
pub fn reverse_ip(qname: &str) -> Option<IpAddr> {
    if let Some(rest) = qname.strip_suffix(".in-addr.arpa") {
        let octets: Vec<u8> = rest
            .split('.')
            .map(|o| o.parse().ok())
            .collect::<Option<_>>()?;
        let [d, c, b, a] = octets.as_slice() else {
            return None;
        };
        return Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d)));
    }
    let rest = qname.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|n| u8::from_str_radix(n, 16).ok().filter(|_| n.len() == 1))
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let value = nibbles
        .iter()
        .rev()
        .fold(0u128, |acc, n| (acc << 4) | u128::from(*n));
    Some(IpAddr::V6(Ipv6Addr::from(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    use serde_json::json;

    fn svc(ns: &str, name: &str, spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec}))
            .unwrap()
    }

    fn slice(
        ns: &str,
        name: &str,
        svc: &str,
        endpoints: serde_json::Value,
        ports: serde_json::Value,
    ) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports
        }))
        .unwrap()
    }

    /// A cluster with a ClusterIP Service, a headless one with three pods
    /// (one not ready, two with hostnames), an ExternalName, one in
    /// another namespace.
    fn index() -> Index {
        let mut i = Index::default();
        i.apply_service(&svc(
            "default",
            "web",
            json!({"clusterIP": "127.96.0.20", "clusterIPs": ["127.96.0.20"],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"port": 9000}]}),
        ));
        i.apply_service(&svc(
            "default",
            "db",
            json!({"clusterIP": "None",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}),
        ));
        i.apply_slice(&slice(
            "default",
            "db-abc",
            "db",
            json!([
                {"addresses": ["127.244.0.5"], "hostname": "web-0", "conditions": {"ready": true}},
                {"addresses": ["127.244.0.6"], "hostname": "web-1", "conditions": {"ready": true}},
                {"addresses": ["127.244.0.7"], "conditions": {"ready": false}}
            ]),
            json!([{"name": "pg", "port": 5433, "protocol": "TCP"}]),
        ));
        i.apply_service(&svc(
            "default",
            "alias",
            json!({"type": "ExternalName", "externalName": "db.default.svc.cluster.local"}),
        ));
        i.apply_service(&svc(
            "default",
            "outside",
            json!({"type": "ExternalName", "externalName": "example.com"}),
        ));
        i.apply_service(&svc(
            "shared",
            "database",
            json!({"clusterIP": "127.96.0.30"}),
        ));
        i
    }

    fn zone() -> Zone {
        Zone::new("cluster.local")
    }

    fn local(i: &Index, q: &str, t: RecordType) -> Reply {
        match answer(i, &zone(), q, t) {
            Outcome::Local(r) => r,
            Outcome::Forward => panic!("{q} was forwarded"),
        }
    }

    fn data(r: &Reply) -> Vec<String> {
        r.answers
            .iter()
            .map(|a| format!("{} {}", a.name, a.data))
            .collect()
    }

    #[test]
    fn cluster_ip_service() {
        let i = index();
        let r = local(&i, "web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert_eq!(data(&r), vec!["web.default.svc.cluster.local. 127.96.0.20"]);
        assert_eq!(r.answers[0].ttl, TTL);
        // Case does not matter.
        assert_eq!(
            data(&local(&i, "WEB.Default.svc.cluster.local", RecordType::A)).len(),
            1
        );
        // IPv4 Service asked for AAAA: NODATA with the SOA.
        let r = local(&i, "web.default.svc.cluster.local", RecordType::AAAA);
        assert_eq!(r.rcode, ResponseCode::NoError);
        assert!(r.answers.is_empty());
        assert_eq!(r.authority.len(), 1);
        assert_eq!(r.authority[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn dual_stack_service_answers_a_and_aaaa() {
        let mut i = Index::default();
        i.apply_service(&svc(
            "default",
            "both",
            json!({"clusterIP": "fd00:96::7", "clusterIPs": ["fd00:96::7", "127.96.0.7"],
            "ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "PreferDualStack",
            "ports": [{"port": 80}]}),
        ));
        let name = "both.default.svc.cluster.local.";
        assert_eq!(
            data(&local(&i, name, RecordType::A)),
            vec![format!("{name} 127.96.0.7")]
        );
        assert_eq!(
            data(&local(&i, name, RecordType::AAAA)),
            vec![format!("{name} fd00:96::7")]
        );
    }

    #[test]
    fn nxdomain_versus_nodata() {
        let i = index();
        for (q, rcode) in [
            ("missing.default.svc.cluster.local", ResponseCode::NXDomain),
            ("default.svc.cluster.local", ResponseCode::NoError),
            ("nosuchns.svc.cluster.local", ResponseCode::NXDomain),
            ("svc.cluster.local", ResponseCode::NoError),
            ("cluster.local", ResponseCode::NoError),
            (
                "web.default.svc.cluster.local.default.svc.cluster.local",
                ResponseCode::NXDomain,
            ),
            ("something.cluster.local", ResponseCode::NXDomain),
        ] {
            let r = local(&i, q, RecordType::A);
            assert_eq!(r.rcode, rcode, "{q}");
            assert!(r.answers.is_empty(), "{q}");
        }
        // A name that exists, asked for a type it lacks.
        assert_eq!(
            local(&i, "web.default.svc.cluster.local", RecordType::TXT).rcode,
            ResponseCode::NoError
        );
    }

    #[test]
    fn headless_ready_endpoints_and_hostnames() {
        let mut i = index();
        let r = local(&i, "db.default.svc.cluster.local", RecordType::A);
        let mut ips = data(&r);
        ips.sort();
        assert_eq!(
            ips,
            vec![
                "db.default.svc.cluster.local. 127.244.0.5",
                "db.default.svc.cluster.local. 127.244.0.6"
            ]
        );
        assert_eq!(
            data(&local(
                &i,
                "web-0.db.default.svc.cluster.local",
                RecordType::A
            )),
            vec!["web-0.db.default.svc.cluster.local. 127.244.0.5"]
        );
        assert_eq!(
            local(&i, "web-9.db.default.svc.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
        // publishNotReadyAddresses publishes the third one.
        i.apply_service(&svc(
            "default",
            "db",
            json!({"clusterIP": "None", "publishNotReadyAddresses": true}),
        ));
        assert_eq!(
            local(&i, "db.default.svc.cluster.local", RecordType::A)
                .answers
                .len(),
            3
        );
        assert_eq!(
            data(&local(
                &i,
                "127-244-0-7.db.default.svc.cluster.local",
                RecordType::A
            )),
            vec!["127-244-0-7.db.default.svc.cluster.local. 127.244.0.7"]
        );
        // No endpoints at all: the name does not exist.
        i.delete_slice(&slice("default", "db-abc", "db", json!([]), json!([])));
        assert_eq!(
            local(&i, "db.default.svc.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
    }

    #[test]
    fn srv_for_named_ports() {
        let i = index();
        let r = local(
            &i,
            "_http._tcp.web.default.svc.cluster.local",
            RecordType::SRV,
        );
        assert_eq!(
            data(&r),
            vec![
                "_http._tcp.web.default.svc.cluster.local. 0 100 80 web.default.svc.cluster.local."
            ]
        );
        assert_eq!(r.additionals.len(), 1);
        assert_eq!(
            local(
                &i,
                "_http._udp.web.default.svc.cluster.local",
                RecordType::SRV
            )
            .rcode,
            ResponseCode::NXDomain
        );
        // Headless: one per endpoint with the endpoint port, target by hostname.
        let r = local(&i, "_pg._tcp.db.default.svc.cluster.local", RecordType::SRV);
        let mut d = data(&r);
        d.sort();
        assert_eq!(
            d,
            vec![
                "_pg._tcp.db.default.svc.cluster.local. 0 50 5433 web-0.db.default.svc.cluster.local.",
                "_pg._tcp.db.default.svc.cluster.local. 0 50 5433 web-1.db.default.svc.cluster.local."
            ]
        );
        assert_eq!(r.additionals.len(), 2);
        // SRV on the Service name: every named port.
        assert_eq!(
            local(&i, "web.default.svc.cluster.local", RecordType::SRV)
                .answers
                .len(),
            1
        );
    }

    #[test]
    fn external_name_cname() {
        let i = index();
        let r = local(&i, "alias.default.svc.cluster.local", RecordType::A);
        let d = data(&r);
        assert_eq!(
            d[0],
            "alias.default.svc.cluster.local. db.default.svc.cluster.local."
        );
        assert_eq!(
            d.len(),
            3,
            "CNAME then the in-cluster target's addresses: {d:?}"
        );
        let r = local(&i, "outside.default.svc.cluster.local", RecordType::A);
        assert_eq!(
            data(&r),
            vec!["outside.default.svc.cluster.local. example.com."]
        );
        assert_eq!(
            r.chase.map(|n| n.to_string()),
            Some("example.com.".to_string())
        );
    }

    #[test]
    fn pods_ptr_and_version() {
        let i = index();
        assert_eq!(
            data(&local(
                &i,
                "127-244-0-9.default.pod.cluster.local",
                RecordType::A
            )),
            vec!["127-244-0-9.default.pod.cluster.local. 127.244.0.9"]
        );
        assert_eq!(
            local(&i, "not-an-ip.default.pod.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            data(&local(&i, "20.0.96.127.in-addr.arpa", RecordType::PTR)),
            vec!["20.0.96.127.in-addr.arpa. web.default.svc.cluster.local."]
        );
        assert_eq!(
            data(&local(&i, "5.0.244.127.in-addr.arpa.", RecordType::PTR)),
            vec!["5.0.244.127.in-addr.arpa. web-0.db.default.svc.cluster.local."]
        );
        // Unknown addresses and other zones belong upstream.
        assert_eq!(
            answer(&i, &zone(), "1.0.0.127.in-addr.arpa", RecordType::PTR),
            Outcome::Forward
        );
        assert_eq!(
            answer(&i, &zone(), "example.com", RecordType::A),
            Outcome::Forward
        );
        assert_eq!(
            data(&local(&i, "dns-version.cluster.local", RecordType::TXT)),
            vec!["dns-version.cluster.local. 1.1.0"]
        );
        assert_eq!(
            reverse_ip("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa"),
            Some("fd00::1".parse().unwrap())
        );
    }

    #[test]
    fn relist_drops_what_is_gone() {
        let mut i = index();
        let listed = std::collections::HashSet::from([("default".to_string(), "web".to_string())]);
        i.retain_services(&listed);
        assert_eq!(
            local(&i, "web.default.svc.cluster.local", RecordType::A)
                .answers
                .len(),
            1
        );
        assert_eq!(
            local(&i, "database.shared.svc.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
        i.apply_service(&svc("default", "db", json!({"clusterIP": "None"})));
        assert_eq!(
            local(&i, "db.default.svc.cluster.local", RecordType::A)
                .answers
                .len(),
            2
        );
        i.retain_slices(&std::collections::HashSet::new());
        assert_eq!(
            local(&i, "db.default.svc.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            answer(&i, &zone(), "5.0.244.127.in-addr.arpa", RecordType::PTR),
            Outcome::Forward
        );
    }

    #[test]
    fn other_domain_and_deletes() {
        let mut i = index();
        let z = Zone::new("example.org.");
        assert!(matches!(
            answer(&i, &z, "web.default.svc.cluster.local", RecordType::A),
            Outcome::Forward
        ));
        assert!(
            matches!(answer(&i, &z, "web.default.svc.example.org", RecordType::A), Outcome::Local(r) if r.answers.len() == 1)
        );
        i.delete_service(&svc("default", "web", json!({})));
        assert_eq!(
            local(&i, "web.default.svc.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
        assert_eq!(
            answer(&i, &zone(), "20.0.96.127.in-addr.arpa", RecordType::PTR),
            Outcome::Forward
        );
        i.delete_service(&svc("shared", "database", json!({})));
        assert_eq!(
            local(&i, "shared.svc.cluster.local", RecordType::A).rcode,
            ResponseCode::NXDomain
        );
    }
}
