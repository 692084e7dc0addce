use super::*;
use k8s_rs_pb::api::{apps, core, policy};
use k8s_rs_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_rs_pb::apimachinery::pkg::util::intstr::IntOrString;
use protobuf::MessageField;

fn int_or_string(i: i32) -> MessageField<IntOrString> {
    let mut v = IntOrString::new();
    v.type_ = Some(0);
    v.intVal = Some(i);
    v.strVal = Some(String::new());
    MessageField::some(v)
}

/// ObjectMeta as Go writes it: every non-pointer field, zero or not.
fn go_meta(name: &str) -> MessageField<meta::ObjectMeta> {
    let mut m = meta::ObjectMeta::new();
    m.name = Some(name.into());
    m.generateName = Some(String::new());
    m.namespace = Some(String::new());
    m.uid = Some(String::new());
    m.resourceVersion = Some(String::new());
    m.generation = Some(0);
    m.creationTimestamp = MessageField::some(meta::Time::new());
    m.labels.insert("app".into(), "web".into());
    MessageField::some(m)
}

#[test]
fn every_served_kind_and_every_body_kind_has_a_message() {
    for def in crate::registry::catalog().all() {
        let api_version = def.api_version();
        assert!(
            is_registered(&api_version, def.kind),
            "{api_version} {}",
            def.kind
        );
        assert!(is_registered(&api_version, "DeleteOptions"));
    }
    for (v, k) in [
        ("autoscaling/v1", "Scale"),
        ("v1", "Binding"),
        ("policy/v1", "Eviction"),
        ("authentication.k8s.io/v1", "TokenRequest"),
        ("meta.k8s.io/v1", "DeleteOptions"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("apiregistration.k8s.io/v1", "APIService"),
        ("batch/v1", "CronJob"),
    ] {
        assert!(is_registered(v, k), "{v} {k}");
    }
    assert!(!is_registered("v1", "NoSuchKind"));
    assert!(!is_registered("v1", "Deployment"));
}

#[test]
fn a_deployment_decodes_as_kube_apiserver_reads_it() {
    let mut d = apps::v1::Deployment::new();
    d.metadata = go_meta("web");
    let spec = d.spec.mut_or_insert_default();
    spec.replicas = Some(0); // a pointer: zero replicas is a request
    spec.minReadySeconds = Some(0); // not a pointer: zero is unset
    spec.paused = Some(false);
    let strategy = spec.strategy.mut_or_insert_default();
    strategy.type_ = Some("RollingUpdate".into());
    let ru = strategy.rollingUpdate.mut_or_insert_default();
    ru.maxUnavailable = int_or_string(0);
    let mut s = IntOrString::new();
    s.type_ = Some(1);
    s.strVal = Some("25%".into());
    ru.maxSurge = MessageField::some(s);
    let pod = spec
        .template
        .mut_or_insert_default()
        .spec
        .mut_or_insert_default();
    pod.terminationGracePeriodSeconds = Some(0);
    pod.hostNetwork = Some(false);
    pod.dnsPolicy = Some(String::new());
    let mut c = core::v1::Container::new();
    c.name = Some("nginx".into());
    c.image = Some("nginx".into());
    let mut port = core::v1::ContainerPort::new();
    port.containerPort = Some(80);
    port.hostPort = Some(0);
    port.protocol = Some("TCP".into());
    c.ports.push(port);
    let mut limits = k8s_rs_pb::apimachinery::pkg::api::resource::Quantity::new();
    limits.string = Some("500m".into());
    c.resources
        .mut_or_insert_default()
        .limits
        .insert("cpu".into(), limits);
    pod.containers.push(c);

    let body = encode("apps/v1", "Deployment", &d);
    let got = decode(&body).unwrap();
    assert_eq!(
        got,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}
                },
                "template": {"spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{
                        "name": "nginx",
                        "image": "nginx",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {"limits": {"cpu": "500m"}}
                    }]
                }}
            }
        })
    );
}

