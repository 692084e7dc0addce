//! Dual-stack Services and NodePorts end to end with the real kubectl, on
//! clusters started with an IPv4 and an IPv6 `--service-cidr`
//! ([`Cluster::start_dual_stack`]: the IPv6 range is a unique local range of
//! the cluster's own that nothing routes; addresses are only allocated from
//! it, never sent to).

use e2e::{Cluster, Table};
use std::net::IpAddr;

/// The Service's `spec.clusterIPs`, in order.
fn cluster_ips(c: &Cluster, name: &str) -> Vec<String> {
    c.get_jsonpath(&["svc", name], "{.spec.clusterIPs[*]}")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The cluster's Service range of the family of `v6`.
fn range(c: &Cluster, v6: bool) -> String {
    c.service_cidr()
        .split(',')
        .find(|r| r.contains(':') == v6)
        .unwrap_or_else(|| {
            panic!(
                "no {} range in {}",
                if v6 { "IPv6" } else { "IPv4" },
                c.service_cidr()
            )
        })
        .to_string()
}

/// Whether `ip` lies in `cidr` (both of one family).
fn in_range(ip: &str, cidr: &str) -> bool {
    let (net, bits) = cidr.split_once('/').expect("a CIDR");
    let bits: u32 = bits.parse().expect("a prefix length");
    let as_int = |a: IpAddr| match a {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    };
    let (Ok(ip), Ok(net)) = (ip.parse::<IpAddr>(), net.parse::<IpAddr>()) else {
        return false;
    };
    let ((ip, width), (net, net_width)) = (as_int(ip), as_int(net));
    let shift = width - bits;
    width == net_width && ip >> shift == net >> shift
}

fn apply(c: &Cluster, manifest: &str) {
    c.kubectl_stdin_ok(["apply", "-f", "-"], manifest);
}

fn apply_err(c: &Cluster, manifest: &str) -> String {
    c.kubectl_stdin_err(["apply", "-f", "-"], manifest)
}

fn service(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n{spec}  ports: [{{port: 80}}]\n"
    )
}

#[test]
fn services_get_one_address_per_requested_family() {
    let c = Cluster::start_dual_stack(108, &[]);
    let (v4_range, v6_range) = (range(&c, false), range(&c, true));

    apply(&c, &service("both", "  ipFamilyPolicy: PreferDualStack\n"));
    let both = cluster_ips(&c, "both");
    assert_eq!(both.len(), 2, "{both:?}");
    assert!(in_range(&both[0], &v4_range), "{both:?} / {v4_range}");
    assert!(in_range(&both[1], &v6_range), "{both:?} / {v6_range}");
    assert_eq!(
        c.get_jsonpath(&["svc", "both"], "{.spec.clusterIP}"),
        both[0]
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "both"], "{.spec.ipFamilies[*]}"),
        "IPv4 IPv6"
    );

    // IPv6 first: the primary address (clusterIP) is the IPv6 one.
    apply(
        &c,
        &service(
            "six-first",
            "  ipFamilyPolicy: RequireDualStack\n  ipFamilies: [IPv6, IPv4]\n",
        ),
    );
    let six_first = cluster_ips(&c, "six-first");
    assert!(in_range(&six_first[0], &v6_range), "{six_first:?}");
    assert!(in_range(&six_first[1], &v4_range), "{six_first:?}");
    assert_eq!(
        c.get_jsonpath(&["svc", "six-first"], "{.spec.clusterIP}"),
        six_first[0]
    );

    // No policy: SingleStack on the first family.
    apply(&c, &service("plain", ""));
    let plain = cluster_ips(&c, "plain");
    assert_eq!(plain.len(), 1);
    assert!(in_range(&plain[0], &v4_range), "{plain:?}");
    assert_eq!(
        c.get_jsonpath(&["svc", "plain"], "{.spec.ipFamilyPolicy}"),
        "SingleStack"
    );

    // CLUSTER-IP shows the primary address, as kube-apiserver's printer does.
    let table = Table::parse(&c.kubectl_ok(["get", "svc", "-o", "wide"]));
    for (name, ips) in [
        ("both", &both),
        ("six-first", &six_first),
        ("plain", &plain),
    ] {
        assert_eq!(table.cell(table.row("NAME", name), "CLUSTER-IP"), ips[0]);
    }
    // The kubernetes Service stays single-stack on the first IPv4 address.
    let kubernetes = cluster_ips(&c, "kubernetes");
    assert_eq!(kubernetes.len(), 1);
    assert!(kubernetes[0].ends_with(".1"), "{kubernetes:?}");

    // Requested addresses, with kube-apiserver's messages.
    let taken = &both[1];
    let dup = apply_err(
        &c,
        &service(
            "dup",
            &format!("  ipFamilies: [IPv6]\n  clusterIP: \"{taken}\"\n"),
        ),
    );
    assert!(
        dup.contains(&format!(
            "failed to allocate IP {taken}: provided IP is already allocated"
        )),
        "{dup}"
    );
    let outside = apply_err(
        &c,
        &service(
            "outside",
            "  ipFamilies: [IPv6]\n  clusterIP: \"fd00:97::1\"\n",
        ),
    );
    assert!(
        outside.contains(&format!(
            "the provided IP (fd00:97::1) is not in the valid range. The range of valid IPs is {v6_range}"
        )),
        "{outside}"
    );
    let order = apply_err(
        &c,
        &service(
            "order",
            &format!(
                "  ipFamilyPolicy: PreferDualStack\n  ipFamilies: [IPv4, IPv6]\n  clusterIPs: [\"{}\", \"{}\"]\n  clusterIP: \"{}\"\n",
                six_first[0], plain[0], six_first[0]
            ),
        ),
    );
    assert!(
        order.contains(&format!(
            "spec.clusterIPs[0]: Invalid value: \"{}\": expected an IPv4 value as indicated by `ipFamilies[0]`",
            six_first[0]
        )),
        "{order}"
    );
}

