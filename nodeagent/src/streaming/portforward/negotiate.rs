//! Which port-forward protocol an upgrade request asks for, and the
//! `X-Stream-Protocol-Version` handshake of SPDY upgrades (as
//! apimachinery's httpstream.Handshake does it). Pure.

use http::HeaderMap;

/// The SPDY port-forward protocol version.
pub const SPDY_SUBPROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol of SPDY tunneled over WebSocket.
pub const TUNNELED_SUBPROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

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

/// The version to answer with: none when the client offers none (old
/// clients), `portforward.k8s.io` when offered, else the refusal message.
pub fn spdy_version(offered: &[String]) -> Result<Option<&'static str>, String> {
    if offered.is_empty() {
        return Ok(None);
    }
    if offered.iter().any(|v| v == SPDY_SUBPROTOCOL) {
        return Ok(Some(SPDY_SUBPROTOCOL));
    }
    Err(format!(
        "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{SPDY_SUBPROTOCOL}]",
        offered.join(" ")
    ))
}

/// The values of the `ports` (or `port`) query parameter.
pub fn query_ports(query: &str) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "ports" || k == "port")
        .map(|(_, v)| v.into_owned())
        .collect()
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
    fn spdy_handshake() {
        assert_eq!(spdy_version(&[]), Ok(None));
        assert_eq!(
            spdy_version(&["portforward.k8s.io".into()]),
            Ok(Some("portforward.k8s.io"))
        );
        assert_eq!(
            spdy_version(&["v4.channel.k8s.io".into()]),
            Err(
                "unable to upgrade: unable to negotiate protocol: client supports \
                 [v4.channel.k8s.io], server accepts [portforward.k8s.io]"
                    .into()
            )
        );
    }

    #[test]
    fn ports_from_query() {
        assert_eq!(
            query_ports("ports=80&ports=443,8080&x=1"),
            vec!["80", "443,8080"]
        );
        assert_eq!(query_ports("port=81"), vec!["81"]);
        assert!(query_ports("").is_empty());
    }
}
