//! A container's environment as the kubelet builds it: service link
//! variables, envFrom, env (with valueFrom and $(VAR) expansion).

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Service};
use kube::{Api, Client};
use std::collections::BTreeMap;

/// `my-svc` -> `MY_SVC`.
fn env_name(s: &str) -> String {
    s.to_uppercase().replace('-', "_")
}

/// The service variables (`X_SERVICE_HOST`, `X_SERVICE_PORT`, named ports
/// and the docker-link set) for the given services.
pub fn service_env(services: &[Service]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for svc in services {
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        let ip = spec.cluster_ip.as_deref().unwrap_or("");
        if ip.is_empty() || ip == "None" {
            continue;
        }
        let name = env_name(svc.metadata.name.as_deref().unwrap_or_default());
        let ports = spec.ports.clone().unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        out.push((format!("{name}_SERVICE_HOST"), ip.to_string()));
        out.push((format!("{name}_SERVICE_PORT"), first.port.to_string()));
        for p in &ports {
            if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((
                    format!("{name}_SERVICE_PORT_{}", env_name(pn)),
                    p.port.to_string(),
                ));
            }
        }
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        let proto = |p: &k8s_openapi::api::core::v1::ServicePort| {
            p.protocol
                .clone()
                .unwrap_or_else(|| "TCP".into())
                .to_lowercase()
        };
        out.push((
            format!("{name}_PORT"),
            format!("{}://{host}:{}", proto(first), first.port),
        ));
        for p in &ports {
            let pr = proto(p);
            let prefix = format!("{name}_PORT_{}_{}", p.port, pr.to_uppercase());
            out.push((prefix.clone(), format!("{pr}://{host}:{}", p.port)));
            out.push((format!("{prefix}_PROTO"), pr.clone()));
            out.push((format!("{prefix}_PORT"), p.port.to_string()));
            out.push((format!("{prefix}_ADDR"), ip.to_string()));
        }
    }
    out
}

/// Kubernetes' $(VAR) expansion: defined variables are replaced, `$$`
/// escapes, anything else stays as written.
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            if b[i + 1] == b'$' {
                out.push('$');
                i += 2;
                continue;
            }
            if b[i + 1] == b'(' {
                if let Some(end) = s[i + 2..].find(')') {
                    let name = &s[i + 2..i + 2 + end];
                    if let Some(v) = vars.get(name) {
                        out.push_str(v);
                        i += 3 + end;
                        continue;
                    }
                }
            }
        }
        let ch = s[i..].chars().next().unwrap_or('$');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Context for computing variables.
pub struct EnvContext<'a> {
    pub pod: &'a Pod,
    pub pod_ip: String,
    pub host_ip: String,
    pub node_name: &'a str,
}

fn field_ref(ctx: &EnvContext, path: &str) -> Result<String, String> {
    let m = &ctx.pod.metadata;
    let spec = ctx.pod.spec.as_ref();
    let from_map = |map: &Option<BTreeMap<String, String>>, key: &str| {
        map.as_ref()
            .and_then(|l| l.get(key).cloned())
            .unwrap_or_default()
    };
    let key_of = |p: &str, prefix: &str| -> Option<String> {
        p.strip_prefix(prefix)
            .and_then(|r| r.strip_prefix("['").or_else(|| r.strip_prefix("[\"")))
            .and_then(|r| r.strip_suffix("']").or_else(|| r.strip_suffix("\"]")))
            .map(str::to_string)
    };
    Ok(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_default(),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| ctx.node_name.to_string()),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => ctx.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => ctx.host_ip.clone(),
        "metadata.labels" => m
            .labels
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join("\n"),
        "metadata.annotations" => m
            .annotations
            .clone()
            .unwrap_or_default()
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join("\n"),
        p => {
            if let Some(k) = key_of(p, "metadata.labels") {
                from_map(&m.labels, &k)
            } else if let Some(k) = key_of(p, "metadata.annotations") {
                from_map(&m.annotations, &k)
            } else {
                return Err(format!("unsupported fieldRef {p}"));
            }
        }
    })
}