#[test]
fn a_service_drops_the_unset_int_or_string_and_keeps_the_set_one() {
    let mut svc = core::v1::Service::new();
    svc.metadata = go_meta("web");
    let spec = svc.spec.mut_or_insert_default();
    let mut p = core::v1::ServicePort::new();
    p.port = Some(80);
    p.targetPort = int_or_string(0);
    p.nodePort = Some(0);
    spec.ports.push(p);
    let mut p = core::v1::ServicePort::new();
    p.port = Some(443);
    p.targetPort = int_or_string(8443);
    spec.ports.push(p);
    spec.allocateLoadBalancerNodePorts = Some(false);
    let got = decode(&encode("v1", "Service", &svc)).unwrap();
    assert_eq!(
        got["spec"],
        json!({
            "ports": [{"port": 80}, {"port": 443, "targetPort": 8443}],
            "allocateLoadBalancerNodePorts": false
        })
    );
}

#[test]
fn secret_bytes_become_base64_and_times_rfc3339() {
    let mut s = core::v1::Secret::new();
    s.metadata = go_meta("creds");
    let mut t = meta::Time::new();
    t.seconds = Some(1_700_000_000);
    s.metadata.mut_or_insert_default().creationTimestamp = MessageField::some(t);
    s.data.insert("password".into(), b"s3cret".to_vec());
    s.data.insert("empty".into(), Vec::new());
    s.type_ = Some("Opaque".into());
    let got = decode(&encode("v1", "Secret", &s)).unwrap();
    assert_eq!(got["data"], json!({"password": "czNjcmV0", "empty": ""}));
    assert_eq!(got["type"], "Opaque");
    assert_eq!(got["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
}

#[test]
fn delete_options_under_any_group_version() {
    let mut o = meta::DeleteOptions::new();
    o.gracePeriodSeconds = Some(0);
    o.propagationPolicy = Some("Foreground".into());
    o.dryRun.push("All".into());
    o.preconditions.mut_or_insert_default().uid = Some("u-1".into());
    for v in ["v1", "apps/v1", "meta.k8s.io/v1"] {
        let got = decode(&encode(v, "DeleteOptions", &o)).unwrap();
        assert_eq!(got["gracePeriodSeconds"], 0, "{v}");
        assert_eq!(got["propagationPolicy"], "Foreground");
        assert_eq!(got["dryRun"], json!(["All"]));
        assert_eq!(got["preconditions"], json!({"uid": "u-1"}));
    }
}

#[test]
fn an_eviction_carries_its_delete_options() {
    let mut e = policy::v1::Eviction::new();
    e.metadata = go_meta("web-1");
    e.deleteOptions.mut_or_insert_default().gracePeriodSeconds = Some(5);
    let got = decode(&encode("policy/v1", "Eviction", &e)).unwrap();
    assert_eq!(got["deleteOptions"], json!({"gracePeriodSeconds": 5}));
}

#[test]
fn a_lease_renew_time_arrives_as_a_time() {
    let mut l = k8s_rs_pb::api::coordination::v1::Lease::new();
    l.metadata = go_meta("node-a");
    let mut t = meta::Time::new();
    t.seconds = Some(1_700_000_000);
    t.nanos = Some(123_456_000);
    l.spec.mut_or_insert_default().renewTime = MessageField::some(t);
    l.spec.mut_or_insert_default().leaseDurationSeconds = Some(40);
    let got = decode(&encode("coordination.k8s.io/v1", "Lease", &l)).unwrap();
    assert_eq!(
        got["spec"],
        // k8s-rs-pb's Time keeps whole seconds (its generated type stands
        // for MicroTime too).
        json!({"renewTime": "2023-11-14T22:13:20Z", "leaseDurationSeconds": 40})
    );
}

#[test]
fn bad_bodies_are_errors_not_panics() {
    assert!(decode(b"{}").unwrap_err().contains("expected prefix"));
    assert!(decode(b"k8s\0\xff\xff").is_err());
    let mut d = apps::v1::Deployment::new();
    d.metadata = go_meta("x");
    let unknown_kind = encode("apps/v1", "Gadget", &d);
    assert_eq!(
        decode(&unknown_kind).unwrap_err(),
        "no kind \"Gadget\" is registered for version \"apps/v1\""
    );
    // A valid envelope whose raw bytes are not the message.
    let mut u = Unknown::new();
    u.typeMeta.mut_or_insert_default().apiVersion = Some("v1".into());
    u.typeMeta.mut_or_insert_default().kind = Some("Pod".into());
    u.raw = Some(vec![0x0a, 0xff, 0xff, 0xff]);
    let mut body = MAGIC.to_vec();
    body.extend(u.write_to_bytes().unwrap());
    assert!(decode(&body)
        .unwrap_err()
        .starts_with("error decoding protobuf Pod"));
}
