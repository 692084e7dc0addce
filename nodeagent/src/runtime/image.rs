//! Images: the builtin catalog, the `--image-map` file (image -> host
//! command), and how a container's image, command and args become the argv
//! of a host process.

use k8s_openapi::api::core::v1::Container;
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Nginx,
    Httpd,
    HttpEcho,
    Agnhost,
    Pause,
    Busybox,
    CoreDns,
}

impl Builtin {
    /// The name `mkube builtin NAME` takes.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Nginx => "nginx",
            Builtin::Httpd => "httpd",
            Builtin::HttpEcho => "hashicorp/http-echo",
            Builtin::Agnhost => "registry.k8s.io/e2e-test-images/agnhost",
            Builtin::Pause => "pause",
            Builtin::Busybox => "busybox",
            Builtin::CoreDns => "registry.k8s.io/coredns/coredns",
        }
    }

    /// Program names that mean "the image's own program" in a command.
    fn entrypoints(self) -> &'static [&'static str] {
        match self {
            Builtin::Nginx => &["nginx"],
            Builtin::Httpd => &["httpd", "httpd-foreground"],
            Builtin::HttpEcho => &["http-echo"],
            Builtin::Agnhost => &["agnhost"],
            Builtin::Pause => &["pause"],
            Builtin::Busybox => &["busybox"],
            Builtin::CoreDns => &["coredns"],
        }
    }
}

pub const CATALOG: &str =
    "nginx, httpd, hashicorp/http-echo, registry.k8s.io/e2e-test-images/agnhost, pause, busybox, registry.k8s.io/coredns/coredns";

pub const APPLETS: &[&str] = &[
    "wget", "nc", "nslookup", "sleep", "echo", "cat", "env", "hostname", "true", "false",
];

/// The repository of an image reference without registry defaults, tag or
/// digest: `docker.io/library/nginx:1.25` -> `nginx`.
pub fn repository(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map(|i| i + 1).unwrap_or(0);
    let no_tag = match no_digest[last_slash..].find(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    };
    let mut r = no_tag.to_string();
    for prefix in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
        if let Some(rest) = r.strip_prefix(prefix) {
            r = rest.to_string();
        }
    }
    if let Some(rest) = r.strip_prefix("library/") {
        r = rest.to_string();
    }
    r
}

pub fn builtin_for(image: &str) -> Option<Builtin> {
    let repo = repository(image);
    let b = match repo.as_str() {
        "nginx" | "nginxinc/nginx-unprivileged" | "bitnami/nginx" => Builtin::Nginx,
        "httpd" => Builtin::Httpd,
        "hashicorp/http-echo" | "http-echo" => Builtin::HttpEcho,
        "registry.k8s.io/e2e-test-images/agnhost"
        | "k8s.gcr.io/e2e-test-images/agnhost"
        | "gcr.io/kubernetes-e2e-test-images/agnhost"
        | "agnhost" => Builtin::Agnhost,
        "pause"
        | "registry.k8s.io/pause"
        | "k8s.gcr.io/pause"
        | "gcr.io/google-containers/pause" => Builtin::Pause,
        "busybox"
        | "registry.k8s.io/e2e-test-images/busybox"
        | "gcr.io/google-containers/busybox" => Builtin::Busybox,
        "registry.k8s.io/coredns/coredns"
        | "registry.k8s.io/coredns"
        | "k8s.gcr.io/coredns"
        | "coredns/coredns" => Builtin::CoreDns,
        _ => return None,
    };
    Some(b)
}

/// The image map: image (full reference or repository) -> argv.
#[derive(Debug, Clone, Default)]
pub struct ImageMap(pub HashMap<String, Vec<String>>);

impl ImageMap {
    /// Reads a YAML or JSON map whose values are a command line (split on
    /// whitespace) or a list of arguments.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let raw: HashMap<String, serde_yaml::Value> = serde_yaml::from_str(&text)?;
        let mut map = HashMap::new();
        for (k, v) in raw {
            let argv: Vec<String> = match v {
                serde_yaml::Value::String(s) => s.split_whitespace().map(str::to_string).collect(),
                serde_yaml::Value::Sequence(items) => items
                    .into_iter()
                    .filter_map(|i| match i {
                        serde_yaml::Value::String(s) => Some(s),
                        serde_yaml::Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect(),
                _ => anyhow::bail!("image map entry {k:?}: expected a command string or list"),
            };
            if !argv.is_empty() {
                map.insert(k, argv);
            }
        }
        Ok(ImageMap(map))
    }

    pub fn lookup(&self, image: &str) -> Option<&Vec<String>> {
        self.0.get(image).or_else(|| self.0.get(&repository(image)))
    }
}

/// How to run a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub argv: Vec<String>,
    /// Put the busybox applets first on PATH.
    pub applets: bool,
    pub builtin: Option<Builtin>,
    /// What status.imageID shows.
    pub image_id: String,
}

