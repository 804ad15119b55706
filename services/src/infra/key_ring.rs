//! The signing-key ring as processes hold it: services sign with the ring's
//! active key, derived from the root key file they share; gateways trust
//! the ring's public keys. Both follow the ring's subject in the log, so a
//! rotation (`authd admin rotate-signing-key`) needs no file copied and no
//! restart.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use authd_events::{EventStore, SigningKeyAdded, StoreError, subject::signing_keys_subject};
use ed25519_dalek::SigningKey;

use super::{
    cache::fold,
    follow::{Shutdown, follow_subjects},
    tokens::{AccessClaims, SigningKeys, TrustedKey},
};
use crate::domain::signing_keys::KeyRing;

/// Generation `generation` of the keys derived from `root`: the root itself
/// for 0, else an Ed25519 key from HKDF-SHA256 of the root's secret. The
/// same root gives every services instance the same keys, so only public
/// halves travel through the log.
pub fn derive(root: &SigningKey, generation: u32) -> SigningKeys {
    if generation == 0 {
        return SigningKeys::from_signing_key(root);
    }
    let hk =
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"authd access-token signing key"), root.as_bytes());
    let mut seed = [0u8; 32];
    hk.expand(&generation.to_be_bytes(), &mut seed)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    SigningKeys::from_signing_key(&SigningKey::from_bytes(&seed))
}

/// What services sign with: the ring's active key, when it comes from
/// their root.
pub struct Signer {
    root: SigningKey,
    root_kid: String,
    state: RwLock<Arc<SignerState>>,
}

#[derive(Default)]
struct SignerState {
    ring: KeyRing,
    /// The ring's keys that come from this root, by kid.
    held: HashMap<String, SigningKeys>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the signing-key ring has no active key yet")]
    NoActiveKey,
    #[error(
        "the ring's active signing key {0} does not come from this instance's signing key file"
    )]
    NotHeld(String),
}

impl Signer {
    pub fn new(root: &SigningKeys) -> Self {
        Self {
            root: root.signing_key().clone(),
            root_kid: root.kid().to_string(),
            state: Default::default(),
        }
    }

    pub fn root_kid(&self) -> &str {
        &self.root_kid
    }

    /// The root key as the first key of an empty ring.
    pub fn first_key(&self, now: i64) -> SigningKeyAdded {
        self.added(0, now)
    }

    /// The next key of this root, to sign from `active_from` on.
    pub fn next_key(&self, ring: &KeyRing, active_from: i64) -> SigningKeyAdded {
        self.added(ring.next_generation(&self.root_kid), active_from)
    }

    fn added(&self, generation: u32, active_from: i64) -> SigningKeyAdded {
        let key = derive(&self.root, generation);
        SigningKeyAdded {
            kid: key.kid().to_string(),
            public_key: key.public_key(),
            generation,
            root_kid: self.root_kid.clone(),
            active_from,
        }
    }

    /// Takes the ring as it now is.
    pub fn update(&self, ring: &KeyRing) {
        let old = self.state.read().unwrap().clone();
        let mut held = HashMap::new();
        for k in ring
            .keys
            .iter()
            .filter(|k| k.added.root_kid == self.root_kid)
        {
            let key = match old.held.get(&k.added.kid) {
                Some(key) => key.clone(),
                None => derive(&self.root, k.added.generation),
            };
            if key.public_key() == k.added.public_key {
                held.insert(k.added.kid.clone(), key);
            } else {
                tracing::error!(kid = %k.added.kid, "a key of this root in the ring does not derive from it");
            }
        }
        *self.state.write().unwrap() = Arc::new(SignerState {
            ring: ring.clone(),
            held,
        });
    }

    /// The ring as this instance last took it.
    pub fn ring(&self) -> KeyRing {
        self.state.read().unwrap().ring.clone()
    }

    /// The key to sign with at `now` (unix ms): the ring's active key; when
    /// this instance does not hold it (the ring moved to a new root file
    /// and this instance still has the old one), the newest trusted key it
    /// holds, so a rollout of the new file does not stop sign-ins.
    fn signing_key(&self, now: i64) -> Result<SigningKeys, SignError> {
        let state = self.state.read().unwrap().clone();
        let active = state.ring.active(now).ok_or(SignError::NoActiveKey)?;
        if let Some(key) = state.held.get(&active.added.kid) {
            return Ok(key.clone());
        }
        state
            .ring
            .trusted(now)
            .filter(|k| state.held.contains_key(&k.added.kid))
            .max_by_key(|k| k.added.active_from)
            .and_then(|k| state.held.get(&k.added.kid).cloned())
            .ok_or_else(|| SignError::NotHeld(active.added.kid.clone()))
    }

    /// Whether this instance can sign at `now`.
    pub fn check(&self, now: i64) -> Result<(), SignError> {
        self.signing_key(now).map(|_| ())
    }

    pub fn sign(&self, claims: &AccessClaims, now: i64) -> Result<String, SignError> {
        Ok(self.signing_key(now)?.sign(claims))
    }
}

