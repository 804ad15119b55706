//! Access tokens (EdDSA JWTs) and refresh tokens (opaque, hashed).

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, Mutex, RwLock},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{
    Signer as _, SigningKey,
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "authd";

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The project the token is for (its id, as `pid`): a resource server
    /// checks it is its own, and the gateway refuses a token of another
    /// project.
    pub aud: String,
    /// Customer id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Project id.
    pub pid: String,
    pub iat: i64,
    pub exp: i64,
    /// Stream sequence the session was last written at: a read model must
    /// have reached it before answering for this token.
    pub seq: u64,
    /// `mfa_enrollment`: the project requires a second factor and the
    /// customer has none yet, so this token may only add one (resource
    /// servers of such a project refuse it for anything else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted: Option<String>,
}

/// `AccessClaims::restricted` of a token that may only add a second factor.
pub const MFA_ENROLLMENT: &str = "mfa_enrollment";

/// The Ed25519 key that signs access tokens.
#[derive(Clone)]
pub struct SigningKeys {
    kid: String,
    /// Kept parsed: jsonwebtoken's `encode` parses a PKCS#8 key and derives
    /// its public half (a scalar multiplication) on every call, which was
    /// half the signing cost of a refresh.
    key: SigningKey,
    /// `base64url({"typ":"JWT","alg":"EdDSA","kid":…})`, the same for every token.
    header: String,
    public: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read signing key {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("cannot write signing key {path}: {reason}")]
    Write { path: String, reason: String },
}

impl SigningKeys {
    pub fn from_signing_key(key: &SigningKey) -> Self {
        let public = key.verifying_key().to_bytes();
        let kid = kid_of(&public);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        let header = serde_json::to_vec(&header).expect("a JWT header serializes");
        Self {
            kid,
            key: key.clone(),
            header: URL_SAFE_NO_PAD.encode(header),
            public,
        }
    }

    pub fn generate() -> Self {
        Self::from_signing_key(&SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Loads a PKCS#8 PEM key, creating it (mode 0600) if `create` and absent.
    pub fn load_or_create(path: &Path, create: bool) -> Result<Self, KeyError> {
        let p = path.display().to_string();
        if create && !path.exists() {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(Default::default())
                .map_err(|e| KeyError::Write {
                    path: p.clone(),
                    reason: e.to_string(),
                })?;
            write_private(path, pem.as_bytes()).map_err(|e| KeyError::Write {
                path: p.clone(),
                reason: e.to_string(),
            })?;
        }
        let pem = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
            path: p.clone(),
            reason: e.to_string(),
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Read {
            path: p,
            reason: e.to_string(),
        })?;
        Ok(Self::from_signing_key(&key))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// A compact JWS (`header.claims.signature`), as `jsonwebtoken::encode`
    /// makes it (Ed25519 signatures are deterministic: a test compares them).
    pub fn sign(&self, claims: &AccessClaims) -> String {
        let claims = serde_json::to_vec(claims).expect("claims serialize");
        let mut token = format!("{}.{}", self.header, URL_SAFE_NO_PAD.encode(claims));
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        token
    }

    /// The public key as PEM (SPKI), for gateways that verify only.
    pub fn public_key_pem(&self) -> String {
        use ed25519_dalek::pkcs8::EncodePublicKey;
        self.key
            .verifying_key()
            .to_public_key_pem(Default::default())
            .expect("an Ed25519 public key encodes")
    }

    pub fn verifier(&self) -> TokenVerifier {
        TokenVerifier::new(vec![(self.kid.clone(), self.public)])
    }
}

/// The `kid` of a public key: the first 12 bytes of its SHA-256, base64url.
pub fn kid_of(public: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(public)[..12])
}

/// The Ed25519 public keys (`-----BEGIN PUBLIC KEY-----` blocks, SPKI) in a
/// PEM file, each with its `kid`: what a gateway verifies with when it holds
/// no private key. Several keys let a rotation overlap.
pub fn load_public_keys(path: &Path) -> Result<Vec<(String, [u8; 32])>, KeyError> {
    use ed25519_dalek::{VerifyingKey, pkcs8::DecodePublicKey};
    const END: &str = "-----END PUBLIC KEY-----";
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| KeyError::Read {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let mut keys = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN PUBLIC KEY-----") {
        let block = &rest[start..];
        let end = block.find(END).ok_or_else(|| KeyError::Read {
            path: p.clone(),
            reason: "a PUBLIC KEY block has no end".into(),
        })? + END.len();
        let key = VerifyingKey::from_public_key_pem(&block[..end]).map_err(|e| KeyError::Read {
            path: p.clone(),
            reason: format!("not an Ed25519 public key: {e}"),
        })?;
        let public = key.to_bytes();
        if !keys.iter().any(|(_, k)| *k == public) {
            keys.push((kid_of(&public), public));
        }
        rest = &block[end..];
    }
    if keys.is_empty() {
        return Err(KeyError::Read {
            path: p,
            reason: "no PUBLIC KEY block".into(),
        });
    }
    Ok(keys)
}

/// Writes a secret file (mode 0600) unless it exists, atomically: several
/// instances starting at once on a shared directory all end up reading the
/// one file that won, never a half-written one.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = private_temp(path, bytes)?;
    // A hard link never replaces an existing file: the first writer wins.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Writes a secret file (mode 0600), replacing what is there, atomically.
pub fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = private_temp(path, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A new file (mode 0600) beside `path` holding `bytes`, synced.
fn private_temp(path: &Path, bytes: &[u8]) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        rand::rngs::OsRng.next_u64()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(tmp)
}

/// Checks access tokens against the public keys it knows, by `kid`. Clones
/// share the keys, so `set_keys` (a rotation) reaches every clone.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<RwLock<Arc<Vec<KnownKey>>>>,
    validation: Validation,
    /// Claims of tokens whose signature was already checked, by SHA-256 of
    /// the whole token, with when their key stops being trusted: a client
    /// sends the same token many times in its 15 minutes, and a hash lookup
    /// costs far less than an Ed25519 verification. Expiry is still checked
    /// on every hit; a change of keys empties it.
    verified: Arc<Mutex<Memo>>,
}