fn resource_ref(c: &Container, resource: &str, divisor: Option<&str>) -> String {
    let res = c.resources.clone().unwrap_or_default();
    let (kind, name) = resource.split_once('.').unwrap_or(("limits", resource));
    let map = if kind == "requests" {
        res.requests
    } else {
        res.limits
    };
    let value = map
        .and_then(|m| m.get(name).cloned())
        .and_then(|q| crate::quantity::parse_quantity(&q.0))
        .unwrap_or_else(|| match name {
            "cpu" => std::thread::available_parallelism()
                .map(|n| n.get() as f64)
                .unwrap_or(1.0),
            _ => 0.0,
        });
    let div = divisor
        .and_then(crate::quantity::parse_quantity)
        .filter(|d| *d > 0.0)
        .unwrap_or(1.0);
    format!("{}", (value / div).ceil() as i64)
}

/// Looks up ConfigMaps and Secrets once per container start.
struct Sources<'a> {
    client: &'a Client,
    ns: String,
    cms: BTreeMap<String, Option<BTreeMap<String, String>>>,
    secrets: BTreeMap<String, Option<BTreeMap<String, String>>>,
}

impl Sources<'_> {
    async fn config_map(&mut self, name: &str) -> Result<Option<BTreeMap<String, String>>, String> {
        if !self.cms.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.ns);
            let cm = api.get_opt(name).await.map_err(|e| e.to_string())?;
            self.cms
                .insert(name.to_string(), cm.map(|c| c.data.unwrap_or_default()));
        }
        Ok(self.cms.get(name).cloned().flatten())
    }

    async fn secret(&mut self, name: &str) -> Result<Option<BTreeMap<String, String>>, String> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.ns);
            let s = api.get_opt(name).await.map_err(|e| e.to_string())?;
            self.secrets.insert(
                name.to_string(),
                s.map(|s| {
                    let mut m: BTreeMap<String, String> = s
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).to_string()))
                        .collect();
                    m.extend(s.string_data.unwrap_or_default());
                    m
                }),
            );
        }
        Ok(self.secrets.get(name).cloned().flatten())
    }
}

