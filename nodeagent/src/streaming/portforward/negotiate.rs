//! Port-forward's side of the handshake: its SPDY stream protocol version
//! (none from old clients), the subprotocol of SPDY tunneled in WebSocket,
//! and the ports of a WebSocket request. Pure.

use crate::streaming::handshake;

/// The SPDY port-forward protocol version.
pub const SPDY_SUBPROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol of SPDY tunneled over WebSocket.
pub const TUNNELED_SUBPROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// The version to answer with: none when the client offers none (old
/// clients), `portforward.k8s.io` when offered, else the refusal message.
pub fn spdy_version(offered: &[String]) -> Result<Option<&'static str>, String> {
    if offered.is_empty() {
        return Ok(None);
    }
    handshake::negotiate(offered, &[SPDY_SUBPROTOCOL]).map(Some)
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
