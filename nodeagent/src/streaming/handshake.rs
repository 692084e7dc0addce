//! Which streaming protocol an upgrade request asks for, and the
//! `X-Stream-Protocol-Version` handshake of SPDY upgrades (as apimachinery's
//! httpstream.Handshake does it: the first version the client lists that
//! the server speaks). Shared by exec, attach and port-forward. Pure.

use http::HeaderMap;

/// The header SPDY clients list their stream protocol versions in, and the
/// server answers with the chosen one.
pub const STREAM_PROTOCOL_VERSION: &str = "X-Stream-Protocol-Version";
/// The header a refusal lists the server's versions in.
pub const ACCEPTED_STREAM_PROTOCOL_VERSIONS: &str = "X-Accepted-Stream-Protocol-Versions";

#[derive(Debug, PartialEq, Eq)]
pub enum Protocol {
    WebSocket,
    /// A SPDY/3.1 upgrade, with the stream protocol versions the client offers.
    Spdy(Vec<String>),
    None,
}

fn header_tokens<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub fn protocol(headers: &HeaderMap) -> Protocol {
    let upgrade: Vec<String> = header_tokens(headers, "upgrade").collect();
    if upgrade.iter().any(|u| u.eq_ignore_ascii_case("websocket")) {
        return Protocol::WebSocket;
    }
    if upgrade.iter().any(|u| u.eq_ignore_ascii_case("SPDY/3.1")) {
        return Protocol::Spdy(header_tokens(headers, "x-stream-protocol-version").collect());
    }
    Protocol::None
}

/// The first of the client's versions the server supports, or the refusal
/// message (the kubelet's words).
pub fn negotiate(offered: &[String], supported: &[&'static str]) -> Result<&'static str, String> {
    offered
        .iter()
        .find_map(|o| supported.iter().find(|s| **s == o.as_str()).copied())
        .ok_or_else(|| {
            format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]",
                offered.join(" "),
                supported.join(" ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn protocols_from_upgrade_headers() {
        assert_eq!(
            protocol(&headers(&[
                ("connection", "Upgrade"),
                ("upgrade", "websocket")
            ])),
            Protocol::WebSocket
        );
        assert_eq!(
            protocol(&headers(&[
                ("upgrade", "SPDY/3.1"),
                ("x-stream-protocol-version", "portforward.k8s.io"),
                ("x-stream-protocol-version", "v2, v3"),
            ])),
            Protocol::Spdy(vec!["portforward.k8s.io".into(), "v2".into(), "v3".into()])
        );
        assert_eq!(protocol(&headers(&[])), Protocol::None);
    }

    #[test]
    fn the_clients_first_supported_version_wins() {
        let offered: Vec<String> = [
            "v5.channel.k8s.io",
            "v4.channel.k8s.io",
            "v3.channel.k8s.io",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            negotiate(&offered, &["v3.channel.k8s.io", "v4.channel.k8s.io"]),
            Ok("v4.channel.k8s.io")
        );
        assert_eq!(
            negotiate(&["channel.k8s.io".into()], &["v4.channel.k8s.io"]),
            Err(
                "unable to upgrade: unable to negotiate protocol: client supports \
                 [channel.k8s.io], server accepts [v4.channel.k8s.io]"
                    .into()
            )
        );
    }
}