/// The ring's public keys as a verifier trusts them, each until its end,
/// and `also` (keys of a file) with no end unless the ring lists them.
pub fn trusted_keys(ring: &KeyRing, also: &[(String, [u8; 32])]) -> Vec<TrustedKey> {
    let mut keys: Vec<TrustedKey> = ring
        .keys
        .iter()
        .map(|k| TrustedKey {
            kid: k.added.kid.clone(),
            public: k.added.public_key,
            until: k.verify_until,
        })
        .collect();
    for (kid, public) in also {
        if !keys.iter().any(|k| k.kid == *kid) {
            keys.push(TrustedKey {
                kid: kid.clone(),
                public: *public,
                until: None,
            });
        }
    }
    keys
}

/// The ring as the log has it, and the sequence of its last message.
pub async fn load(store: &EventStore) -> Result<(KeyRing, u64), StoreError> {
    let mut ring = KeyRing::default();
    let mut seq = 0;
    for m in store.read_aggregate(&signing_keys_subject()).await? {
        ring = fold(ring, m.seq, &m.message);
        seq = m.seq;
    }
    Ok((ring, seq))
}

/// Follows the ring from after `seq` until `shutdown`, calling `changed`
/// with the whole ring after each of its messages; resumes after any
/// interruption (a broker restart, say).
pub async fn follow(
    store: EventStore,
    mut ring: KeyRing,
    seq: u64,
    mut changed: impl FnMut(&KeyRing) + Send,
    shutdown: Shutdown,
) {
    let filter = signing_keys_subject().to_string();
    let apply = |m: &authd_events::RecordedMessage| {
        ring = fold(std::mem::take(&mut ring), m.seq, &m.message);
        changed(&ring);
    };
    follow_subjects(
        &store,
        &filter,
        seq,
        "signing-key ring follower",
        apply,
        &shutdown,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{aggregate::Aggregate, signing_keys::KeyRingCommand};

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "authd".into(),
            aud: "p_1".into(),
            sub: "c_1".into(),
            sid: "s_1".into(),
            pid: "p_1".into(),
            iat: 0,
            exp: i64::MAX / 2,
            seq: 1,
            restricted: None,
        }
    }

    fn ring_after(ring: &KeyRing, command: KeyRingCommand, now: i64) -> KeyRing {
        let events = ring.decide(&command, now).unwrap();
        ring.clone().evolve_all(&events, Default::default())
    }

    #[test]
    fn derived_keys_are_the_same_for_the_same_root_and_differ_by_generation_and_root() {
        let root = SigningKeys::generate();
        let again = SigningKeys::from_signing_key(root.signing_key());
        assert_eq!(derive(root.signing_key(), 0).kid(), root.kid());
        let (a, b) = (
            derive(root.signing_key(), 1),
            derive(again.signing_key(), 1),
        );
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), root.public_key());
        assert_ne!(a.public_key(), derive(root.signing_key(), 2).public_key());
        let other = SigningKeys::generate();
        assert_ne!(a.public_key(), derive(other.signing_key(), 1).public_key());
    }

    #[test]
    fn a_signer_signs_with_the_active_key_and_another_instance_follows_the_rotation() {
        // The verifier below trusts by the wall clock.
        let t = authd_events::now_millis();
        let root = SigningKeys::generate();
        let (one, two) = (Signer::new(&root), Signer::new(&root));
        assert_eq!(one.sign(&claims(), t), Err(SignError::NoActiveKey));
        let ring = ring_after(
            &KeyRing::default(),
            KeyRingCommand::Start(one.first_key(t)),
            t,
        );
        one.update(&ring);
        let token = one.sign(&claims(), t + 10).unwrap();
        assert_eq!(root.verifier().verify(&token).unwrap(), claims());
        // Instance one rotates, with the new key active a second later; instance
        // two learns it from the ring alone and signs alike.
        let rotate = KeyRingCommand::Rotate {
            next: one.next_key(&ring, t + 1_000),
            token_ttl_ms: 900_000,
            revoke_previous: false,
        };
        let ring = ring_after(&ring, rotate, t + 10);
        two.update(&ring);
        assert_eq!(two.sign(&claims(), t + 999).unwrap(), token);
        let rotated = two.sign(&claims(), t + 1_000).unwrap();
        assert_ne!(rotated, token);
        let verifier = crate::tokens::TokenVerifier::new(vec![]);
        verifier.set_keys(trusted_keys(&ring, &[]));
        assert_eq!(verifier.verify(&rotated).unwrap(), claims());
        assert_eq!(verifier.verify(&token).unwrap(), claims());
        // A key's end holds for a token already checked once (the memo).
        let ends_soon = crate::tokens::TrustedKey {
            kid: root.kid().into(),
            public: root.public_key(),
            until: Some(authd_events::now_millis() + 300),
        };
        verifier.set_keys(vec![ends_soon]);
        assert_eq!(verifier.verify(&token).unwrap(), claims());
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(
            verifier.verify(&token),
            Err(crate::tokens::TokenError::UnknownKey)
        );
        assert_eq!(verifier.jwks()["keys"].as_array().unwrap().len(), 0);
        // An instance with another root file cannot sign with this ring.
        let stranger = Signer::new(&SigningKeys::generate());
        stranger.update(&ring);
        assert!(matches!(
            stranger.sign(&claims(), t + 1_000),
            Err(SignError::NotHeld(_))
        ));
    }
}