pub fn image_error(image: &str) -> String {
    format!(
        "Failed to pull image \"{image}\": image \"{image}\" is not available on this node: mkube runs containers as host processes. Builtin images: {CATALOG}. Map other images to host commands with --image-map FILE (YAML/JSON: image -> command), or give the container a command"
    )
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// The argv for a container, or the ErrImagePull message.
pub fn launch(c: &Container, map: Option<&ImageMap>, mkube_bin: &str) -> Result<Launch, String> {
    let image = c.image.clone().unwrap_or_default();
    let command = c.command.clone().unwrap_or_default();
    let args = c.args.clone().unwrap_or_default();
    let builtin = builtin_for(&image);
    let mapped = map.and_then(|m| m.lookup(&image)).cloned();
    let image_id = match (builtin, &mapped) {
        (Some(b), _) if mapped.is_none() => format!("mkube://builtin/{}", b.name()),
        _ => format!("mkube://{}", image),
    };
    let builtin_argv = |b: Builtin, rest: Vec<String>| {
        let mut v = vec![
            mkube_bin.to_string(),
            "builtin".to_string(),
            b.name().to_string(),
        ];
        v.extend(rest);
        v
    };
    if let Some(first) = command.first() {
        if let (Some(b), None) = (builtin, &mapped) {
            let prog = basename(first);
            if b.entrypoints().contains(&prog) {
                let rest = command[1..].iter().chain(args.iter()).cloned().collect();
                return Ok(Launch {
                    argv: builtin_argv(b, rest),
                    applets: b == Builtin::Busybox,
                    builtin: Some(b),
                    image_id,
                });
            }
            // `/bin/wget` in a busybox image: the applet, when the host has
            // no such file.
            if APPLETS.contains(&prog) && (!first.contains('/') || !Path::new(first).exists()) {
                let mut argv = vec![prog.to_string()];
                argv.extend(command[1..].iter().chain(args.iter()).cloned());
                return Ok(Launch {
                    argv,
                    applets: true,
                    builtin: None,
                    image_id,
                });
            }
        }
        let mut argv = command.clone();
        argv.extend(args);
        return Ok(Launch {
            argv,
            applets: builtin.is_some() && mapped.is_none(),
            builtin: None,
            image_id,
        });
    }
    if let Some(mut argv) = mapped {
        argv.extend(args);
        return Ok(Launch {
            argv,
            applets: false,
            builtin: None,
            image_id,
        });
    }
    match builtin {
        // The busybox image has no entrypoint: args are the command.
        Some(Builtin::Busybox) if !args.is_empty() => {
            let mut c2 = c.clone();
            c2.command = Some(args);
            c2.args = None;
            launch(&c2, map, mkube_bin)
        }
        Some(b) => Ok(Launch {
            argv: builtin_argv(b, args),
            applets: b == Builtin::Busybox,
            builtin: Some(b),
            image_id,
        }),
        None => Err(image_error(&image)),
    }
}

/// Ports below 1024 a builtin will listen on (to check before starting it).
pub fn builtin_privileged_ports(b: Builtin, argv: &[String]) -> Vec<u16> {
    let flag = |name: &str, default: u16| -> u16 {
        argv.iter()
            .find_map(|a| {
                a.strip_prefix(&format!("--{name}="))
                    .or_else(|| a.strip_prefix(&format!("-{name}=")))
                    .and_then(|v| v.rsplit(':').next())
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(default)
    };
    let ports = match b {
        Builtin::Nginx | Builtin::Httpd => vec![80],
        Builtin::CoreDns => crate::clusterdns::parse_image_args(argv.get(3..).unwrap_or_default())
            .map(|a| vec![a.port])
            .unwrap_or_default(),
        Builtin::HttpEcho => vec![flag("listen", 5678)],
        Builtin::Agnhost => {
            if argv.iter().any(|a| a == "netexec") {
                vec![flag("http-port", 8080), flag("udp-port", 8081)]
            } else if argv.iter().any(|a| a == "serve-hostname") {
                vec![flag("port", 9376)]
            } else {
                vec![]
            }
        }
        _ => vec![],
    };
    ports.into_iter().filter(|p| *p > 0 && *p < 1024).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(image: &str, command: &[&str], args: &[&str]) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            command: (!command.is_empty()).then(|| command.iter().map(|s| s.to_string()).collect()),
            args: (!args.is_empty()).then(|| args.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn repositories() {
        assert_eq!(repository("nginx"), "nginx");
        assert_eq!(repository("nginx:1.25"), "nginx");
        assert_eq!(repository("docker.io/library/nginx:latest"), "nginx");
        assert_eq!(repository("nginx@sha256:abc"), "nginx");
        assert_eq!(repository("localhost:5000/app:v1"), "localhost:5000/app");
        assert_eq!(
            repository("registry.k8s.io/e2e-test-images/agnhost:2.53"),
            "registry.k8s.io/e2e-test-images/agnhost"
        );
        assert_eq!(
            builtin_for("docker.io/hashicorp/http-echo:1.0"),
            Some(Builtin::HttpEcho)
        );
        assert_eq!(
            builtin_for("registry.k8s.io/pause:3.10"),
            Some(Builtin::Pause)
        );
        assert_eq!(builtin_for("redis"), None);
        assert_eq!(
            builtin_for("registry.k8s.io/coredns/coredns:v1.12.0"),
            Some(Builtin::CoreDns)
        );
    }

    #[test]
    fn launches() {
        let l = launch(&c("nginx:1.25", &[], &[]), None, "/mk").unwrap();
        assert_eq!(l.argv, vec!["/mk", "builtin", "nginx"]);
        let l = launch(&c("busybox", &[], &["sh", "-c", "echo hi"]), None, "/mk").unwrap();
        assert_eq!(l.argv, vec!["sh", "-c", "echo hi"]);
        assert!(l.applets);
        let l = launch(&c("busybox", &[], &[]), None, "/mk").unwrap();
        assert_eq!(l.argv, vec!["/mk", "builtin", "busybox"]);
        let l = launch(&c("busybox", &["sh", "-c", "echo hi"], &[]), None, "/mk").unwrap();
        assert_eq!(l.argv, vec!["sh", "-c", "echo hi"]);
        assert!(l.applets);
        let l = launch(&c("busybox", &["/bin/wget", "-qO-", "x"], &[]), None, "/mk").unwrap();
        assert_eq!(
            l.argv[0],
            if Path::new("/bin/wget").exists() {
                "/bin/wget"
            } else {
                "wget"
            }
        );
        let l = launch(
            &c(
                "registry.k8s.io/e2e-test-images/agnhost:2.53",
                &[],
                &["netexec", "--http-port=8080"],
            ),
            None,
            "/mk",
        )
        .unwrap();
        assert_eq!(
            l.argv,
            vec![
                "/mk",
                "builtin",
                "registry.k8s.io/e2e-test-images/agnhost",
                "netexec",
                "--http-port=8080"
            ]
        );
        let l = launch(
            &c("agnhost", &["/agnhost", "serve-hostname"], &[]),
            None,
            "/mk",
        )
        .unwrap();
        assert_eq!(l.argv[3], "serve-hostname");
        let err = launch(&c("redis:7", &[], &[]), None, "/mk").unwrap_err();
        assert!(err.contains("--image-map"), "{err}");
        let l = launch(&c("redis:7", &["/usr/bin/env"], &[]), None, "/mk").unwrap();
        assert_eq!(l.argv, vec!["/usr/bin/env"]);
        let map = ImageMap(HashMap::from([(
            "redis".to_string(),
            vec!["/usr/bin/redis-server".to_string()],
        )]));
        let l = launch(&c("redis:7", &[], &["--port", "1"]), Some(&map), "/mk").unwrap();
        assert_eq!(l.argv, vec!["/usr/bin/redis-server", "--port", "1"]);
    }

    #[test]
    fn privileged_ports() {
        assert_eq!(builtin_privileged_ports(Builtin::Nginx, &[]), vec![80]);
        assert_eq!(
            builtin_privileged_ports(Builtin::HttpEcho, &["-listen=:80".into()]),
            vec![80]
        );
        assert!(builtin_privileged_ports(Builtin::HttpEcho, &[]).is_empty());
    }
}
