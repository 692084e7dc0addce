//! `/openapi/v2` as kubectl (v1.37) reads it: in protobuf (gnostic's
//! `openapi.v2.Document`), asked for with
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`.
//!
//! kubectl's client-side validation looks a kind up in `/openapi/v3` first;
//! for a kind it does not find there (an unknown kind, a kind whose CRD is
//! not installed) it falls back to the v2 document. If that download cannot
//! be parsed, the apply ends with `failed to download openapi: proto: ...`
//! instead of kubectl's own message about the kind.

use e2e::Cluster;

const WIDGET: &str = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: default\nspec:\n  size: 3\n";

/// The header block of a `curl -D -` response (the body follows it).
fn headers(raw: &str) -> Vec<(String, String)> {
    raw.split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn header<'a>(hs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    hs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn apply_of_a_kind_without_a_schema_ends_with_kubectls_own_error() {
    let c = Cluster::start();

    // Unknown kind: validation falls back to /openapi/v2 (protobuf), finds
    // no schema, and the apply ends where it does against kube-apiserver:
    // the REST mapping of the kind fails.
    let out = c.kubectl_stdin(["apply", "-f", "-"], WIDGET);
    let err = e2e::text(&out.stderr);
    assert!(!out.status.success(), "apply of a Widget succeeded: {err}");
    assert!(
        !err.contains("failed to download openapi") && !err.contains("proto:"),
        "kubectl could not read /openapi/v2:\n{err}"
    );
    assert!(
        err.contains(
            r#"resource mapping not found for name: "w1" namespace: "default" from "STDIN": no matches for kind "Widget" in version "example.com/v1""#
        ) && err.contains("ensure CRDs are installed first"),
        "apply of a Widget:\n{err}"
    );

    // The same with validation spelled out (strict is the default).
    let out = c.kubectl_stdin(["apply", "--validate=strict", "-f", "-"], WIDGET);
    let err = e2e::text(&out.stderr);
    assert!(!out.status.success(), "strict apply of a Widget succeeded");
    assert!(
        !err.contains("failed to download openapi") && err.contains("no matches for kind"),
        "strict apply of a Widget:\n{err}"
    );

    // Served kinds still validate: strictly, with the server's message.
    let err = c.kubectl_stdin_err(
        ["apply", "--validate=strict", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\ndata:\n  a: b\nbogus: 1\n",
    );
    assert_eq!(
        err.trim(),
        r#"Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus""#
    );
    // And a valid one is applied.
    let out = c.kubectl_stdin_ok(
        ["apply", "--validate=strict", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  a: b\n",
    );
    assert_eq!(out.trim(), "configmap/fine created");
}

#[test]
fn openapi_v2_is_served_in_protobuf_or_json_by_accept() {
    let c = Cluster::start();
    let token = c.token();
    let get = |accept: Option<&str>, extra: &[&str]| {
        let mut args = vec!["-D", "-"];
        let h;
        if let Some(a) = accept {
            h = format!("Accept: {a}");
            args.extend(["-H", h.as_str()]);
        }
        args.extend_from_slice(extra);
        c.curl_args("GET", "/openapi/v2", Some(&token), None, &args)
    };

    // No Accept, and */*: JSON.
    for accept in [None, Some("*/*")] {
        let r = get(accept, &[]);
        assert_eq!(r.status, 200, "{accept:?}");
        let hs = headers(&r.body);
        assert_eq!(
            header(&hs, "content-type"),
            Some("application/json"),
            "{accept:?}"
        );
        assert!(r.body.contains(r#""swagger":"2.0""#), "{accept:?}");
    }

    // Both protobuf spellings: one Content-Type, the current one.
    let mut etags = Vec::new();
    for accept in [
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        "application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
    ] {
        let r = get(Some(accept), &[]);
        assert_eq!(r.status, 200, "{accept}");
        let hs = headers(&r.body);
        assert_eq!(
            header(&hs, "content-type"),
            Some("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
            "{accept}"
        );
        assert_eq!(header(&hs, "vary"), Some("Accept"), "{accept}");
        // Field 1 of the Document, `swagger: "2.0"`, comes first.
        let body = r.body.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        assert!(
            body.starts_with("\n\u{3}2.0"),
            "{accept}: {:?}",
            &body[..body.len().min(20)]
        );
        etags.push(header(&hs, "etag").map(str::to_string));
    }
    let etag = etags[0].clone().expect("an ETag on the protobuf response");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(etags.iter().all(|e| e.as_deref() == Some(etag.as_str())));

    // A cached copy is still good: 304 without a body.
    let inm = format!("If-None-Match: {etag}");
    let r = get(
        Some("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        &["-H", &inm],
    );
    assert_eq!(r.status, 304, "{}", r.body);

    // Nothing acceptable: 406.
    let r = get(Some("text/html"), &[]);
    assert_eq!(r.status, 406, "{}", r.body);
}
