"""The built-in kinds through the official Python client's typed APIs
(`pip install kubernetes`), run by e2e/tests/api_surface_python.rs.

Usage: kube_api_surface.py KUBECONFIG

Creates, reads, lists and deletes objects of the apps, batch, rbac,
networking, policy and autoscaling/v2 groups, asks a
SelfSubjectAccessReview and a TokenRequest, and prints what it saw as one
JSON object. An API error fails the script (exit 1).
"""

import json
import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException

NS = "default"


def meta(name, labels=None):
    return client.V1ObjectMeta(name=name, labels=labels)


def pod_template(app, restart="Always"):
    return client.V1PodTemplateSpec(
        metadata=meta(None, {"app": app}),
        spec=client.V1PodSpec(
            restart_policy=restart,
            containers=[client.V1Container(name="c", image="busybox")],
        ),
    )


def main(kubeconfig):
    config.load_kube_config(config_file=kubeconfig)
    apps, batch = client.AppsV1Api(), client.BatchV1Api()
    rbac, net = client.RbacAuthorizationV1Api(), client.NetworkingV1Api()
    policy, hpa = client.PolicyV1Api(), client.AutoscalingV2Api()
    core, authz = client.CoreV1Api(), client.AuthorizationV1Api()
    seen = {}

    sts = apps.create_namespaced_stateful_set(NS, client.V1StatefulSet(
        metadata=meta("py-sts"),
        spec=client.V1StatefulSetSpec(
            service_name="py-sts", replicas=0,
            selector=client.V1LabelSelector(match_labels={"app": "py-sts"}),
            template=pod_template("py-sts"))))
    seen["sts_update_strategy"] = sts.spec.update_strategy.type
    seen["sts_pod_management"] = sts.spec.pod_management_policy

    job = batch.create_namespaced_job(NS, client.V1Job(
        metadata=meta("py-job"),
        spec=client.V1JobSpec(suspend=True, template=pod_template("py-job", "Never"))))
    seen["job_backoff_limit"] = job.spec.backoff_limit
    seen["job_selector_generated"] = "batch.kubernetes.io/controller-uid" in (
        job.spec.selector.match_labels or {})

    rbac.create_namespaced_role(NS, client.V1Role(
        metadata=meta("py-role"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["get"])]))
    seen["roles"] = [r.metadata.name for r in rbac.list_namespaced_role(NS).items]

    netpol = net.create_namespaced_network_policy(NS, client.V1NetworkPolicy(
        metadata=meta("py-netpol"),
        spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector())))
    seen["netpol_policy_types"] = netpol.spec.policy_types

    pdb = policy.create_namespaced_pod_disruption_budget(NS, client.V1PodDisruptionBudget(
        metadata=meta("py-pdb"),
        spec=client.V1PodDisruptionBudgetSpec(
            min_available=1, selector=client.V1LabelSelector(match_labels={"app": "x"}))))
    seen["pdb_min_available"] = pdb.spec.min_available

    h = hpa.create_namespaced_horizontal_pod_autoscaler(NS, client.V2HorizontalPodAutoscaler(
        metadata=meta("py-hpa"),
        spec=client.V2HorizontalPodAutoscalerSpec(
            max_replicas=3,
            scale_target_ref=client.V2CrossVersionObjectReference(
                api_version="apps/v1", kind="StatefulSet", name="py-sts"))))
    seen["hpa_metric"] = h.spec.metrics[0].resource.name
    seen["hpa_min_replicas"] = h.spec.min_replicas

    try:
        apps.create_namespaced_daemon_set(NS, client.V1DaemonSet(
            metadata=meta("py-ds"),
            spec=client.V1DaemonSetSpec(
                selector=client.V1LabelSelector(match_labels={"app": "one"}),
                template=pod_template("other"))))
        seen["invalid_ds"] = "accepted"
    except ApiException as e:
        body = json.loads(e.body)
        seen["invalid_ds"] = {"status": e.status, "reason": body["reason"],
                              "message": body["message"]}

    review = authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(verb="create", resource="pods"))))
    seen["can_create_pods"] = review.status.allowed

    core.create_namespaced_service_account(NS, client.V1ServiceAccount(metadata=meta("py-sa")))
    token = core.create_namespaced_service_account_token("py-sa", NS, client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=["py"], expiration_seconds=900)))
    seen["token_parts"] = len(token.status.token.split("."))

    apps.delete_namespaced_stateful_set("py-sts", NS)
    batch.delete_namespaced_job("py-job", NS)
    rbac.delete_namespaced_role("py-role", NS)
    seen["statefulsets_after_delete"] = [
        s.metadata.name for s in apps.list_namespaced_stateful_set(NS).items]
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1])
