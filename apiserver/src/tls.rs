//! The cluster's CA, serving certificate and bearer token, generated on first
//! start and kept in the data dir.

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub struct Credentials {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub token: String,
}

fn files(dir: &Path) -> [PathBuf; 5] {
    [
        dir.join("pki/ca.crt"),
        dir.join("pki/ca.key"),
        dir.join("pki/apiserver.crt"),
        dir.join("pki/apiserver.key"),
        dir.join("pki/token"),
    ]
}

/// Loads the credentials, generating them on first start. `ips` are the
/// addresses the serving certificate must be valid for.
pub fn load_or_create(dir: &Path, ips: &[IpAddr]) -> anyhow::Result<Credentials> {
    let [ca_crt, ca_key, crt, key, token] = files(dir);
    if [&ca_crt, &ca_key, &token].iter().all(|p| p.exists()) {
        let ca_pem = std::fs::read_to_string(&ca_crt)?;
        let ca_key_pem = std::fs::read_to_string(&ca_key)?;
        let token = std::fs::read_to_string(&token)?.trim().to_string();
        // The serving certificate is re-issued when missing (e.g. new addresses).
        let (cert_pem, key_pem) =
            match (std::fs::read_to_string(&crt), std::fs::read_to_string(&key)) {
                (Ok(c), Ok(k)) => (c, k),
                _ => issue_serving(&ca_pem, &ca_key_pem, ips, &crt, &key)?,
            };
        return Ok(Credentials {
            ca_pem,
            cert_pem,
            key_pem,
            token,
        });
    }
    std::fs::create_dir_all(dir.join("pki")).context("creating pki dir")?;
    let ca_key_pair = KeyPair::generate()?;
    let ca_cert = ca_params()?.self_signed(&ca_key_pair)?;
    let ca_pem = ca_cert.pem();
    let ca_key_pem = ca_key_pair.serialize_pem();
    write_private(&ca_crt, &ca_pem)?;
    write_private(&ca_key, &ca_key_pem)?;
    let token_value = random_token();
    write_private(&token, &token_value)?;
    let (cert_pem, key_pem) = issue_serving(&ca_pem, &ca_key_pem, ips, &crt, &key)?;
    Ok(Credentials {
        ca_pem,
        cert_pem,
        key_pem,
        token: token_value,
    })
}

fn issue_serving(
    ca_pem: &str,
    ca_key_pem: &str,
    ips: &[IpAddr],
    crt: &Path,
    key: &Path,
) -> anyhow::Result<(String, String)> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    // The issuer is rebuilt from the same parameters and key as the CA
    // certificate, so subject and key identifier match.
    let _ = ca_pem;
    let issuer = rcgen::Issuer::new(ca_params()?, ca_key);
    let mut names = vec![
        "localhost".to_string(),
        "kubernetes".into(),
        "kubernetes.default".into(),
        "kubernetes.default.svc".into(),
        "kubernetes.default.svc.cluster.local".into(),
    ];
    names.dedup();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    for ip in ips {
        params.subject_alt_names.push(SanType::IpAddress(*ip));
    }
    let key_pair = KeyPair::generate()?;
    let cert = params.signed_by(&key_pair, &issuer)?;
    let (cert_pem, key_pem) = (cert.pem(), key_pair.serialize_pem());
    write_private(crt, &cert_pem)?;
    write_private(key, &key_pem)?;
    Ok((cert_pem, key_pem))
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, "mkube-ca");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(p)
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..32)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}

/// A rustls server config for these credentials (HTTP/2 and HTTP/1.1).
pub fn server_config(creds: &Credentials) -> anyhow::Result<rustls::ServerConfig> {
    let certs =
        rustls_pemfile::certs(&mut creds.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut creds.key_pem.as_bytes())?
        .ok_or_else(|| anyhow::anyhow!("no private key in apiserver.key"))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Writes a kubeconfig for `server` with the CA embedded and the token.
pub fn write_kubeconfig(
    path: &Path,
    server: &str,
    creds: &Credentials,
    cluster_name: &str,
) -> anyhow::Result<()> {
    use base64::Engine;
    let ca = base64::engine::general_purpose::STANDARD.encode(creds.ca_pem.as_bytes());
    let cfg = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: {cluster_name}\ncontexts:\n- context:\n    cluster: {cluster_name}\n    user: {cluster_name}-admin\n    namespace: default\n  name: {cluster_name}\ncurrent-context: {cluster_name}\nusers:\n- name: {cluster_name}-admin\n  user:\n    token: {}\npreferences: {{}}\n",
        creds.token
    );
    write_private(path, &cfg)
}
