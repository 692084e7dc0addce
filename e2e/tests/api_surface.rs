//! The whole built-in API of kube-apiserver v1.37, as the real kubectl sees
//! it: `kubectl api-resources` lists the same resources (names, short
//! names, verbs, categories) as a real cluster; every kind is created with
//! server-side apply, listed with its table columns, described, explained
//! from the OpenAPI documents, refused with kube-apiserver's message when
//! invalid, and deleted; the review kinds, component statuses, tokens,
//! evictions and admission behave as on a real cluster; and every manifest
//! of the seed tutorials that a real cluster accepts is accepted.

use e2e::{text, Cluster};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/api_surface")
        .join(name)
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

/// `kubectl api-resources -o wide` as rows of NAME SHORTNAMES APIVERSION
/// NAMESPACED KIND VERBS CATEGORIES (`-` for an empty cell), cut at the
/// header's column offsets.
fn api_resources_rows(out: &str) -> Vec<String> {
    let mut lines = out.lines();
    let header = lines.next().expect("api-resources prints a header");
    let names = [
        "NAME",
        "SHORTNAMES",
        "APIVERSION",
        "NAMESPACED",
        "KIND",
        "VERBS",
        "CATEGORIES",
    ];
    let mut starts: Vec<usize> = names
        .iter()
        .map(|n| header.find(n).unwrap_or_else(|| panic!("no {n} column")))
        .collect();
    starts.push(usize::MAX);
    lines
        .map(|line| {
            (0..names.len())
                .map(|i| {
                    let end = starts[i + 1].min(line.len());
                    let cell = line.get(starts[i].min(end)..end).unwrap_or("").trim();
                    if cell.is_empty() {
                        "-".to_string()
                    } else {
                        cell.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The default surface of a v1.37 kube-apiserver (from the discovery
/// fixtures `api/discovery/aggregated_v2.json` and `api__v1.json` of
/// kubernetes/kubernetes), in kubectl's order.
#[test]
fn api_resources_lists_the_v137_surface() {
    let c = Cluster::start_apiserver(&[]);
    let got = api_resources_rows(&c.kubectl_ok(["api-resources", "-o", "wide"]));
    let want: Vec<String> = read_fixture("api_resources_v1.37.txt")
        .lines()
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
    let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "api-resources differs from v1.37\nmissing: {missing:#?}\nunexpected: {extra:#?}"
    );
    // Both autoscaling versions are served; v2 is preferred.
    let groups = c.kubectl_ok(["api-versions"]);
    assert!(groups.contains("autoscaling/v1") && groups.contains("autoscaling/v2"));
    // `kubectl get all` shows the kinds in the `all` category.
    let all = c.kubectl_ok(["get", "all", "-A", "-o", "name"]);
    assert!(all.contains("service/kubernetes"), "{all}");
}

/// Per kind: (kubectl resource, object name, `kubectl get` header,
/// `kubectl get -o wide` header, expected message for the invalid fixture
/// object of that kind).
const KINDS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "configmaps",
        "s-cm",
        "NAME DATA AGE",
        "NAME DATA AGE",
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters",
    ),
    (
        "limitranges",
        "s-limits",
        "NAME CREATED AT",
        "NAME CREATED AT",
        "spec.limits[0].default[cpu]: Invalid value: \"100m\": default value 500m is greater than max value 100m",
    ),
    (
        "persistentvolumes",
        "s-pv",
        "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE",
        "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE VOLUMEMODE",
        "spec.capacity: Required value",
    ),
    (
        "persistentvolumeclaims",
        "s-pvc",
        "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE",
        "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE VOLUMEMODE",
        "spec.accessModes: Required value: at least 1 access mode is required",
    ),
    (
        "podtemplates",
        "s-podtemplate",
        "NAME CONTAINERS IMAGES POD LABELS",
        "NAME CONTAINERS IMAGES POD LABELS",
        "template.spec.containers[0].image: Required value",
    ),
    (
        "replicationcontrollers",
        "s-rc",
        "NAME DESIRED CURRENT READY AGE",
        "NAME DESIRED CURRENT READY AGE CONTAINERS IMAGES SELECTOR",
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "resourcequotas",
        "s-quota",
        "NAME REQUEST LIMIT AGE",
        "NAME REQUEST LIMIT AGE",
        "spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0",
    ),
    (
        "serviceaccounts",
        "s-sa",
        "NAME AGE",
        "NAME AGE",
        "metadata.name: Invalid value: \"I_SA\": a lowercase RFC 1123 subdomain",
    ),
    (
        "controllerrevisions.apps",
        "s-rev",
        "NAME CONTROLLER REVISION AGE",
        "NAME CONTROLLER REVISION AGE",
        "revision: Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "daemonsets.apps",
        "s-ds",
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE",
        "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE CONTAINERS IMAGES SELECTOR",
        "spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`",
    ),
    (
        "statefulsets.apps",
        "s-sts",
        "NAME READY AGE",
        "NAME READY AGE CONTAINERS IMAGES",
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "horizontalpodautoscalers.autoscaling",
        "s-hpa",
        "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE",
        "NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE",
        "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
    ),
    (
        "cronjobs.batch",
        "s-cj",
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE",
        "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS IMAGES SELECTOR",
        "spec.schedule: Invalid value: \"not a schedule\"",
    ),
    (
        "jobs.batch",
        "s-job",
        "NAME STATUS COMPLETIONS DURATION AGE",
        "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR",
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
    ),
    (
        "certificatesigningrequests.certificates.k8s.io",
        "s-csr",
        "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION",
        "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION",
        "spec.request: Invalid value:",
    ),
    (
        "ingressclasses.networking.k8s.io",
        "s-ingressclass",
        "NAME CONTROLLER PARAMETERS AGE",
        "NAME CONTROLLER PARAMETERS AGE",
        "spec.controller: Required value",
    ),
    (
        "ingresses.networking.k8s.io",
        "s-ing",
        "NAME CLASS HOSTS ADDRESS PORTS AGE",
        "NAME CLASS HOSTS ADDRESS PORTS AGE",
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified",
    ),
    (
        "ipaddresses.networking.k8s.io",
        "127.96.200.7",
        "NAME PARENTREF",
        "NAME PARENTREF",
        "metadata.name: Invalid value: \"not-an-ip\"",
    ),
    (
        "networkpolicies.networking.k8s.io",
        "s-netpol",
        "NAME POD-SELECTOR AGE",
        "NAME POD-SELECTOR AGE",
        "spec.ingress[0].from[0].ipBlock.cidr: Invalid value: \"not-a-cidr\"",
    ),
    (
        "servicecidrs.networking.k8s.io",
        "s-cidr",
        "NAME CIDRS AGE",
        "NAME CIDRS AGE",
        "spec.cidrs[0]: Invalid value: \"bogus\"",
    ),
    (
        "poddisruptionbudgets.policy",
        "s-pdb",
        "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
        "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE",
        "minAvailable and maxUnavailable cannot be both set",
    ),
    (
        "clusterroles.rbac.authorization.k8s.io",
        "s-clusterrole",
        "NAME CREATED AT",
        "NAME CREATED AT",
        "rules[0].verbs: Required value: verbs must contain at least one value",
    ),
    (
        "clusterrolebindings.rbac.authorization.k8s.io",
        "s-crb",
        "NAME ROLE AGE",
        "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS",
        "roleRef.kind: Unsupported value: \"Secret\": supported values: \"ClusterRole\"",
    ),
    (
        "roles.rbac.authorization.k8s.io",
        "s-role",
        "NAME CREATED AT",
        "NAME CREATED AT",
        "namespaced rules cannot apply to non-resource URLs",
    ),
    (
        "rolebindings.rbac.authorization.k8s.io",
        "s-rb",
        "NAME ROLE AGE",
        "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS",
        "roleRef.name: Required value",
    ),
    (
        "csidrivers.storage.k8s.io",
        "s.csi.example.com",
        "NAME ATTACHREQUIRED PODINFOONMOUNT STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE",
        "NAME ATTACHREQUIRED PODINFOONMOUNT STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE",
        "spec.fsGroupPolicy: Unsupported value: \"Sometimes\"",
    ),
    (
        "csinodes.storage.k8s.io",
        "s-node",
        "NAME DRIVERS AGE",
        "NAME DRIVERS AGE",
        "spec.drivers[0].name: Invalid value: \"bad driver\"",
    ),
    (
        "csistoragecapacities.storage.k8s.io",
        "s-capacity",
        "NAME CREATED AT",
        "NAME CREATED AT",
        "storageClassName: Invalid value: \"\"",
    ),
    (
        "storageclasses.storage.k8s.io",
        "s-sc",
        "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
        "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE",
        "provisioner: Required value",
    ),
    (
        "volumeattachments.storage.k8s.io",
        "s-va",
        "NAME ATTACHER PV NODE ATTACHED AGE",
        "NAME ATTACHER PV NODE ATTACHED AGE",
        "spec.attacher: Required value",
    ),
    (
        "volumeattributesclasses.storage.k8s.io",
        "s-vac",
        "NAME DRIVERNAME AGE",
        "NAME DRIVERNAME AGE",
        "driverName: Required value",
    ),
    (
        "mutatingwebhookconfigurations.admissionregistration.k8s.io",
        "s-mwc",
        "NAME WEBHOOKS AGE",
        "NAME WEBHOOKS AGE",
        "webhooks[0].name: Invalid value: \"m\": should be a domain with at least three segments separated by dots",
    ),
    (
        "validatingwebhookconfigurations.admissionregistration.k8s.io",
        "s-vwc",
        "NAME WEBHOOKS AGE",
        "NAME WEBHOOKS AGE",
        "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
    ),
    (
        "validatingadmissionpolicies.admissionregistration.k8s.io",
        "s-vap",
        "NAME VALIDATIONS PARAMKIND AGE",
        "NAME VALIDATIONS PARAMKIND AGE",
        "spec.failurePolicy: Unsupported value: \"Sometimes\": supported values: \"Fail\", \"Ignore\"",
    ),
    (
        "validatingadmissionpolicybindings.admissionregistration.k8s.io",
        "s-vapb",
        "NAME POLICYNAME PARAMREF AGE",
        "NAME POLICYNAME PARAMREF AGE",
        "spec.policyName: Required value",
    ),
    (
        "customresourcedefinitions.apiextensions.k8s.io",
        "widgets.example.com",
        "NAME CREATED AT",
        "NAME CREATED AT",
        "must be spec.names.plural+\".\"+spec.group",
    ),
    (
        "apiservices.apiregistration.k8s.io",
        "v1.example.com",
        "NAME SERVICE AVAILABLE AGE",
        "NAME SERVICE AVAILABLE AGE",
        "metadata.name: Invalid value: \"i-apiservice\"",
    ),
    (
        "priorityclasses.scheduling.k8s.io",
        "s-pc",
        "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY",
        "NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY",
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000",
    ),
    (
        "leases.coordination.k8s.io",
        "s-lease",
        "NAME HOLDER AGE",
        "NAME HOLDER AGE",
        "metadata.name",
    ),
    (
        "runtimeclasses.node.k8s.io",
        "s-rtc",
        "NAME HANDLER AGE",
        "NAME HANDLER AGE",
        "handler: Invalid value: \"Not_A_Label\"",
    ),
    (
        "endpointslices.discovery.k8s.io",
        "s-slice",
        "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
        "NAME ADDRESSTYPE PORTS ENDPOINTS AGE",
        "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
    ),
    (
        "prioritylevelconfigurations.flowcontrol.apiserver.k8s.io",
        "s-plc",
        "NAME TYPE NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT AGE",
        "NAME TYPE NOMINALCONCURRENCYSHARES QUEUES HANDSIZE QUEUELENGTHLIMIT AGE",
        "spec.type: Unsupported value: \"Sometimes\": supported values: \"Exempt\", \"Limited\"",
    ),
    (
        "flowschemas.flowcontrol.apiserver.k8s.io",
        "s-fs",
        "NAME PRIORITYLEVEL MATCHINGPRECEDENCE DISTINGUISHERMETHOD AGE MISSINGPL",
        "NAME PRIORITYLEVEL MATCHINGPRECEDENCE DISTINGUISHERMETHOD AGE MISSINGPL",
        "spec.matchingPrecedence: Invalid value: 20000: must not be greater than 10000",
    ),
    (
        "deviceclasses.resource.k8s.io",
        "s-dc",
        "NAME AGE",
        "NAME AGE",
        "metadata.name",
    ),
    (
        "resourceclaims.resource.k8s.io",
        "s-claim",
        "NAME STATE AGE",
        "NAME STATE AGE",
        "spec.devices.requests[0].name: Invalid value: \"Bad Name\"",
    ),
    (
        "resourceclaimtemplates.resource.k8s.io",
        "s-claimtemplate",
        "NAME AGE",
        "NAME AGE",
        "spec.spec.devices.requests[0].name: Invalid value: \"Bad Name\"",
    ),
    (
        "resourceslices.resource.k8s.io",
        "s-slice-n1",
        "NAME NODE DRIVER POOL AGE",
        "NAME NODE DRIVER POOL AGE",
        "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required",
    ),
];

/// A table header with its column padding collapsed.
fn header(out: &str) -> String {
    let first = out.lines().next().unwrap_or_default();
    first.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_kind_is_served_as_kube_apiserver_serves_it() {
    let c = Cluster::start_apiserver(&[]);
    let valid = fixture("valid.yaml");
    let valid = valid.to_str().expect("utf-8 path");
    let applied = c.kubectl_ok(["apply", "--server-side", "-f", valid]);
    assert_eq!(
        applied.matches("serverside-applied").count(),
        KINDS.len(),
        "{applied}"
    );
    // Applying the same manifests again changes nothing.
    c.kubectl_ok(["apply", "--server-side", "-f", valid]);
    let invalid = fixture("invalid.yaml");
    let refused = c.kubectl_err(["create", "-f", invalid.to_str().expect("utf-8 path")]);
    for &(resource, name, get_header, wide_header, error) in KINDS {
        let ctx = format!("{resource}/{name}");
        let got = c.kubectl_ok(["get", resource, name]);
        assert_eq!(header(&got), get_header, "{ctx}: kubectl get\n{got}");
        assert!(got.contains(name), "{ctx}: {got}");
        let wide = c.kubectl_ok(["get", resource, name, "-o", "wide"]);
        assert_eq!(header(&wide), wide_header, "{ctx}: -o wide\n{wide}");
        let listed = c.kubectl_ok(["get", resource, "-o", "name"]);
        assert!(listed.contains(name), "{ctx}: list\n{listed}");
        let managers = c.get_jsonpath(&[resource, name], "{.metadata.managedFields[*].operation}");
        assert!(
            managers.contains("Apply"),
            "{ctx}: managedFields {managers}"
        );
        let described = c.kubectl_ok(["describe", resource, name]);
        assert!(described.contains(name), "{ctx}: describe\n{described}");
        let plural = resource.split('.').next().unwrap_or(resource);
        let explained = c.kubectl_ok(["explain", plural]);
        assert!(explained.contains("FIELDS:"), "{ctx}: explain\n{explained}");
        if !error.is_empty() {
            assert!(
                refused.contains(error),
                "{ctx}: expected {error:?} in\n{refused}"
            );
        }
        let deleted = c.kubectl_ok(["delete", resource, name]);
        assert!(deleted.contains("deleted"), "{ctx}: {deleted}");
    }
}

#[test]
fn explain_reads_nested_fields() {
    let c = Cluster::start_apiserver(&[]);
    let out = c.kubectl_ok(["explain", "ingress.spec.rules.http.paths.pathType"]);
    assert!(out.contains("KIND:       Ingress"), "{out}");
    assert!(out.contains("FIELD: pathType <string>"), "{out}");
    let out = c.kubectl_ok(["explain", "cronjobs.spec.jobTemplate.spec.template.spec"]);
    assert!(out.contains("containers"), "{out}");
    // Client-side strict validation uses the published schema.
    let err = c.kubectl_stdin_err(
        ["apply", "--validate=strict", "-f", "-"],
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelector: {}, bogus: 1}\n",
    );
    assert!(err.contains("unknown field \"spec.bogus\""), "{err}");
}

#[test]
fn reviews_tokens_and_component_statuses() {
    let c = Cluster::start_apiserver(&[]);
    assert_eq!(
        c.kubectl_ok(["auth", "can-i", "create", "pods"]).trim(),
        "yes"
    );
    let whoami = c.kubectl_ok([
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(whoami, "kubernetes-admin");
    let rules = c.kubectl_ok(["auth", "can-i", "--list"]);
    assert!(rules.contains("*.*"), "{rules}");
    // Review kinds are create-only.
    let err = c.kubectl_err(["get", "tokenreviews.authentication.k8s.io"]);
    assert!(err.contains("MethodNotAllowed"), "{err}");
    // A TokenRequest JWT that a TokenReview authenticates.
    c.kubectl_ok(["create", "serviceaccount", "robot"]);
    let token = c.kubectl_ok(["create", "token", "robot", "--duration=20m"]);
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let review = format!(
        "{{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{{\"token\":\"{token}\"}}}}"
    );
    let out = c.kubectl_stdin_ok(["create", "-f", "-", "-o", "json"], &review);
    let reviewed: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(reviewed["status"]["authenticated"], true, "{out}");
    assert_eq!(
        reviewed["status"]["user"]["username"],
        "system:serviceaccount:default:robot"
    );
    let empty = c.kubectl_stdin_err(
        ["create", "--validate=false", "-f", "-"],
        "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{}}",
    );
    assert!(
        empty.contains("token is required for TokenReview in authentication"),
        "{empty}"
    );
    let short = c.kubectl_err(["create", "token", "robot", "--duration=5m"]);
    assert!(
        short.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
        "{short}"
    );
    let cs = c.kubectl_ok(["get", "componentstatuses"]);
    assert_eq!(header(&cs), "NAME STATUS MESSAGE ERROR", "{cs}");
    assert!(cs.contains("etcd-0") && cs.contains("Healthy"), "{cs}");
    // The objects kube-apiserver creates at start.
    let pcs = c.kubectl_ok(["get", "priorityclasses", "-o", "name"]);
    assert!(pcs.contains("system-node-critical") && pcs.contains("system-cluster-critical"));
    let fs = c.kubectl_ok(["get", "flowschemas", "-o", "name"]);
    assert!(
        fs.contains("flowschema.flowcontrol.apiserver.k8s.io/catch-all"),
        "{fs}"
    );
    assert!(
        fs.contains("flowschema.flowcontrol.apiserver.k8s.io/exempt"),
        "{fs}"
    );
}

#[test]
fn admission_and_subresources_without_controllers() {
    let c = Cluster::start_apiserver(&[]);
    // DefaultIngressClass.
    c.apply(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: default-class\n  annotations: {ingressclass.kubernetes.io/is-default-class: \"true\"}\nspec: {controller: example.com/ic}\n",
    );
    c.apply(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n",
    );
    let class = c.get_jsonpath(&["ingress", "web"], "{.spec.ingressClassName}");
    assert_eq!(class, "default-class");
    // Priority admission.
    let err = c.kubectl_err([
        "run",
        "p0",
        "--image=busybox",
        "--overrides={\"spec\":{\"priorityClassName\":\"nope\"}}",
    ]);
    assert!(
        err.contains("no PriorityClass with name nope was found"),
        "{err}"
    );
    c.kubectl_ok([
        "run",
        "p1",
        "--image=busybox",
        "--overrides={\"spec\":{\"priorityClassName\":\"system-node-critical\"}}",
    ]);
    assert_eq!(
        c.get_jsonpath(&["pod", "p1"], "{.spec.priority}"),
        "2000001000"
    );
    // StatefulSet and ReplicationController scale.
    c.apply(
        "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\nspec:\n  replicas: 1\n  selector: {app: rc}\n  template:\n    metadata: {labels: {app: rc}}\n    spec: {containers: [{name: c, image: busybox}]}\n",
    );
    c.kubectl_ok(["scale", "rc", "rc", "--replicas=3"]);
    assert_eq!(c.get_jsonpath(&["rc", "rc"], "{.spec.replicas}"), "3");
    let scale = c.kubectl_ok([
        "get",
        "--raw",
        "/api/v1/namespaces/default/replicationcontrollers/rc/scale",
    ]);
    assert!(scale.contains("\"selector\":\"app=rc\""), "{scale}");
    // CSR approval.
    let valid = read_fixture("valid.yaml");
    let csr = valid
        .split("\n---\n")
        .find(|d| d.contains("kind: CertificateSigningRequest"))
        .expect("a CSR in the fixture");
    c.apply(csr);
    let approved = c.kubectl_ok(["certificate", "approve", "s-csr"]);
    assert!(approved.contains("approved"), "{approved}");
    let condition = c.get_jsonpath(&["csr", "s-csr"], "{.status.conditions[0].type}");
    assert_eq!(condition, "Approved");
    let by_signer = c.kubectl_ok([
        "get",
        "csr",
        "--field-selector=spec.signerName=example.com/signer",
        "-o",
        "name",
    ]);
    assert_eq!(
        by_signer.trim(),
        "certificatesigningrequest.certificates.k8s.io/s-csr"
    );
    let err = c.kubectl_err(["get", "ingress", "--field-selector=spec.rules=x"]);
    assert!(
        err.contains(
            "\"spec.rules\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        ),
        "{err}"
    );
    // Pod resize and ephemeral containers go through their subresources only.
    c.kubectl_ok([
        "patch",
        "pod",
        "p1",
        "--subresource=resize",
        "-p",
        "{\"spec\":{\"containers\":[{\"name\":\"p1\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]}}",
    ]);
    assert_eq!(
        c.get_jsonpath(&["pod", "p1"], "{.spec.containers[0].resources.limits.cpu}"),
        "1"
    );
    let err = c.kubectl_err([
        "patch",
        "pod",
        "p1",
        "-p",
        "{\"spec\":{\"containers\":[{\"name\":\"p1\",\"resources\":{\"limits\":{\"cpu\":\"2\"}}}]}}",
    ]);
    assert!(err.contains("pod updates may not change fields"), "{err}");
    c.kubectl_ok([
        "patch",
        "pod",
        "p1",
        "--subresource=ephemeralcontainers",
        "-p",
        "{\"spec\":{\"ephemeralContainers\":[{\"name\":\"debugger\",\"image\":\"busybox\"}]}}",
    ]);
    assert_eq!(
        c.get_jsonpath(&["pod", "p1"], "{.spec.ephemeralContainers[0].name}"),
        "debugger"
    );
}

#[test]
fn eviction_respects_pod_disruption_budgets() {
    let c = Cluster::start();
    c.kubectl_ok([
        "run",
        "guarded",
        "--image=busybox",
        "--labels=app=guarded",
        "--",
        "sleep",
        "3600",
    ]);
    c.wait_ready("pod/guarded");
    // No controller has observed this budget yet (its status is empty):
    // kube-apiserver refuses evictions until one has.
    c.apply(
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: guard}\nspec:\n  minAvailable: 1\n  selector: {matchLabels: {app: guarded}}\n",
    );
    let eviction =
        "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"guarded\"}}";
    let path = "/api/v1/namespaces/default/pods/guarded/eviction";
    let out = c.kubectl_stdin(["create", "--raw", path, "-f", "-"], eviction);
    let err = text(&out.stderr);
    assert!(err.contains("TooManyRequests"), "{err}");
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    // A budget that allows one disruption lets one eviction through.
    let status = "{\"status\":{\"observedGeneration\":1,\"disruptionsAllowed\":1,\"currentHealthy\":1,\"desiredHealthy\":0,\"expectedPods\":1}}";
    c.kubectl_ok([
        "patch",
        "pdb",
        "guard",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    c.kubectl_stdin_ok(["create", "--raw", path, "-f", "-"], eviction);
    let allowed = c.get_jsonpath(&["pdb", "guard"], "{.status.disruptionsAllowed}");
    assert_eq!(allowed, "0");
    let disrupted = c.get_jsonpath(&["pdb", "guard"], "{.status.disruptedPods}");
    assert!(disrupted.contains("guarded"), "{disrupted}");
}

#[test]
fn root_ca_configmap_in_every_namespace() {
    let c = Cluster::start();
    c.kubectl_ok(["create", "namespace", "team-a"]);
    let mut found = String::new();
    for _ in 0..100 {
        let out = c.kubectl([
            "get",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ]);
        found = text(&out.stdout);
        if found.contains("BEGIN CERTIFICATE") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(found.contains("BEGIN CERTIFICATE"), "{found}");
    // Deleted, it comes back.
    c.kubectl_ok(["delete", "configmap", "kube-root-ca.crt", "-n", "team-a"]);
    let mut back = false;
    for _ in 0..100 {
        if c.kubectl(["get", "configmap", "kube-root-ca.crt", "-n", "team-a"])
            .status
            .success()
        {
            back = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(back, "kube-root-ca.crt was not re-created");
}

/// YAML documents of the seed tutorials (fenced `yaml` blocks and
/// heredocs), each with an apiVersion and a kind.
fn seed_manifests(seeds: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(seeds)
        .expect("reading seeds")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        let body = std::fs::read_to_string(&file).unwrap_or_default();
        let label = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for block in yaml_blocks(&body) {
            for doc in block.split("\n---") {
                let is_object = doc.lines().any(|l| l.starts_with("kind:"))
                    && doc.lines().any(|l| l.starts_with("apiVersion:"));
                if is_object {
                    out.push((label.clone(), doc.to_string()));
                }
            }
        }
    }
    out
}

fn yaml_blocks(body: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in body.lines() {
        match &mut current {
            None if line.starts_with("```yaml") || line.starts_with("```yml") => {
                current = Some(String::new())
            }
            None if line.contains("<<EOF")
                || line.contains("<< EOF")
                || line.contains("<<'EOF'") =>
            {
                current = Some(String::new())
            }
            Some(block) if line.starts_with("```") || line == "EOF" => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// Seed manifests a real cluster refuses too (tutorial fragments), by
/// (file prefix, a line of the document) and the error both give.
const REFUSED_BY_REAL_CLUSTERS: &[(&str, &[&str], &str)] = &[
    (
        "001",
        &["topologyKeys"],
        "unknown field \"spec.topologyKeys\"",
    ),
    (
        "003",
        &["name: web-app", "kind: Deployment"],
        "spec.selector: Required value",
    ),
    (
        "003",
        &["name: api-nodeport", "aws-load-balancer-type"],
        "spec.ports: Required value",
    ),
    (
        "003",
        &["name: canary-ingress"],
        "pathType must be specified",
    ),
    ("003", &["name: api-ingress"], "pathType must be specified"),
    (
        "003",
        &["name: user-api", "namespace: backend"],
        "spec.ports: Required value",
    ),
    (
        "003",
        &["name: payment-api", "namespace: payment"],
        "spec.ports: Required value",
    ),
    (
        "003",
        &["name: frontend", "namespace: frontend"],
        "spec.ports: Required value",
    ),
    (
        "003",
        &["name: node-local-dns"],
        "`selector` does not match template `labels`",
    ),
];

/// Every seed manifest a real cluster accepts is accepted by a server-side
/// dry run; the fragments it refuses are refused with the same error.
#[test]
fn seed_manifests_dry_run() {
    let seeds = e2e::workspace_root().join("../shared/seeds");
    if !seeds.is_dir() {
        println!("SKIPPED: no seed tutorials at {}", seeds.display());
        return;
    }
    let c = Cluster::start_apiserver(&[]);
    let manifests = seed_manifests(&seeds);
    // The tutorials create their namespaces with kubectl before applying.
    let namespaces: std::collections::BTreeSet<&str> = manifests
        .iter()
        .flat_map(|(_, doc)| doc.lines())
        .filter_map(|l| l.trim().strip_prefix("namespace: "))
        .map(|ns| ns.trim().trim_matches('"'))
        .filter(|ns| !ns.is_empty() && *ns != "default")
        .collect();
    for ns in namespaces {
        c.kubectl(["create", "namespace", ns]);
    }
    assert!(
        manifests.len() > 40,
        "only {} manifests found",
        manifests.len()
    );
    let mut outcomes = BTreeMap::new();
    for (i, (file, doc)) in manifests.iter().enumerate() {
        let out = c.kubectl_stdin(["apply", "--dry-run=server", "-f", "-"], doc);
        let err = text(&out.stderr);
        let refusal = REFUSED_BY_REAL_CLUSTERS.iter().find(|(prefix, lines, _)| {
            file.starts_with(prefix) && lines.iter().all(|l| doc.contains(l))
        });
        let unparsable = err.contains("error converting YAML to JSON")
            || err.contains("error parsing")
            || err.contains("resource name may not be empty")
            || err.contains("strict decoding error: unknown field \"spec.app\"");
        let outcome = match (out.status.success(), refusal) {
            (true, None) => "accepted".to_string(),
            (false, Some((_, _, want))) if err.contains(want) => "refused as expected".to_string(),
            // Tutorial fragments that are not Kubernetes objects as written
            // (indentation lost, no name): no cluster takes them.
            (false, None) if unparsable => "not an object".to_string(),
            _ => panic!("seed {file} manifest {i}:\n{doc}\nkubectl: {err}"),
        };
        *outcomes.entry(outcome).or_insert(0) += 1;
    }
    println!("seed manifests: {outcomes:?}");
    assert!(
        outcomes.get("accepted").copied().unwrap_or(0) >= 40,
        "{outcomes:?}"
    );
}

/// Strategic merge patches and client-side apply merge a workload's
/// containers by name, as for Deployments: a container another client
/// added by patch survives a later `kubectl apply` of the manifest.
#[test]
fn workload_pod_templates_merge_by_container_name() {
    let c = Cluster::start_apiserver(&[]);
    let manifest = |image_b: &str| {
        format!(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: two}}\nspec:\n  serviceName: two\n  replicas: 0\n  selector: {{matchLabels: {{app: two}}}}\n  template:\n    metadata: {{labels: {{app: two}}}}\n    spec:\n      containers:\n      - {{name: a, image: busybox}}\n      - {{name: b, image: {image_b}}}\n"
        )
    };
    c.apply(&manifest("busybox"));
    c.kubectl_ok([
        "patch",
        "statefulset",
        "two",
        "-p",
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}",
    ]);
    c.apply(&manifest("busybox:1.37"));
    let names = c.get_jsonpath(
        &["statefulset", "two"],
        "{.spec.template.spec.containers[*].name}",
    );
    let mut names: Vec<&str> = names.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["a", "b", "sidecar"]);
    let image_b = c.get_jsonpath(
        &["statefulset", "two"],
        "{.spec.template.spec.containers[?(@.name==\"b\")].image}",
    );
    assert_eq!(image_b, "busybox:1.37");
    let cj = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: \"@daily\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - {name: a, image: busybox}\n          - {name: b, image: busybox}\n";
    c.apply(cj);
    c.kubectl_ok([
        "patch",
        "cronjob",
        "nightly",
        "-p",
        "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"busybox:1.37\"}]}}}}}}",
    ]);
    let images = c.get_jsonpath(
        &["cronjob", "nightly"],
        "{.spec.jobTemplate.spec.template.spec.containers[*].image}",
    );
    assert_eq!(images, "busybox busybox:1.37");
}

/// kubectl's generators for the new kinds (`kubectl create job`, `role`,
/// `ingress`, ..., `kubectl autoscale`), through client-go's typed clients
/// (protobuf bodies for most of them).
#[test]
fn kubectl_generators_create_the_new_kinds() {
    let c = Cluster::start_apiserver(&[]);
    let commands: &[&[&str]] = &[
        &["create", "deployment", "web", "--image=nginx"],
        &["create", "job", "j1", "--image=busybox", "--", "true"],
        &[
            "create",
            "cronjob",
            "cj1",
            "--image=busybox",
            "--schedule=*/5 * * * *",
            "--",
            "true",
        ],
        &["create", "role", "r1", "--verb=get", "--resource=pods"],
        &["create", "rolebinding", "rb1", "--role=r1", "--user=jane"],
        &[
            "create",
            "clusterrole",
            "cr1",
            "--verb=get",
            "--resource=nodes",
        ],
        &[
            "create",
            "clusterrolebinding",
            "crb1",
            "--clusterrole=cr1",
            "--group=devs",
        ],
        &["create", "priorityclass", "pc1", "--value=100"],
        &["create", "quota", "q1", "--hard=pods=5"],
        &[
            "create",
            "poddisruptionbudget",
            "pdb1",
            "--selector=app=web",
            "--min-available=1",
        ],
        &["create", "ingress", "ing1", "--rule=a.example.com/=web:80"],
        &[
            "autoscale",
            "deployment",
            "web",
            "--min=1",
            "--max=3",
            "--cpu=50%",
        ],
    ];
    let mut protobuf = 0;
    for args in commands {
        let verbose: Vec<&str> = args.iter().copied().chain(["-v=8"]).collect();
        let out = c.kubectl(&verbose);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?}:\n{stderr}");
        if stderr.contains("Content-Type: application/vnd.kubernetes.protobuf") {
            protobuf += 1;
        }
    }
    assert!(protobuf >= 3, "only {protobuf} generators sent protobuf");
    let host = c.get_jsonpath(&["ingress", "ing1"], "{.spec.rules[0].host}");
    assert_eq!(host, "a.example.com");
    let backend = c.get_jsonpath(
        &["ingress", "ing1"],
        "{.spec.rules[0].http.paths[0].backend.service.name}",
    );
    assert_eq!(backend, "web");
    let target = c.get_jsonpath(
        &["horizontalpodautoscalers.v1.autoscaling", "web"],
        "{.spec.targetCPUUtilizationPercentage}",
    );
    assert_eq!(target, "50");
    let rule = c.get_jsonpath(&["role", "r1"], "{.rules[0].verbs[0]}");
    assert_eq!(rule, "get");
}