#[test]
fn a_single_stack_cluster_refuses_a_second_family() {
    let c = Cluster::start();
    let require = apply_err(&c, &service("req", "  ipFamilyPolicy: RequireDualStack\n"));
    assert!(
        require.contains(
            r#"The Service "req" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services"#
        ),
        "{require}"
    );
    let six = apply_err(&c, &service("six", "  ipFamilies: [IPv6]\n"));
    assert!(
        six.contains(
            r#"The Service "six" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster"#
        ),
        "{six}"
    );
    // PreferDualStack is content with one family.
    apply(
        &c,
        &service("prefer", "  ipFamilyPolicy: PreferDualStack\n"),
    );
    assert_eq!(cluster_ips(&c, "prefer").len(), 1);
    assert_eq!(
        c.get_jsonpath(&["svc", "prefer"], "{.spec.ipFamilies[*]}"),
        "IPv4"
    );
}

#[test]
fn upgrading_adds_the_second_family_and_downgrading_releases_it() {
    let c = Cluster::start_dual_stack(108, &[]);
    c.kubectl_ok(["create", "service", "clusterip", "web", "--tcp=80"]);
    let before = cluster_ips(&c, "web");
    assert_eq!(before.len(), 1);

    c.kubectl_ok([
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"ipFamilyPolicy":"PreferDualStack"}}"#,
    ]);
    let upgraded = cluster_ips(&c, "web");
    assert_eq!(upgraded.len(), 2, "{upgraded:?}");
    assert_eq!(upgraded[0], before[0], "the primary address stays");
    let secondary = upgraded[1].clone();
    assert!(in_range(&secondary, &range(&c, true)), "{upgraded:?}");
    assert_eq!(
        c.get_jsonpath(&["svc", "web"], "{.spec.ipFamilies[*]}"),
        "IPv4 IPv6"
    );

    // While web holds it, nobody else gets it.
    let claim = service(
        "claim",
        &format!("  ipFamilies: [IPv6]\n  clusterIP: \"{secondary}\"\n"),
    );
    let refused = apply_err(&c, &claim);
    assert!(
        refused.contains("provided IP is already allocated"),
        "{refused}"
    );

    c.kubectl_ok([
        "patch",
        "svc",
        "web",
        "-p",
        r#"{"spec":{"ipFamilyPolicy":"SingleStack"}}"#,
    ]);
    assert_eq!(cluster_ips(&c, "web"), before);
    assert_eq!(
        c.get_jsonpath(&["svc", "web"], "{.spec.ipFamilies[*]}"),
        "IPv4"
    );

    // Released: that exact address can be had now.
    apply(&c, &claim);
    assert_eq!(cluster_ips(&c, "claim"), vec![secondary]);
}

