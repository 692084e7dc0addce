//! ResourceQuota and LimitRange as kube-apiserver's admission plugins and
//! kube-controller-manager's resourcequota controller enforce them, seen
//! through the real kubectl: defaults and bounds from a LimitRange, quota
//! usage in `kubectl get quota`, refusals with kube's messages, and usage
//! returned when objects go.

use e2e::{eventually, Cluster};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn pod(name: &str, cpu: Option<&str>) -> String {
    let resources = match cpu {
        Some(cpu) => format!(
            "\n    resources:\n      requests: {{cpu: {cpu}, memory: 32Mi}}\n      limits: {{cpu: {cpu}, memory: 32Mi}}"
        ),
        None => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: pause{resources}\n"
    )
}

/// Waits until the resourcequota controller has written `used` for every
/// hard resource (admission does not restrict before that, as in kube).
fn wait_synced(c: &Cluster, quota: &str, resource: &str, want: &str) {
    let path = format!("{{.status.used.{}}}", resource.replace('.', "\\."));
    eventually(
        WAIT,
        &format!("quota {quota} used {resource}={want}"),
        || (c.get_jsonpath(&["resourcequota", quota], &path) == want).then_some(()),
    );
}

#[test]
fn quota_counts_pods_refuses_the_excess_and_returns_usage_on_delete() {
    let c = Cluster::start();
    c.kubectl_ok([
        "create",
        "quota",
        "compute",
        "--hard=pods=2,requests.cpu=1,limits.memory=1Gi",
    ]);
    wait_synced(&c, "compute", "pods", "0");

    c.kubectl_stdin_ok(["apply", "-f", "-"], &pod("p1", Some("250m")));
    c.kubectl_stdin_ok(["apply", "-f", "-"], &pod("p2", Some("500m")));
    let table = c.kubectl_ok(["get", "quota", "compute"]);
    assert!(table.contains("pods: 2/2"), "{table}");
    assert!(table.contains("requests.cpu: 750m/1"), "{table}");
    assert!(table.contains("limits.memory: 64Mi/1Gi"), "{table}");

    let err = c.kubectl_stdin_err(["apply", "-f", "-"], &pod("p3", Some("100m")));
    assert!(
        err.contains(
            "pods \"p3\" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2"
        ),
        "{err}"
    );

    // A pod without the requests a compute quota tracks is refused outright.
    c.kubectl_ok(["delete", "pod", "p2", "--wait=false"]);
    wait_synced(&c, "compute", "pods", "1");
    let err = c.kubectl_stdin_err(["apply", "-f", "-"], &pod("bare", None));
    assert!(
        err.contains("pods \"bare\" is forbidden: failed quota: compute: must specify limits.memory,requests.cpu"),
        "{err}"
    );

    // The deleted pod's share is back: a pod over the remaining cpu is
    // refused with the cpu figures, one within it is admitted.
    let err = c.kubectl_stdin_err(["apply", "-f", "-"], &pod("p4", Some("800m")));
    assert!(
        err.contains("exceeded quota: compute, requested: requests.cpu=800m, used: requests.cpu=250m, limited: requests.cpu=1"),
        "{err}"
    );
    c.kubectl_stdin_ok(["apply", "-f", "-"], &pod("p5", Some("750m")));
    let used = c.get_jsonpath(&["quota", "compute"], "{.status.used.requests\\.cpu}");
    assert_eq!(used, "1", "admission charged the quota at once");
    let described = c.kubectl_ok(["describe", "quota", "compute"]);
    assert!(described.contains("requests.cpu"), "{described}");
}

#[test]
fn object_count_quotas_cover_any_kind() {
    let c = Cluster::start();
    // kube-root-ca.crt is already there, as in every namespace.
    eventually(WAIT, "kube-root-ca.crt", || {
        c.kubectl(["get", "configmap", "kube-root-ca.crt"])
            .status
            .success()
            .then_some(())
    });
    c.kubectl_ok([
        "create",
        "quota",
        "objects",
        "--hard=count/configmaps=2,count/deployments.apps=1,services.nodeports=0",
    ]);
    wait_synced(&c, "objects", "count/configmaps", "1");
    wait_synced(&c, "objects", "count/deployments.apps", "0");
    c.kubectl_ok(["create", "configmap", "one", "--from-literal=a=b"]);
    let err = c.kubectl_err(["create", "configmap", "two", "--from-literal=a=b"]);
    assert!(
        err.contains("configmaps \"two\" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=2, limited: count/configmaps=2"),
        "{err}"
    );
    c.kubectl_ok([
        "create",
        "deployment",
        "web",
        "--image=pause",
        "--replicas=0",
    ]);
    let err = c.kubectl_err(["create", "deployment", "api", "--image=pause"]);
    assert!(
        err.contains("exceeded quota: objects, requested: count/deployments.apps=1"),
        "{err}"
    );
    let err = c.kubectl_err(["create", "service", "nodeport", "np", "--tcp=80:80"]);
    assert!(
        err.contains("exceeded quota: objects, requested: services.nodeports=1, used: services.nodeports=0, limited: services.nodeports=0"),
        "{err}"
    );
    // Deleting a configmap returns its count (on the controller's resync).
    c.kubectl_ok(["delete", "configmap", "one"]);
    wait_synced(&c, "objects", "count/configmaps", "1");
    c.kubectl_ok(["create", "configmap", "two", "--from-literal=a=b"]);
}

#[test]
fn limit_range_defaults_and_bounds_pods() {
    let c = Cluster::start();
    c.kubectl_stdin_ok(
        ["apply", "-f", "-"],
        "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: bounds\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 500m, memory: 128Mi}\n    defaultRequest: {cpu: 100m}\n    max: {cpu: \"1\"}\n    min: {cpu: 50m}\n  - type: PersistentVolumeClaim\n    max: {storage: 2Gi}\n",
    );
    c.kubectl_stdin_ok(["apply", "-f", "-"], &pod("defaulted", None));
    let resources = c.get_jsonpath(
        &["pod", "defaulted"],
        "{.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.cpu} {.spec.containers[0].resources.requests.memory}",
    );
    // memory's request comes from its default limit (the LimitRange's own
    // defaulting), cpu's from defaultRequest.
    assert_eq!(resources, "100m 500m 128Mi");
    let note = c.get_jsonpath(
        &["pod", "defaulted"],
        "{.metadata.annotations.kubernetes\\.io/limit-ranger}",
    );
    assert_eq!(
        note,
        "LimitRanger plugin set: cpu, memory request for container main; cpu, memory limit for container main"
    );

    let err = c.kubectl_stdin_err(["apply", "-f", "-"], &pod("big", Some("2")));
    assert!(
        err.contains(
            "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
        ),
        "{err}"
    );
    let err = c.kubectl_stdin_err(["apply", "-f", "-"], &pod("tiny", Some("10m")));
    assert!(
        err.contains("pods \"tiny\" is forbidden: minimum cpu usage per Container is 50m, but request is 10m"),
        "{err}"
    );
    let claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests: {storage: 5Gi}\n";
    let err = c.kubectl_stdin_err(["apply", "-f", "-"], claim);
    assert!(
        err.contains("persistentvolumeclaims \"data\" is forbidden: maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"),
        "{err}"
    );
}
