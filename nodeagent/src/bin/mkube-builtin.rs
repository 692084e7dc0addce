//! The builtin images and applets alone (what `mkube builtin ...` and the
//! applet symlinks run), for the integration tests; `agent` runs a node
//! agent in this process, so tests can kill it with SIGKILL:
//! `mkube-builtin agent KUBECONFIG DATA_DIR POD_CIDR NODE_NAME [--with-scheduler]`.

fn main() -> std::process::ExitCode {
    if let Some(code) = nodeagent::dispatch_builtin_argv() {
        return code;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("agent") && (args.len() == 6 || args.len() == 7) {
        let with_scheduler = args.get(6).map(String::as_str) == Some("--with-scheduler");
        return match run_agent(&args[2], &args[3], &args[4], &args[5], with_scheduler) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("agent: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    eprintln!("usage: mkube-builtin builtin <image-or-applet> [args...]");
    std::process::ExitCode::from(2)
}

fn run_agent(
    kubeconfig: &str,
    data_dir: &str,
    cidr: &str,
    node: &str,
    with_scheduler: bool,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
        let raw: serde_yaml::Value = serde_yaml::from_str(&std::fs::read_to_string(kubeconfig)?)?;
        let token = raw["users"][0]["user"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await?;
        let client = kube::Client::try_from(config)?;
        if with_scheduler {
            let c = client.clone();
            tokio::spawn(async move {
                if let Err(e) = nodeagent::start_scheduler(c).await {
                    eprintln!("scheduler: {e:#}");
                }
            });
        }
        let _agent = nodeagent::start(
            client,
            nodeagent::AgentOptions {
                node_name: node.to_string(),
                node_ip: std::net::IpAddr::from([127, 0, 0, 1]),
                data_dir: data_dir.into(),
                image_map: None,
                pod_cidr: Some(cidr.parse()?),
                api_token: token,
                dns: nodeagent::clusterdns::resolv::NodeDns {
                    cluster_dns: Vec::new(),
                    cluster_domain: nodeagent::clusterdns::DEFAULT_CLUSTER_DOMAIN.to_string(),
                },
                pod_kubeconfig: Some(kubeconfig.into()),
                max_pods: nodeagent::node::DEFAULT_MAX_PODS,
            },
        )
        .await?;
        println!("agent ready");
        std::future::pending::<()>().await;
        Ok(())
    })
}