/// Checked tokens' claims and their key's end (unix ms), by token digest.
type Memo = HashMap<[u8; 32], (AccessClaims, i64)>;

/// A public key tokens may be signed by, and until when (unix ms; `None`:
/// no end announced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub kid: String,
    pub public: [u8; 32],
    pub until: Option<i64>,
}

struct KnownKey {
    trusted: TrustedKey,
    decoding: DecodingKey,
}

/// Most verified tokens remembered; the memo starts over when full.
const VERIFIED_CAPACITY: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("access token is malformed")]
    Malformed,
    #[error("access token is signed by an unknown key")]
    UnknownKey,
    #[error("access token signature or claims are invalid")]
    Invalid,
    #[error("access token has expired")]
    Expired,
}

impl TokenVerifier {
    /// Trusts `keys` (kid, Ed25519 public key) with no end.
    pub fn new(keys: Vec<(String, [u8; 32])>) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = 5;
        validation.validate_aud = false;
        let verifier = Self {
            keys: Default::default(),
            validation,
            verified: Default::default(),
        };
        verifier.set_keys(
            keys.into_iter()
                .map(|(kid, public)| TrustedKey {
                    kid,
                    public,
                    until: None,
                })
                .collect(),
        );
        verifier
    }

    /// Trusts exactly `keys` from now on, in every clone.
    pub fn set_keys(&self, keys: Vec<TrustedKey>) {
        let known = keys
            .into_iter()
            .map(|trusted| KnownKey {
                decoding: DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(trusted.public))
                    .expect("a 32-byte key always decodes"),
                trusted,
            })
            .collect();
        *self.keys.write().unwrap() = Arc::new(known);
        self.verified.lock().unwrap().clear();
    }

    /// The keys trusted now.
    pub fn trusted_keys(&self) -> Vec<TrustedKey> {
        let now = authd_events::now_millis();
        self.current()
            .iter()
            .filter(|k| k.trusted.until.is_none_or(|until| now < until))
            .map(|k| k.trusted.clone())
            .collect()
    }

    fn current(&self) -> Arc<Vec<KnownKey>> {
        self.keys.read().unwrap().clone()
    }

    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let hit = self.verified.lock().unwrap().get(&digest).cloned();
        let now = authd_events::now_millis();
        if let Some((claims, until)) = hit {
            return if now >= until {
                Err(TokenError::UnknownKey)
            } else if claims.exp + self.validation.leeway as i64 > now / 1000 {
                Ok(claims)
            } else {
                Err(TokenError::Expired)
            };
        }
        let (claims, until) = self.verify_signature(token, now)?;
        let mut memo = self.verified.lock().unwrap();
        if memo.len() >= VERIFIED_CAPACITY {
            memo.clear();
        }
        memo.insert(digest, (claims.clone(), until));
        Ok(claims)
    }

    /// The claims, and until when the key that signed them is trusted.
    fn verify_signature(&self, token: &str, now: i64) -> Result<(AccessClaims, i64), TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        // Only EdDSA is ever accepted: `none`, HS256 with the public key as
        // secret and the like fail here, whatever the header says.
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let keys = self.current();
        let key = keys
            .iter()
            .find(|k| k.trusted.kid == kid)
            .filter(|k| k.trusted.until.is_none_or(|until| now < until))
            .ok_or(TokenError::UnknownKey)?;
        jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation)
            .map(|d| (d.claims, key.trusted.until.unwrap_or(i64::MAX)))
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }

    /// The public keys trusted now, as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .trusted_keys()
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(k.public),
                    "kid": k.kid, "alg": "EdDSA", "use": "sig",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

/// A refresh token is `<session id>.<256 random bits, base64url>`: the
/// session id finds the aggregate, the secret proves possession. Only the
/// SHA-256 of the whole token is stored.
pub fn new_refresh_token(session_id: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    format!("{session_id}.{}", URL_SAFE_NO_PAD.encode(secret))
}

