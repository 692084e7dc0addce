//! Service-account tokens: the JWTs kube-apiserver's TokenRequest API
//! (`serviceaccounts/token`) issues, with its claims (`iss`, `sub`, `aud`,
//! the `kubernetes.io` private claim naming the namespace, service account
//! and bound object), signed ES256 by a key generated on first start and
//! kept in the data dir (`pki/sa.key`), like `--service-account-key-file`.

use anyhow::Context;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rcgen::{KeyPair, PublicKeyData};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::Path;

/// The issuer and default audience, kube-apiserver's default for a cluster
/// domain of cluster.local.
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    key_id: String,
}

/// The claims of a bound service-account token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
    pub sub: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pod: Option<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub node: Option<ObjectRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRef {
    pub name: String,
    pub uid: String,
}

impl Claims {
    /// The user a TokenReview of this token reports.
    pub fn user_info(&self) -> Value {
        let ns = &self.kubernetes.namespace;
        let mut extra = serde_json::Map::new();
        if let Some(pod) = &self.kubernetes.pod {
            extra.insert(
                "authentication.kubernetes.io/pod-name".into(),
                json!([pod.name]),
            );
            extra.insert(
                "authentication.kubernetes.io/pod-uid".into(),
                json!([pod.uid]),
            );
        }
        extra.insert(
            "authentication.kubernetes.io/credential-id".into(),
            json!([format!("JTI={}", self.jti)]),
        );
        json!({
            "username": self.sub,
            "uid": self.kubernetes.serviceaccount.uid,
            "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{ns}"), "system:authenticated"],
            "extra": extra,
        })
    }
}

impl TokenSigner {
    /// Loads the signing key from `dir/pki/sa.key`, generating it on first start.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<TokenSigner> {
        let path = dir.join("pki/sa.key");
        let pem = match std::fs::read_to_string(&path) {
            Ok(pem) => pem,
            Err(_) => {
                let pem = KeyPair::generate()?.serialize_pem();
                std::fs::create_dir_all(dir.join("pki"))?;
                crate::tls::write_private(&path, &pem)?;
                pem
            }
        };
        let pair = KeyPair::from_pem(&pem).context("reading pki/sa.key")?;
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).context("pki/sa.key")?;
        let decoding = DecodingKey::from_ec_pem(pair.public_key_pem().as_bytes())
            .context("pki/sa.key public key")?;
        // kube-apiserver's key id: the unpadded base64url SHA-256 of the
        // public key's DER.
        let digest = ring::digest::digest(&ring::digest::SHA256, &pair.subject_public_key_info());
        let key_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
        Ok(TokenSigner {
            encoding,
            decoding,
            key_id,
        })
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing token")
    }

    /// The claims of a token this server signed and that has not expired.
    pub fn verify(&self, token: &str) -> anyhow::Result<Claims> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .context("invalid bearer token")?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let signer = TokenSigner::load_or_create(dir.path()).unwrap();
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            aud: vec![ISSUER.into()],
            exp: now + 3600,
            iat: now,
            nbf: now,
            iss: ISSUER.into(),
            jti: "j".into(),
            kubernetes: KubernetesClaims {
                namespace: "default".into(),
                serviceaccount: ObjectRef {
                    name: "default".into(),
                    uid: "u".into(),
                },
                pod: None,
                secret: None,
                node: None,
            },
            sub: "system:serviceaccount:default:default".into(),
        };
        let token = signer.sign(&claims).unwrap();
        let back = signer.verify(&token).unwrap();
        assert_eq!(back.sub, claims.sub);
        // The same key after a restart.
        let again = TokenSigner::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&token).is_ok());
        assert!(again.verify(&format!("{token}x")).is_err());
    }
}
