//! Provider secrets (client secrets) sealed with AES-256-GCM under the
//! services' secrets key (`--secrets-key-file`): the log and the read
//! models hold only the sealed bytes, and only services can open them.

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, Payload},
};
use authd_events::Sealed;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Binds a sealed value to what it is, so it cannot be passed off as
/// another kind of secret.
const AAD: &[u8] = b"authd provider secret v1";

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sealed secret does not open with this secrets key")]
pub struct OpenError;

impl SecretBox {
    /// `key`: at least 32 bytes; the first 32 are the AES-256 key.
    pub fn new(key: &[u8]) -> Self {
        assert!(key.len() >= 32, "a secrets key has 32 bytes");
        Self {
            cipher: Aes256Gcm::new_from_slice(&key[..32]).expect("32 bytes is an AES-256 key"),
        }
    }

    pub fn seal(&self, plaintext: &str) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: AAD,
                },
            )
            .expect("AES-GCM seals any message this short");
        Sealed([nonce.as_slice(), &sealed].concat())
    }

    pub fn open(&self, sealed: &Sealed) -> Result<String, OpenError> {
        if sealed.0.len() < 12 + 16 {
            return Err(OpenError);
        }
        let (nonce, body) = sealed.0.split_at(12);
        let plain = self
            .cipher
            .decrypt(
                nonce.into(),
                Payload {
                    msg: body,
                    aad: AAD,
                },
            )
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

/// The box that seals provider secrets and the key that derives login
/// secrets from a state, both from the secrets key: the configured one, or
/// (tests, tools) a random one for this process.
pub(crate) fn provider_keys(configured: &[u8]) -> (SecretBox, Vec<u8>) {
    let mut key = configured.to_vec();
    if key.len() < 32 {
        key = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
    }
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    m.update(b"provider login state key");
    let state_key = m.finalize().into_bytes().to_vec();
    (SecretBox::new(&key), state_key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_only_and_hides_the_plaintext() {
        let b = SecretBox::new(&[7; 32]);
        let sealed = b.seal("client-secret-123");
        assert!(!sealed.0.windows(6).any(|w| w == b"client"));
        assert_eq!(b.open(&sealed).unwrap(), "client-secret-123");
        // Two seals of one secret differ (a fresh nonce each).
        assert_ne!(b.seal("client-secret-123"), sealed);
        assert_eq!(SecretBox::new(&[8; 32]).open(&sealed), Err(OpenError));
        let mut tampered = sealed.clone();
        *tampered.0.last_mut().unwrap() ^= 1;
        assert_eq!(b.open(&tampered), Err(OpenError));
        assert_eq!(b.open(&Sealed(vec![1, 2, 3])), Err(OpenError));
    }
}
