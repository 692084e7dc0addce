//! A plain DNS-over-UDP stub resolver for the applets: resolv.conf from
//! `MKUBE_RESOLV_CONF` or /etc/resolv.conf, search domains and ndots.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub ndots: usize,
}

pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut rc = ResolvConf {
        ndots: 1,
        ..Default::default()
    };
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or("").trim();
        let mut it = line.split_whitespace();
        match it.next() {
            Some("nameserver") => {
                if let Some(ip) = it.next().and_then(|s| s.parse().ok()) {
                    rc.nameservers.push(ip);
                }
            }
            Some("search") | Some("domain") => rc.search = it.map(str::to_string).collect(),
            Some("options") => {
                for o in it {
                    if let Some(n) = o.strip_prefix("ndots:").and_then(|n| n.parse().ok()) {
                        rc.ndots = n;
                    }
                }
            }
            _ => {}
        }
    }
    rc
}

pub fn resolv_conf() -> ResolvConf {
    let path = std::env::var("MKUBE_RESOLV_CONF").unwrap_or_else(|_| "/etc/resolv.conf".into());
    let mut rc = parse_resolv_conf(&std::fs::read_to_string(path).unwrap_or_default());
    if rc.nameservers.is_empty() {
        rc.nameservers.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    rc
}

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;

pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *msg.get(pos)? as usize;
        if len & 0xc0 == 0xc0 {
            let ptr = ((len & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
            if end.is_none() {
                end = Some(pos + 2);
            }
            pos = ptr;
            continue;
        }
        if len == 0 {
            return Some((labels.join("."), end.unwrap_or(pos + 1)));
        }
        labels.push(String::from_utf8_lossy(msg.get(pos + 1..pos + 1 + len)?).to_string());
        pos += 1 + len;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    A(String, IpAddr),
    Cname(String, String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rcode: u8,
    pub records: Vec<Record>,
}

pub fn parse_response(msg: &[u8]) -> Option<Answer> {
    if msg.len() < 12 {
        return None;
    }
    let rcode = msg[3] & 0x0f;
    let qd = u16::from_be_bytes([msg[4], msg[5]]) as usize;
    let an = u16::from_be_bytes([msg[6], msg[7]]) as usize;
    let mut pos = 12;
    for _ in 0..qd {
        let (_, p) = read_name(msg, pos)?;
        pos = p + 4;
    }
    let mut records = Vec::new();
    for _ in 0..an {
        let (name, p) = read_name(msg, pos)?;
        let rtype = u16::from_be_bytes([*msg.get(p)?, *msg.get(p + 1)?]);
        let rdlen = u16::from_be_bytes([*msg.get(p + 8)?, *msg.get(p + 9)?]) as usize;
        let rdata = msg.get(p + 10..p + 10 + rdlen)?;
        match rtype {
            TYPE_A if rdlen == 4 => records.push(Record::A(
                name,
                IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])),
            )),
            TYPE_AAAA if rdlen == 16 => {
                let mut b = [0u8; 16];
                b.copy_from_slice(rdata);
                records.push(Record::A(name, IpAddr::V6(Ipv6Addr::from(b))));
            }
            TYPE_CNAME => {
                if let Some((target, _)) = read_name(msg, p + 10) {
                    records.push(Record::Cname(name, target));
                }
            }
            _ => {}
        }
        pos = p + 10 + rdlen;
    }
    Some(Answer { rcode, records })
}

/// One query to `server`, retried once.
pub fn query(server: SocketAddr, name: &str, qtype: u16) -> std::io::Result<Answer> {
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let sock = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))?;
    let id: u16 = rand::random();
    let q = build_query(id, name, qtype);
    let mut buf = [0u8; 4096];
    let mut last_err = std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "connection timed out; no servers could be reached",
    );
    for _ in 0..2 {
        sock.send_to(&q, server)?;
        loop {
            match sock.recv_from(&mut buf) {
                Ok((n, _)) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                    return parse_response(&buf[..n]).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "malformed DNS response",
                        )
                    });
                }
                Ok(_) => continue,
                Err(e) => {
                    last_err = e;
                    break;
                }
            }
        }
    }
    Err(last_err)
}

/// Candidate names with the search list applied (as a stub resolver does).
pub fn candidates(name: &str, rc: &ResolvConf) -> Vec<String> {
    if name.ends_with('.') {
        return vec![name.trim_end_matches('.').to_string()];
    }
    let dots = name.matches('.').count();
    let mut out = Vec::new();
    if dots >= rc.ndots {
        out.push(name.to_string());
    }
    for s in &rc.search {
        out.push(format!("{name}.{s}"));
    }
    if dots < rc.ndots {
        out.push(name.to_string());
    }
    out
}

/// Resolves a host name to addresses: literal IPs, then the stub resolver
/// (A then AAAA), then the system resolver.
pub fn resolve(host: &str) -> Option<Vec<IpAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(vec![ip]);
    }
    let rc = resolv_conf();
    if let Some(server) = rc.nameservers.first() {
        let server = SocketAddr::new(*server, 53);
        for cand in candidates(host, &rc) {
            for t in [TYPE_A, TYPE_AAAA] {
                if let Ok(ans) = query(server, &cand, t) {
                    let ips: Vec<IpAddr> = ans
                        .records
                        .iter()
                        .filter_map(|r| match r {
                            Record::A(_, ip) => Some(*ip),
                            _ => None,
                        })
                        .collect();
                    if !ips.is_empty() {
                        return Some(ips);
                    }
                }
            }
        }
    }
    use std::net::ToSocketAddrs;
    (host, 0)
        .to_socket_addrs()
        .ok()
        .map(|a| a.map(|s| s.ip()).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_parsing() {
        let rc = parse_resolv_conf("nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local\noptions ndots:5\n");
        assert_eq!(
            rc.nameservers,
            vec!["10.96.0.10".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(rc.ndots, 5);
        let c = candidates("kubernetes.default", &rc);
        assert_eq!(c[0], "kubernetes.default.default.svc.cluster.local");
        assert_eq!(c.last().unwrap(), "kubernetes.default");
    }

    #[test]
    fn response_parsing() {
        // A response for example.com A 1.2.3.4 built by hand.
        let mut msg = build_query(7, "example.com", TYPE_A);
        msg[2] = 0x81;
        msg[3] = 0x80;
        msg[7] = 1;
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 1, 2, 3, 4]);
        let a = parse_response(&msg).unwrap();
        assert_eq!(a.rcode, 0);
        assert_eq!(
            a.records,
            vec![Record::A("example.com".into(), "1.2.3.4".parse().unwrap())]
        );
    }
}
