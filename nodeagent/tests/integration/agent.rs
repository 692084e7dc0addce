//! The agent and scheduler against a real mkube API server.

use crate::common;

use crate::common::{alive, condition, group_members, http_get, waiting_reason};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};

fn pod_ip(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .expect("pod IP")
}

fn nginx(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}
    })
}

fn is_ready(p: &Pod) -> bool {
    condition(p, "Ready").as_deref() == Some("True")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_registration_and_lease() {
    let c = common::start().await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let node = nodes.get(&c.node).await.expect("node");
    let status = node.status.clone().expect("status");
    let ready = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .expect("Ready condition");
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("KubeletReady"));
    let addrs = status.addresses.clone().unwrap_or_default();
    assert!(addrs
        .iter()
        .any(|a| a.type_ == "InternalIP" && a.address == "127.0.0.1"));
    assert!(addrs.iter().any(|a| a.type_ == "Hostname"));
    let port = status
        .daemon_endpoints
        .as_ref()
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map(|e| e.port)
        .expect("kubelet endpoint");
    assert_eq!(port as u16, c.agent.as_ref().unwrap().endpoint.port());
    let cap = status.capacity.clone().unwrap_or_default();
    assert_eq!(cap.get("pods").map(|q| q.0.as_str()), Some("110"));
    assert!(cap.contains_key("cpu") && cap.contains_key("memory"));
    assert!(node.spec.and_then(|s| s.pod_cidr).is_some());
    let leases: Api<Lease> = Api::namespaced(c.client.clone(), "kube-node-lease");
    let lease = leases.get(&c.node).await.expect("lease");
    let spec = lease.spec.expect("lease spec");
    assert_eq!(spec.holder_identity.as_deref(), Some(c.node.as_str()));
    assert!(spec.renew_time.is_some());
    // The endpoint wants the token.
    let addr = c.agent.as_ref().unwrap().endpoint;
    let (code, _) = http_get(
        &addr.ip().to_string(),
        addr.port(),
        "/containerLogs/default/x/y",
        None,
    )
    .await;
    assert_eq!(code, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_runs_ready_and_serves_the_welcome_page() {
    let c = common::start().await;
    c.create(nginx("web")).await;
    let p = c.wait_pod("web", 30, is_ready).await;
    let st = p.status.clone().unwrap();
    assert_eq!(st.phase.as_deref(), Some("Running"));
    assert_eq!(st.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(st.qos_class.as_deref(), Some("BestEffort"));
    assert!(st.start_time.is_some());
    let cs = &st.container_statuses.clone().unwrap()[0];
    assert!(cs.ready);
    assert_eq!(cs.started, Some(true));
    assert_eq!(cs.restart_count, 0);
    assert!(cs
        .container_id
        .as_deref()
        .unwrap_or("")
        .starts_with("mkube://"));
    assert!(cs.state.as_ref().unwrap().running.is_some());
    for t in [
        "PodScheduled",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodReadyToStartContainers",
    ] {
        assert_eq!(condition(&p, t).as_deref(), Some("True"), "{t}");
    }
    let ip = pod_ip(&p);
    assert!(ip.starts_with("127.244."), "{ip}");
    let (code, body) = http_get(&ip, 80, "/", None).await;
    assert_eq!(code, 200);
    assert!(body.contains("<title>Welcome to nginx!</title>"), "{body}");
    assert!(body.contains("<h1>Welcome to nginx!</h1>"));
    let (code, _) = http_get(&ip, 80, "/missing", None).await;
    assert_eq!(code, 404);
    // The access log, through the agent's endpoint.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, logs) = c.agent_get("/containerLogs/default/web/nginx").await;
    assert_eq!(code, 200, "{logs}");
    assert!(logs.contains("\"GET / HTTP/1.1\" 200"), "{logs}");
    assert!(logs.contains("\"GET /missing HTTP/1.1\" 404"), "{logs}");
    let (_, tail) = c
        .agent_get("/containerLogs/default/web/nginx?tailLines=1&timestamps=true")
        .await;
    assert_eq!(tail.lines().count(), 1, "{tail}");
    assert!(
        tail.contains("/missing") && tail.starts_with("20"),
        "{tail}"
    );
    // Events the kubelet and the scheduler write.
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let reasons: Vec<String> = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.reason)
            .collect();
        if ["Scheduled", "Pulled", "Created", "Started"]
            .iter()
            .all(|r| reasons.iter().any(|x| x == r))
        {
            break;
        }
        assert!(Instant::now() < deadline, "events: {reasons:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busybox_wget_logs_the_page() {
    let c = common::start().await;
    c.create(nginx("web")).await;
    let ip = pod_ip(&c.wait_pod("web", 30, is_ready).await);
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "client"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "wget", "image": "busybox",
            "command": ["sh", "-c", format!("wget -qO- http://{ip} && echo POD=$HOSTNAME")]
        }]}
    }))
    .await;
    let p = c
        .wait_pod("client", 30, |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
        })
        .await;
    let t = p.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
    let (code, logs) = c.agent_get("/containerLogs/default/client/wget").await;
    assert_eq!(code, 200);
    assert!(logs.contains("Welcome to nginx!"), "{logs}");
    assert!(logs.contains("POD=client"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_command_goes_into_crash_loop_back_off() {
    let c = common::start().await;
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "crash"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "echo dying; exit 3"]}]}
    }))
    .await;
    let p = c
        .wait_pod("crash", 30, |p| {
            waiting_reason(p).as_deref() == Some("CrashLoopBackOff")
        })
        .await;
    let st = p.status.clone().unwrap();
    let cs = &st.container_statuses.unwrap()[0];
    assert!(cs.restart_count >= 1, "{cs:?}");
    let last = cs.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!(last.exit_code, 3);
    assert_eq!(last.reason.as_deref(), Some("Error"));
    let msg = cs.state.clone().unwrap().waiting.unwrap().message.unwrap();
    assert!(
        msg.starts_with("back-off 10s restarting failed container=app pod=crash_default("),
        "{msg}"
    );
    assert_eq!(st.phase.as_deref(), Some("Running"));
    assert_eq!(condition(&p, "Ready").as_deref(), Some("False"));
    // The last instance's output, as `kubectl logs` shows it in back-off.
    let (code, logs) = c.agent_get("/containerLogs/default/crash/app").await;
    assert_eq!(code, 200, "{logs}");
    assert_eq!(logs, "dying\n");
    let (code, _) = c
        .agent_get("/containerLogs/default/crash/app?previous=true")
        .await;
    assert_eq!(code, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_image_is_err_image_pull() {
    let c = common::start().await;
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "redis"},
        "spec": {"containers": [{"name": "redis", "image": "redis:7"}]}
    }))
    .await;
    let p = c
        .wait_pod("redis", 30, |p| {
            waiting_reason(p).as_deref() == Some("ErrImagePull")
        })
        .await;
    let cs = &p.status.clone().unwrap().container_statuses.unwrap()[0];
    let msg = cs.state.clone().unwrap().waiting.unwrap().message.unwrap();
    assert!(
        msg.contains("--image-map") && msg.contains("nginx"),
        "{msg}"
    );
    assert_eq!(p.status.unwrap().phase.as_deref(), Some("Pending"));
    assert!(!cs.ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probe_gates_ready() {
    let c = common::start().await;
    let mut pod = nginx("probed");
    pod["spec"]["containers"][0]["readinessProbe"] = json!({
        "httpGet": {"path": "/nonexistent", "port": 80},
        "periodSeconds": 1, "failureThreshold": 1
    });
    c.create(pod).await;
    c.wait_pod("probed", 30, |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = c.pods().get("probed").await.unwrap();
    assert_eq!(condition(&p, "Ready").as_deref(), Some("False"));
    assert_eq!(condition(&p, "ContainersReady").as_deref(), Some("False"));
    let cs = &p.status.clone().unwrap().container_statuses.unwrap()[0];
    assert!(!cs.ready && cs.state.as_ref().unwrap().running.is_some());
    let patch = json!([{"op": "replace", "path": "/spec/containers/0/readinessProbe/httpGet/path", "value": "/"}]);
    let patch: kube::api::Patch<()> = Patch::Json(serde_json::from_value(patch).unwrap());
    match c
        .pods()
        .patch("probed", &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => {
            c.wait_pod("probed", 20, is_ready).await;
        }
        // A server that keeps pod specs immutable (as kube-apiserver does):
        // the same pod with the working path instead.
        Err(kube::Error::Api(e)) if e.code == 422 => {
            let mut fixed = nginx("probed2");
            fixed["spec"]["containers"][0]["readinessProbe"] = json!({
                "httpGet": {"path": "/", "port": 80}, "periodSeconds": 1
            });
            c.create(fixed).await;
            c.wait_pod("probed2", 20, is_ready).await;
            let p = c.pods().get("probed").await.unwrap();
            assert_eq!(condition(&p, "Ready").as_deref(), Some("False"));
        }
        Err(e) => panic!("patching the probe: {e}"),
    }
    // An Unhealthy event was recorded for the failing probe.
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    assert!(list
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("Unhealthy")
            && e.message
                .as_deref()
                .unwrap_or("")
                .contains("Readiness probe failed: HTTP probe failed with statuscode: 404")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_failure_restarts_the_container() {
    let c = common::start().await;
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "live"},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
            "name": "app", "image": "busybox", "command": ["sleep", "3600"],
            "livenessProbe": {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
        }]}
    }))
    .await;
    let p = c
        .wait_pod("live", 40, |p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .is_some_and(|cs| cs[0].restart_count >= 1)
        })
        .await;
    let cs = &p.status.unwrap().container_statuses.unwrap()[0];
    let last = cs.last_state.clone().unwrap().terminated.unwrap();
    assert_eq!(last.exit_code, 143, "SIGTERM'd sleep: {last:?}");
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    assert!(list
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("Killing")
            && e.message.as_deref()
                == Some("Container app failed liveness probe, will be restarted")));
    assert!(list
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("Unhealthy")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_pod_kills_its_processes() {
    let c = common::start().await;
    let created = c
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "sleeper"},
            "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 3600 & sleep 3600"]}]}
        }))
        .await;
    let uid = created.metadata.uid.clone().unwrap();
    c.wait_pod("sleeper", 30, |p| {
        p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
    })
    .await;
    let pidfile = c.pod_dir(&uid).join("pids").join("app.pid");
    let text = std::fs::read_to_string(&pidfile).expect("pidfile");
    let pid: i32 = text.split_whitespace().next().unwrap().parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let members = group_members(pid);
    assert!(
        members.len() >= 2,
        "sh and its children share the group: {members:?}"
    );
    c.pods()
        .delete("sleeper", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match c.pods().get_opt("sleeper").await.unwrap() {
            None => break,
            Some(_) => assert!(Instant::now() < deadline, "pod was not deleted"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for m in members {
        assert!(!alive(m), "process {m} survived the pod");
    }
    assert!(!c.pod_dir(&uid).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pod_reports_why() {
    let c = common::start().await;
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "picky"},
        "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "app", "image": "nginx"}]}
    }))
    .await;
    let p = c
        .wait_pod("picky", 20, |p| {
            condition(p, "PodScheduled").as_deref() == Some("False")
        })
        .await;
    let cond = p
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")
        .unwrap();
    assert_eq!(cond.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(
        cond.message.as_deref(),
        Some("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")
    );
    let events: Api<Event> = Api::namespaced(c.client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| e.reason.as_deref() == Some("FailedScheduling"))
    {
        assert!(Instant::now() < deadline, "no FailedScheduling event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Labelling the node makes it fit.
    let nodes: Api<Node> = Api::all(c.client.clone());
    nodes
        .patch(
            &c.node,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"disk": "ssd"}}})),
        )
        .await
        .unwrap();
    c.wait_pod("picky", 30, is_ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_vars_and_init_containers() {
    let c = common::start().await;
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(c.client.clone(), "default");
    cms.create(
        &Default::default(),
        &serde_json::from_value(
            json!({"metadata": {"name": "cfg"}, "data": {"color": "blue", "size": "L"}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "envy", "labels": {"tier": "web"}},
        "spec": {"restartPolicy": "Never",
            "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "echo init-ran > marker"]}],
            "containers": [{
            "name": "app", "image": "busybox",
            "command": ["sh", "-c", "cat marker; echo COLOR=$COLOR NAME=$MY_NAME TIER=$TIER IP_OK=$([ \"$MY_IP\" = \"$POD_IP\" ] && echo yes) K8S=$KUBERNETES_SERVICE_HOST X=$CFG_size GREETING=$(GREETING)"],
            "env": [
                {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
                {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
                {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "WHO", "value": "world"},
                {"name": "GREETING", "value": "hello-$(WHO)"}
            ],
            "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}]
        }]}
    }))
    .await;
    let p = c
        .wait_pod("envy", 30, |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")
        })
        .await;
    let init = &p.status.clone().unwrap().init_container_statuses.unwrap()[0];
    assert_eq!(
        init.state
            .clone()
            .unwrap()
            .terminated
            .unwrap()
            .reason
            .as_deref(),
        Some("Completed")
    );
    let (_, logs) = c.agent_get("/containerLogs/default/envy/app").await;
    assert!(logs.contains("init-ran"), "{logs}");
    assert!(
        logs.contains("COLOR=blue NAME=envy TIER=web IP_OK=yes"),
        "{logs}"
    );
    assert!(logs.contains("K8S=127.96.0.1"), "{logs}");
    assert!(logs.contains("X=L GREETING=hello-world"), "{logs}");
    let (_, init_logs) = c.agent_get("/containerLogs/default/envy/init").await;
    assert_eq!(init_logs, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_deadline_fails_the_pod() {
    let c = common::start().await;
    c.create(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "deadline"},
        "spec": {"activeDeadlineSeconds": 2, "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]}
    }))
    .await;
    let p = c
        .wait_pod("deadline", 20, |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
                && p.status
                    .as_ref()
                    .unwrap()
                    .container_statuses
                    .as_ref()
                    .is_some_and(|cs| cs[0].state.as_ref().is_some_and(|s| s.terminated.is_some()))
        })
        .await;
    assert_eq!(
        p.status.unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
}
