//! The cluster DNS benchmark: a cluster with N Services, the builtin
//! coredns image as its own process pinned to one core and listening on
//! loopback, then load from `dnsperf` (if installed) or an in-process
//! generator on the other core. Latency is measured closed-loop (one query
//! in flight) against the DNS server and, as the baseline of the same run,
//! against a bare UDP echo responder on the same core: the difference is
//! what answering costs.

use super::api::create_services;
use super::cluster::tempdir;
use super::cluster::{rss_kib_of, BenchCluster};
use super::stats::Summary;
use anyhow::Context;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};
use nodeagent::builtin::dns::{build_query, parse_response, TYPE_A};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct DnsBenchArgs {
    /// Services in the cluster.
    #[arg(long, default_value_t = 10_000)]
    pub services: usize,
    /// Seconds of load for the throughput run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Queries timed one at a time for the latency figures.
    #[arg(long, default_value_t = 20_000)]
    pub latency_queries: usize,
    /// CPU the DNS server is pinned to.
    #[arg(long, default_value_t = 0)]
    pub server_cpu: usize,
}

/// Pins the calling thread (or the process about to exec) to one CPU.
fn pin_to_cpu(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the call only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn free_udp_port() -> anyhow::Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The coredns builtin as a child process on 127.0.0.1:`port`.
struct DnsServer(Child);

impl DnsServer {
    fn start(
        kubeconfig: &std::path::Path,
        port: u16,
        cpu: usize,
        log: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log)?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.args([
            "builtin",
            "registry.k8s.io/coredns/coredns",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
        ])
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
        // SAFETY: sched_setaffinity is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || pin_to_cpu(cpu));
        }
        Ok(DnsServer(cmd.spawn().context("starting the DNS server")?))
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One A query, waiting for its answer; the rcode and the time it took.
fn ask(sock: &UdpSocket, id: u16, name: &str) -> anyhow::Result<(u8, usize, Duration)> {
    let q = build_query(id, name, TYPE_A);
    let mut buf = [0u8; 1500];
    let t = Instant::now();
    sock.send(&q)?;
    loop {
        let n = sock.recv(&mut buf)?;
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            let elapsed = t.elapsed();
            let a = parse_response(&buf[..n]).context("malformed answer")?;
            return Ok((a.rcode, a.records.len(), elapsed));
        }
    }
}

fn client_socket(server: SocketAddr) -> anyhow::Result<UdpSocket> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    sock.connect(server)?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))?;
    Ok(sock)
}

fn name(i: usize) -> String {
    format!("svc-{i}.default.svc.cluster.local")
}

/// Closed-loop latency over `n` queries for Service names.
fn latency(server: SocketAddr, services: usize, n: usize) -> anyhow::Result<Summary> {
    let sock = client_socket(server)?;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let (_, _, d) = ask(&sock, i as u16, &name((i * 7919) % services.max(1)))?;
        samples.push(d);
    }
    Ok(Summary::of(samples))
}