#[test]
fn a_node_port_belongs_to_one_service_which_may_use_it_for_tcp_and_udp() {
    let c = Cluster::start_dual_stack(108, &[]);
    apply(
        &c,
        r#"apiVersion: v1
kind: Service
metadata: {name: dns}
spec:
  type: NodePort
  ipFamilyPolicy: PreferDualStack
  ports:
  - {name: dns, port: 53, protocol: UDP, nodePort: 30053}
  - {name: dns-tcp, port: 53, protocol: TCP, nodePort: 30053}
"#,
    );
    assert_eq!(
        c.get_jsonpath(&["svc", "dns"], "{.spec.ports[*].nodePort}"),
        "30053 30053"
    );
    let table = Table::parse(&c.kubectl_ok(["get", "svc", "dns"]));
    assert_eq!(
        table.cell(table.row("NAME", "dns"), "PORT(S)"),
        "53:30053/UDP,53:30053/TCP"
    );
    assert_eq!(cluster_ips(&c, "dns").len(), 2);

    for protocol in ["UDP", "TCP"] {
        let other = apply_err(
            &c,
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata: {{name: other}}\nspec:\n  type: NodePort\n  ports: [{{port: 5353, protocol: {protocol}, nodePort: 30053}}]\n"
            ),
        );
        assert!(
            other.contains(r#"The Service "other" is invalid: spec.ports[0].nodePort: Invalid value: 30053: provided port is already allocated"#),
            "{protocol}: {other}"
        );
    }
    // Once dns lets go of the number, it is free for either protocol.
    c.kubectl_ok(["delete", "svc", "dns"]);
    c.kubectl_ok([
        "create",
        "service",
        "nodeport",
        "other",
        "--tcp=80:8080",
        "--node-port=30053",
    ]);
}

#[test]
fn allocations_of_both_families_survive_restarts_and_are_never_handed_out_twice() {
    // A /124 has 15 usable addresses: small enough to fill.
    let mut c = Cluster::start_dual_stack(124, &[]);
    let v6_range = range(&c, true);
    apply(&c, &service("keep", "  ipFamilyPolicy: RequireDualStack\n"));
    let keep = cluster_ips(&c, "keep");
    assert_eq!(keep.len(), 2);

    c.restart();
    assert_eq!(cluster_ips(&c, "keep"), keep);
    let copy = apply_err(
        &c,
        &service(
            "copy",
            &format!("  ipFamilies: [IPv6]\n  clusterIP: \"{}\"\n", keep[1]),
        ),
    );
    assert!(copy.contains("provided IP is already allocated"), "{copy}");

    // The other 14 IPv6 addresses go to new Services, each once; keep's never.
    let mut seen = vec![keep[1].clone()];
    for i in 0..14 {
        let name = format!("v6-{i}");
        apply(&c, &service(&name, "  ipFamilies: [IPv6]\n"));
        let ip = cluster_ips(&c, &name).remove(0);
        assert!(in_range(&ip, &v6_range), "{ip} / {v6_range}");
        assert!(!seen.contains(&ip), "{ip} handed out twice: {seen:?}");
        seen.push(ip);
    }
    let full = apply_err(&c, &service("one-too-many", "  ipFamilies: [IPv6]\n"));
    assert!(
        full.contains("Internal error occurred: failed to allocate a serviceIP: range is full"),
        "{full}"
    );

    // After kill -9 the full range is still full, and a freed address is
    // handed out again.
    c.kill9();
    c.start_again();
    let full = apply_err(&c, &service("one-too-many", "  ipFamilies: [IPv6]\n"));
    assert!(full.contains("range is full"), "{full}");
    let freed = cluster_ips(&c, "v6-3").remove(0);
    c.kubectl_ok(["delete", "svc", "v6-3"]);
    apply(&c, &service("reuse", "  ipFamilies: [IPv6]\n"));
    assert_eq!(cluster_ips(&c, "reuse"), vec![freed]);
}