/// The variables Kubernetes defines for the container (service links,
/// envFrom, env), in order; an Err is the CreateContainerConfigError message.
pub async fn container_env(
    client: &Client,
    ctx: &EnvContext<'_>,
    c: &Container,
) -> Result<Vec<(String, String)>, String> {
    let ns = ctx
        .pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let spec = ctx.pod.spec.clone().unwrap_or_default();
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut set = |vars: &mut BTreeMap<String, String>, k: String, v: String| {
        if !vars.contains_key(&k) {
            order.push(k.clone());
        }
        vars.insert(k, v);
    };
    // Service links: the pod's namespace (unless disabled) and the master
    // service in default.
    let mut services: Vec<Service> = Vec::new();
    let svc_api: Api<Service> = Api::namespaced(client.clone(), "default");
    if let Ok(Some(k)) = svc_api.get_opt("kubernetes").await {
        services.push(k);
    }
    if spec.enable_service_links.unwrap_or(true) {
        let api: Api<Service> = Api::namespaced(client.clone(), &ns);
        if let Ok(list) = api.list(&Default::default()).await {
            for s in list.items {
                let is_master = ns == "default" && s.metadata.name.as_deref() == Some("kubernetes");
                if !is_master {
                    services.push(s);
                }
            }
        }
    }
    for (k, v) in service_env(&services) {
        set(&mut vars, k, v);
    }
    let mut sources = Sources {
        client,
        ns: ns.clone(),
        cms: BTreeMap::new(),
        secrets: BTreeMap::new(),
    };
    for ef in c.env_from.iter().flatten() {
        let prefix = ef.prefix.clone().unwrap_or_default();
        if let Some(r) = &ef.config_map_ref {
            let name = r.name.clone();
            match sources.config_map(&name).await? {
                Some(data) => {
                    for (k, v) in data {
                        set(&mut vars, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("configmap \"{name}\" not found")),
            }
        }
        if let Some(r) = &ef.secret_ref {
            let name = r.name.clone();
            match sources.secret(&name).await? {
                Some(data) => {
                    for (k, v) in data {
                        set(&mut vars, format!("{prefix}{k}"), v);
                    }
                }
                None if r.optional == Some(true) => {}
                None => return Err(format!("secret \"{name}\" not found")),
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(vf) = &e.value_from {
            if let Some(r) = &vf.config_map_key_ref {
                match sources.config_map(&r.name).await? {
                    Some(d) => match d.get(&r.key) {
                        Some(v) => v.clone(),
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(format!(
                                "couldn't find key {} in ConfigMap {ns}/{}",
                                r.key, r.name
                            ))
                        }
                    },
                    None if r.optional == Some(true) => continue,
                    None => return Err(format!("configmap \"{}\" not found", r.name)),
                }
            } else if let Some(r) = &vf.secret_key_ref {
                match sources.secret(&r.name).await? {
                    Some(d) => match d.get(&r.key) {
                        Some(v) => v.clone(),
                        None if r.optional == Some(true) => continue,
                        None => {
                            return Err(format!(
                                "couldn't find key {} in Secret {ns}/{}",
                                r.key, r.name
                            ))
                        }
                    },
                    None if r.optional == Some(true) => continue,
                    None => return Err(format!("secret \"{}\" not found", r.name)),
                }
            } else if let Some(r) = &vf.field_ref {
                field_ref(ctx, &r.field_path)?
            } else if let Some(r) = &vf.resource_field_ref {
                let target = r
                    .container_name
                    .as_deref()
                    .and_then(|n| spec.containers.iter().find(|x| x.name == n))
                    .unwrap_or(c);
                resource_ref(
                    target,
                    &r.resource,
                    r.divisor.as_ref().map(|d| d.0.as_str()),
                )
            } else {
                String::new()
            }
        } else {
            expand(e.value.as_deref().unwrap_or(""), &vars)
        };
        set(&mut vars, e.name.clone(), value);
    }
    Ok(order
        .into_iter()
        .filter_map(|k| vars.get(&k).map(|v| (k, v.clone())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ServicePort, ServiceSpec};

    #[test]
    fn service_link_variables() {
        let svc = Service {
            metadata: kube::api::ObjectMeta {
                name: Some("redis-master".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.0.0.11".into()),
                ports: Some(vec![ServicePort {
                    name: Some("db".into()),
                    port: 6379,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let env: BTreeMap<_, _> = service_env(&[svc]).into_iter().collect();
        assert_eq!(env["REDIS_MASTER_SERVICE_HOST"], "10.0.0.11");
        assert_eq!(env["REDIS_MASTER_SERVICE_PORT"], "6379");
        assert_eq!(env["REDIS_MASTER_SERVICE_PORT_DB"], "6379");
        assert_eq!(env["REDIS_MASTER_PORT"], "tcp://10.0.0.11:6379");
        assert_eq!(env["REDIS_MASTER_PORT_6379_TCP"], "tcp://10.0.0.11:6379");
        assert_eq!(env["REDIS_MASTER_PORT_6379_TCP_PROTO"], "tcp");
        assert_eq!(env["REDIS_MASTER_PORT_6379_TCP_PORT"], "6379");
        assert_eq!(env["REDIS_MASTER_PORT_6379_TCP_ADDR"], "10.0.0.11");
    }

    #[test]
    fn dollar_expansion() {
        let vars = BTreeMap::from([("A".to_string(), "x".to_string())]);
        assert_eq!(expand("$(A)-$(B)-$$(A)-$", &vars), "x-$(B)-$(A)-$");
    }
}