/// Waits until the server answers the last Service (it has listed them all).
fn wait_for_index(server: SocketAddr, services: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let sock = client_socket(server)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let last = name(services.saturating_sub(1));
    loop {
        if let Ok((0, n, _)) = ask(&sock, 1, &last) {
            if n > 0 {
                return Ok(started.elapsed());
            }
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the DNS server never answered {last}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A UDP responder that sends every datagram back, pinned like the server.
fn echo_server(cpu: usize) -> anyhow::Result<SocketAddr> {
    let sock = UdpSocket::bind("127.0.0.1:0")?;
    let addr = sock.local_addr()?;
    std::thread::spawn(move || {
        let _ = pin_to_cpu(cpu);
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    Ok(addr)
}

/// `dnsperf` over the Service names for `seconds`: its report lines.
fn dnsperf(
    server: SocketAddr,
    services: usize,
    seconds: u64,
    dir: &std::path::Path,
) -> anyhow::Result<Option<String>> {
    if Command::new("dnsperf").arg("-h").output().is_err() {
        return Ok(None);
    }
    let file = dir.join("dnsperf-queries.txt");
    let text: String = (0..services).map(|i| format!("{} A\n", name(i))).collect();
    std::fs::write(&file, text)?;
    let out = Command::new("dnsperf")
        .args([
            "-s",
            &server.ip().to_string(),
            "-p",
            &server.port().to_string(),
        ])
        .arg("-d")
        .arg(&file)
        .args([
            "-l",
            &seconds.to_string(),
            "-c",
            "4",
            "-q",
            "200",
            "-S",
            "0",
        ])
        .output()
        .context("running dnsperf")?;
    let report = String::from_utf8_lossy(&out.stdout);
    Ok(Some(
        report
            .lines()
            .filter(|l| {
                [
                    "Queries sent",
                    "Queries completed",
                    "Queries lost",
                    "Queries per second",
                    "Average Latency",
                    "Latency StdDev",
                ]
                .iter()
                .any(|k| l.trim_start().starts_with(k))
            })
            .map(|l| l.trim().to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    ))
}

/// In-process load: `clients` closed-loop sockets for `seconds`.
fn generated_qps(
    server: SocketAddr,
    services: usize,
    seconds: u64,
    clients: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let sock = client_socket(server)?;
                let mut done = 0u64;
                let mut i = c;
                while Instant::now() < until {
                    ask(&sock, i as u16, &name(i % services.max(1)))?;
                    done += 1;
                    i += clients;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h
            .join()
            .map_err(|_| anyhow::anyhow!("load thread panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// How long after the create reply a new Service is answered (watch
/// delivery plus indexing), polled as fast as the server answers.
async fn propagation(api: &Api<Service>, server: SocketAddr, n: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(n);
    for k in 0..n {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("late-{k}")},
            "spec": {"ports": [{"port": 80}]}
        }))?;
        api.create(&PostParams::default(), &svc).await?;
        let t = Instant::now();
        let waited = tokio::task::spawn_blocking(move || -> anyhow::Result<Duration> {
            let sock = client_socket(server)?;
            let wanted = format!("late-{k}.default.svc.cluster.local");
            for id in 0u16.. {
                if let Ok((0, n, _)) = ask(&sock, id, &wanted) {
                    if n > 0 {
                        return Ok(t.elapsed());
                    }
                }
                anyhow::ensure!(
                    t.elapsed() < Duration::from_secs(10),
                    "{wanted} never answered"
                );
            }
            anyhow::bail!("{wanted} never answered")
        })
        .await??;
        samples.push(waited);
    }
    Ok(Summary::of(samples))
}

pub async fn run(args: DnsBenchArgs) -> anyhow::Result<()> {
    let dir = tempdir()?;
    let mut cluster = BenchCluster::new(&dir)?;
    cluster.start().await?;
    let client = cluster.client().await?;
    let services: Api<Service> = Api::namespaced(client, "default");
    let created = create_services(&services, args.services, 8).await?;
    let api = services;
    println!("{} Services created ({created})", args.services);

    let port = free_udp_port()?;
    let server_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let dns = DnsServer::start(
        &dir.join("kubeconfig"),
        port,
        args.server_cpu,
        &dir.join("bench-dns.log"),
    )?;
    let (services_n, seconds, lat_n, cpu) = (
        args.services,
        args.seconds,
        args.latency_queries,
        args.server_cpu,
    );
    let load_cpu = if cpu == 0 { 1 } else { 0 };
    let work_dir = dir.clone();
    let synced =
        tokio::task::spawn_blocking(move || wait_for_index(server_addr, services_n)).await??;
    println!(
        "DNS server listed {services_n} Services and answered in {:.0} ms",
        synced.as_secs_f64() * 1000.0
    );
    let visible = propagation(&api, server_addr, 50).await?;
    println!("create reply to first answer naming the new Service: {visible}");
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        // The load runs on the other core.
        let _ = pin_to_cpu(load_cpu);
        let pid = dns.0.id();
        println!(
            "DNS server RSS with {services_n} Services: {:.1} MiB",
            rss_kib_of(pid)? as f64 / 1024.0
        );
        let baseline = latency(echo_server(cpu)?, services_n, lat_n)?;
        let measured = latency(server_addr, services_n, lat_n)?;
        println!("latency, one query in flight, baseline UDP echo on the same core: {baseline}");
        println!("latency, one query in flight, cluster names:                     {measured}");
        match dnsperf(server_addr, services_n, seconds, &work_dir)? {
            Some(r) => println!(
                "dnsperf, {seconds} s, 4 clients, up to 200 in flight, server on one core:\n{r}"
            ),
            None => {
                let qps = generated_qps(server_addr, services_n, seconds, 8)?;
                println!(
                    "dnsperf not found; in-process load, 8 closed-loop clients: {qps:.0} queries/s"
                )
            }
        }
        println!(
            "DNS server RSS after the load: {:.1} MiB",
            rss_kib_of(pid)? as f64 / 1024.0
        );
        drop(dns);
        Ok(())
    })
    .await;
    cluster.stop();
    let _ = std::fs::remove_dir_all(&dir);
    report.context("benchmark thread")?
}
