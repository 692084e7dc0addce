//! The built-in kinds through the official Python client's typed APIs
//! (`python/kube_api_surface.py`): what operators' test suites written
//! in Python create, with the server's defaults and errors as they see them.

use e2e::{text, Cluster};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

#[test]
fn python_client_uses_the_new_kinds() {
    let c = Cluster::start_apiserver(&[]);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/kube_api_surface.py");
    let mut cmd = Command::new(e2e::python_with_client());
    cmd.arg(script).arg(c.kubeconfig()).env_remove("KUBECONFIG");
    let out = e2e::run_with_timeout(&mut cmd, None, Duration::from_secs(120));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let seen: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(seen["sts_update_strategy"], "RollingUpdate");
    assert_eq!(seen["sts_pod_management"], "OrderedReady");
    assert_eq!(seen["job_backoff_limit"], 6);
    assert_eq!(seen["job_selector_generated"], true);
    assert_eq!(seen["roles"], json!(["py-role"]));
    assert_eq!(seen["netpol_policy_types"], json!(["Ingress"]));
    assert_eq!(seen["pdb_min_available"], 1);
    assert_eq!(seen["hpa_metric"], "cpu");
    assert_eq!(seen["hpa_min_replicas"], 1);
    assert_eq!(seen["invalid_ds"]["status"], 422);
    assert_eq!(seen["invalid_ds"]["reason"], "Invalid");
    assert_eq!(
        seen["invalid_ds"]["message"],
        "DaemonSet.apps \"py-ds\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"
    );
    assert_eq!(seen["can_create_pods"], true);
    assert_eq!(seen["token_parts"], 3);
    assert_eq!(seen["statefulsets_after_delete"], json!([]));
}