/// A Storefront `customerAccessToken`, as the gateway and services read it:
/// `<session id>.<secret>.<seq>`. Only `<session id>.<secret>` is hashed
/// and stored; `seq` (the stream sequence of the session's start) tells any
/// gateway how far its read model must be to know the session.
pub struct StorefrontToken<'a> {
    pub session_id: &'a str,
    /// What is hashed: `<session id>.<secret>`.
    pub hashed: &'a str,
    pub seq: u64,
}

/// The token handed out for a session whose secret part is `hashed`.
pub fn storefront_token(hashed: &str, seq: u64) -> String {
    format!("{hashed}.{seq}")
}

/// A well-formed Storefront token's parts (nothing is checked against the
/// log here).
pub fn parse_storefront_token(token: &str) -> Option<StorefrontToken<'_>> {
    if token.len() > 160 {
        return None;
    }
    let (hashed, seq) = token.rsplit_once('.')?;
    if seq.is_empty() || seq.len() > 19 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(StorefrontToken {
        session_id: refresh_token_session(hashed)?,
        hashed,
        seq: seq.parse().ok()?,
    })
}

/// Compares two secret digests in time that does not depend on where they
/// differ.
pub fn digests_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session id of a well-formed refresh token.
pub fn refresh_token_session(token: &str) -> Option<&str> {
    let (sid, secret) = token.split_once('.')?;
    (authd_events::subject::is_valid_token(sid) && secret.len() == 43).then_some(sid)
}

/// A random API key with its prefix, e.g. `pk_test_…`.
pub fn new_api_key(prefix: &str) -> String {
    let mut secret = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_byte_for_byte_what_jsonwebtoken_signs() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let keys = SigningKeys::from_signing_key(&key);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.kid().to_string());
        let der = key.to_pkcs8_der().unwrap();
        let theirs = jsonwebtoken::encode(
            &header,
            &claims(1_700_000_000),
            &jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
        )
        .unwrap();
        assert_eq!(keys.sign(&claims(1_700_000_000)), theirs);
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            aud: "p_1".into(),
            sub: "c_1".into(),
            sid: "s_1".into(),
            pid: "p_1".into(),
            iat: 0,
            exp,
            seq: 3,
            restricted: None,
        }
    }

    fn far() -> i64 {
        authd_events::now_millis() / 1000 + 600
    }

    #[test]
    fn signed_tokens_verify_and_carry_their_claims() {
        let keys = SigningKeys::generate();
        let token = keys.sign(&claims(far()));
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(keys.kid()));
        assert_eq!(keys.verifier().verify(&token).unwrap(), claims(far()));
    }

    #[test]
    fn tampered_expired_foreign_and_unsigned_tokens_are_refused() {
        let keys = SigningKeys::generate();
        let v = keys.verifier();
        let token = keys.sign(&claims(far()));
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.rsplit_once('.').unwrap();
        let other_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AccessClaims {
                sub: "c_2".into(),
                ..claims(far())
            })
            .unwrap(),
        );
        assert_eq!(
            v.verify(&format!("{head}.{other_claims}.{sig}")),
            Err(TokenError::Invalid)
        );
        assert_eq!(v.verify(&keys.sign(&claims(1))), Err(TokenError::Expired));
        let other = SigningKeys::generate();
        assert_eq!(
            v.verify(&other.sign(&claims(far()))),
            Err(TokenError::UnknownKey)
        );
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"x"}"#);
        assert!(v.verify(&format!("{none}.{other_claims}.")).is_err());
        assert_eq!(v.verify("garbage"), Err(TokenError::Malformed));
    }

    #[test]
    fn a_remembered_token_still_expires_and_a_tampered_one_is_not_remembered() {
        let keys = SigningKeys::generate();
        let v = keys.verifier();
        let now = authd_events::now_millis() / 1000;
        let soon = keys.sign(&claims(now + 1));
        assert!(v.verify(&soon).is_ok());
        assert!(v.verify(&soon).is_ok(), "from the memo");
        // Past exp + leeway, the memo answers Expired like the full check.
        v.verified
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|c| c.0.exp = now - 10);
        assert_eq!(v.verify(&soon), Err(TokenError::Expired));
        let mut bad = keys.sign(&claims(now + 600));
        bad.push('x');
        assert!(v.verify(&bad).is_err());
        assert!(v.verify(&bad).is_err());
    }

    #[test]
    fn refresh_tokens_carry_a_session_and_256_bits() {
        let t = new_refresh_token("s_01ABC");
        assert_eq!(refresh_token_session(&t), Some("s_01ABC"));
        assert_ne!(t, new_refresh_token("s_01ABC"));
        assert_eq!(refresh_token_session("s_1.short"), None);
        assert_eq!(refresh_token_session("a.b.c"), None);
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared").join("k.pem");
        let kids: Vec<String> = (0..8)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    SigningKeys::load_or_create(&path, true)
                        .unwrap()
                        .kid()
                        .to_string()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(kids.iter().all(|k| *k == kids[0]), "{kids:?}");
    }

    #[test]
    fn keys_persist_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let a = SigningKeys::load_or_create(&path, true).unwrap();
        let b = SigningKeys::load_or_create(&path, true).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert!(SigningKeys::load_or_create(&dir.path().join("missing.pem"), false).is_err());
    }
}
