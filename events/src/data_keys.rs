//! Customers' data keys (crypto-shredding): one random AES-256 key per
//! customer, kept apart from the events in the `AUTH_KEYS` stream (one
//! subject per customer, `authd.key.<project>.<customer>`), each wrapped
//! under the key-encryption key of `--data-key-file`. A `Personal` value
//! sealed under a customer's key names the customer and its field as
//! associated data, so it cannot be moved to another customer or field.
//! Destroying a key deletes its message with erase: nats-server
//! overwrites its bytes in the block file (a purge, a per-subject limit
//! or an acknowledgement would leave them there until compaction).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, Payload},
};
use async_nats::jetstream::{
    self,
    context::PublishErrorKind,
    stream::{self, StorageType},
};
use rand::RngCore;

pub use crate::data_key::{DataKey, OpenError};
use crate::{
    envelope::EventMessage,
    personal::Personal,
    subject::{AggregateKind, is_valid_token},
};

pub const KEY_STREAM: &str = "AUTH_KEYS";
pub const KEY_SUBJECTS: &str = "authd.key.>";
/// The last token of an erasure's mark, `authd.key.<project>.<customer>.erasing`.
const ERASING: &str = ".erasing";

mod horizon;
mod marks;

/// Binds a wrapped key to what it is and whose.
const WRAP_AAD: &str = "authd data key v1";
/// The first byte of a key message: how it is wrapped.
const FORMAT: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the key store is unavailable: {0}")]
    Unavailable(String),
    #[error("not a valid project or customer id")]
    BadId,
    #[error("a data key does not unwrap with this key-encryption key")]
    WrongKek,
}

/// The subject of a customer's key.
pub fn key_subject(project: &str, customer: &str) -> Result<String, KeyError> {
    if !is_valid_token(project) || !is_valid_token(customer) {
        return Err(KeyError::BadId);
    }
    Ok(format!("authd.key.{project}.{customer}"))
}

/// Creates `AUTH_KEYS` when missing, and raises its replicas to
/// `replicas` when fewer (services, at start).
pub async fn ensure_stream(js: &jetstream::Context, replicas: usize) -> Result<(), KeyError> {
    js.get_or_create_stream(stream::Config {
        name: KEY_STREAM.to_string(),
        subjects: vec![KEY_SUBJECTS.to_string()],
        storage: StorageType::File,
        num_replicas: replicas.max(1),
        allow_direct: true,
        // A key is written once and erased, never replaced or aged out.
        ..Default::default()
    })
    .await
    .map_err(|e| KeyError::Unavailable(e.to_string()))?;
    // As many replicas as the events (a stream made on one node is
    // raised when the cluster grows).
    let have = js
        .get_stream(KEY_STREAM)
        .await
        .map_err(|e| KeyError::Unavailable(e.to_string()))?
        .cached_info()
        .config
        .clone();
    crate::streams::raise_replicas(js, have, replicas)
        .await
        .map_err(KeyError::Unavailable)?;
    Ok(())
}

/// Unwrapped keys kept in memory, by subject; `None`: the customer has no
/// key (never had one, or it was destroyed: a destroyed key never comes
/// back). At `cap` entries it starts over.
struct KeyCache {
    keys: HashMap<String, Option<[u8; 32]>>,
    cap: usize,
}

impl KeyCache {
    fn get(&self, subject: &str) -> Option<Option<[u8; 32]>> {
        self.keys.get(subject).copied()
    }

    fn insert(&mut self, subject: &str, key: Option<[u8; 32]>) {
        if self.keys.len() >= self.cap {
            self.keys.clear();
        }
        self.keys.insert(subject.to_string(), key);
    }
}

/// How many customers' keys a process keeps unwrapped (32 bytes and the
/// subject each; ~10 MB at this size).
pub const DEFAULT_CACHE: usize = 100_000;

/// The data keys, read from and written to `AUTH_KEYS`; clones share a
/// cache of unwrapped keys.
#[derive(Clone)]
pub struct DataKeys {
    js: jetstream::Context,
    kek: Aes256Gcm,
    /// HMAC-SHA256 of a label under the key-encryption key: the root
    /// webhook signing secrets are derived from (`webhook_secret`).
    webhook_root: [u8; 32],
    cache: Arc<Mutex<KeyCache>>,
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        mac.update(p);
        mac.update(&[0]);
    }
    mac.finalize().into_bytes().into()
}

impl DataKeys {
    /// `kek`: at least 32 bytes; the first 32 are the AES-256 key.
    pub fn new(js: jetstream::Context, kek: &[u8]) -> Self {
        Self::with_cache(js, kek, DEFAULT_CACHE)
    }

    /// `new`, keeping at most `cap` keys unwrapped.
    pub fn with_cache(js: jetstream::Context, kek: &[u8], cap: usize) -> Self {
        assert!(kek.len() >= 32, "a key-encryption key has 32 bytes");
        Self {
            js,
            kek: Aes256Gcm::new_from_slice(&kek[..32]).expect("32 bytes is an AES-256 key"),
            webhook_root: hmac_sha256(&kek[..32], &[b"authd webhook secrets v1"]),
            cache: Arc::new(Mutex::new(KeyCache {
                keys: HashMap::new(),
                cap: cap.max(1),
            })),
        }
    }

    /// The Standard Webhooks signing secret (`whsec_…`) of a project's
    /// endpoint at a generation: the same in every process that holds
    /// this key-encryption key, and in no event.
    pub fn webhook_secret(&self, project: &str, endpoint_id: &str, generation: u32) -> String {
        use base64::Engine;
        let key = hmac_sha256(
            &self.webhook_root,
            &[
                project.as_bytes(),
                endpoint_id.as_bytes(),
                &generation.to_be_bytes(),
            ],
        );
        format!(
            "{}{}",
            crate::webhook::SECRET_PREFIX,
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    }

    fn wrap_aad(subject: &str) -> String {
        format!("{WRAP_AAD}\0{subject}")
    }

    fn wrap(&self, subject: &str, key: &[u8; 32]) -> Vec<u8> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = Self::wrap_aad(subject);
        let wrapped = self
            .kek
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: key,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM wraps 32 bytes");
        [&[FORMAT][..], &nonce, &wrapped].concat()
    }

    /// The subject and message of a customer's key `key`, wrapped: for
    /// tools that write many keys at once (the benchmarks' synthetic
    /// customers). Services make keys with `create`.
    pub fn wrapped(
        &self,
        project: &str,
        customer: &str,
        key: &[u8; 32],
    ) -> Result<(String, Vec<u8>), KeyError> {
        let subject = key_subject(project, customer)?;
        let wrapped = self.wrap(&subject, key);
        Ok((subject, wrapped))
    }

    fn unwrap(&self, subject: &str, bytes: &[u8]) -> Result<[u8; 32], KeyError> {
        if bytes.len() != 1 + 12 + 32 + 16 || bytes[0] != FORMAT {
            return Err(KeyError::WrongKek);
        }
        let aad = Self::wrap_aad(subject);
        let key = self
            .kek
            .decrypt(
                bytes[1..13].into(),
                Payload {
                    msg: &bytes[13..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| KeyError::WrongKek)?;
        key.try_into().map_err(|_| KeyError::WrongKek)
    }

    fn remember(&self, subject: &str, key: Option<[u8; 32]>) {
        self.cache
            .lock()
            .expect("key cache lock")
            .insert(subject, key);
    }

    /// The customer's key, made now when they have none (the first one
    /// written wins a race).
    pub async fn create(&self, project: &str, customer: &str) -> Result<DataKey, KeyError> {
        if let Some(key) = self.get(project, customer).await? {
            return Ok(key);
        }
        self.make(project, customer).await
    }

    /// A new key for a customer who has none (a registration): written
    /// only if the subject is still empty, else the key already there.
    async fn make(&self, project: &str, customer: &str) -> Result<DataKey, KeyError> {
        let subject = key_subject(project, customer)?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let mut headers = async_nats::HeaderMap::new();
        // Only when the customer has no key yet.
        headers.insert("Nats-Expected-Last-Subject-Sequence", "0");
        let published = self
            .js
            .publish_with_headers(subject.clone(), headers, self.wrap(&subject, &key).into())
            .await;
        let acked = match published {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match acked {
            Ok(_) => {
                self.remember(&subject, Some(key));
                Ok(DataKey::from_bytes(project, customer, &key))
            }
            // Another writer made it first: theirs is the key.
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                let key = self
                    .read_key(&subject)
                    .await?
                    .ok_or_else(|| KeyError::Unavailable("a new key vanished".into()))?;
                self.remember(&subject, Some(key));
                Ok(DataKey::from_bytes(project, customer, &key))
            }
            Err(e) => Err(KeyError::Unavailable(e.to_string())),
        }
    }

    /// The customer's key if this process has it unwrapped already.
    fn cached(&self, project: &str, customer: &str) -> Result<Option<DataKey>, KeyError> {
        let subject = key_subject(project, customer)?;
        let cached = self.cache.lock().expect("key cache lock").get(&subject);
        Ok(cached
            .flatten()
            .map(|k| DataKey::from_bytes(project, customer, &k)))
    }

    /// The customer's key; `None` when they never had one or it was
    /// destroyed.
    pub async fn get(&self, project: &str, customer: &str) -> Result<Option<DataKey>, KeyError> {
        let subject = key_subject(project, customer)?;
        let cached = self.cache.lock().expect("key cache lock").get(&subject);
        let key = match cached {
            Some(key) => key,
            None => {
                let key = self.read_key(&subject).await?;
                self.remember(&subject, key);
                key
            }
        };
        Ok(key.map(|k| DataKey::from_bytes(project, customer, &k)))
    }

    /// Reads every key of `AUTH_KEYS` into the cache (as many as it holds)
    /// in one pass: what a replay does first, so that opening a million
    /// customers' events does not ask for their keys one by one. How many
    /// keys it read.
    pub async fn preload(&self) -> Result<usize, KeyError> {
        let cap = self.cache.lock().expect("key cache lock").cap;
        let mut read = 0;
        // Keys only: not the erasures' marks nor the horizon (five tokens).
        self.scan("authd.key.*.*", |m| {
            let subject = m.subject.to_string();
            let key = self.unwrap(&subject, &m.payload)?;
            self.remember(&subject, Some(key));
            read += 1;
            Ok(read < cap)
        })
        .await?;
        Ok(read)
    }

    /// Hands every message of `AUTH_KEYS` on the subjects `filter` matches
    /// (as many as there are when it starts) to `each`, in order, through
    /// one ordered consumer, until `each` answers false.
    async fn scan(
        &self,
        filter: &str,
        mut each: impl FnMut(&jetstream::Message) -> Result<bool, KeyError>,
    ) -> Result<(), KeyError> {
        use futures::StreamExt;
        let stream = self
            .js
            .get_stream_no_info(KEY_STREAM)
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let mut messages = std::pin::pin!(
            crate::streams::held(&stream, filter)
                .await
                .map_err(KeyError::Unavailable)?
        );
        while let Some(m) = messages.next().await {
            if !each(&m.map_err(KeyError::Unavailable)?)? {
                break;
            }
        }
        Ok(())
    }

    /// The customer's key as `AUTH_KEYS` has it now, whatever this process
    /// cached or forgot (an erasure's own steps, after `customer.erased`).
    pub async fn fetch(&self, project: &str, customer: &str) -> Result<Option<DataKey>, KeyError> {
        let subject = key_subject(project, customer)?;
        let key = self.read_key(&subject).await?;
        Ok(key.map(|k| DataKey::from_bytes(project, customer, &k)))
    }

    /// The key on `subject`, unwrapped, as `AUTH_KEYS` has it now.
    async fn read_key(&self, subject: &str) -> Result<Option<[u8; 32]>, KeyError> {
        match self.last(subject).await? {
            Some((_, bytes)) => Ok(Some(self.unwrap(subject, &bytes)?)),
            None => Ok(None),
        }
    }

    /// `message` as it is written to the log: a copy with its personal
    /// values sealed under its owner's key (made now for a new customer),
    /// or `None` when nothing in it is sealed (no owner, or nothing
    /// personal).
    pub async fn seal(
        &self,
        kind: AggregateKind,
        message: &EventMessage,
    ) -> Result<Option<EventMessage>, KeyError> {
        let Some(owner) = message.personal_owner(kind) else {
            return Ok(None);
        };
        if message.completes_erasure() {
            // Written once the key is gone: no key is made again for an
            // erased customer, and nothing personal goes in plain.
            let mut bare = message.clone();
            bare.meta.request.ip = None;
            bare.meta.request.user_agent = None;
            return Ok(Some(bare));
        }
        let mut sealed = message.clone();
        if !sealed
            .personal_values_mut()
            .iter()
            .any(|(_, v)| matches!(v, Personal::Plain(_)))
        {
            return Ok(None);
        }
        let project = &message.meta.tenant;
        let key = match self.cached(project, owner)? {
            Some(key) => key,
            // A new customer has no key: make it without asking first.
            None if message.registers() && kind == AggregateKind::Customer => {
                self.make(project, owner).await?
            }
            None => self.create(project, owner).await?,
        };
        key.seal_message(&mut sealed);
        Ok(Some(sealed))
    }

    /// Opens the sealed values of `message` read from the log. A value
    /// whose key is gone (the customer was erased) stays sealed and reads
    /// as erased; only an unreachable key stream is an error.
    pub async fn open(&self, message: &mut EventMessage) -> Result<(), KeyError> {
        let Some(customer) = message.sealed_with() else {
            return Ok(());
        };
        let project = message.meta.tenant.clone();
        if let Some(key) = self.get(&project, &customer).await?
            && !key.open_message(message)
        {
            tracing::warn!(
                project,
                customer,
                "a sealed value does not open with its customer's key"
            );
        }
        Ok(())
    }

    /// The sequence and payload of the subject's message, if any.
    async fn last(&self, subject: &str) -> Result<Option<(u64, Vec<u8>)>, KeyError> {
        let stream = self
            .js
            .get_stream_no_info(KEY_STREAM)
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        match stream.direct_get_last_for_subject(subject).await {
            Ok(m) => Ok(Some((m.sequence, m.payload.to_vec()))),
            Err(e) if e.kind() == async_nats::jetstream::stream::DirectGetErrorKind::NotFound => {
                // Any replica answers a direct get, and one that lags may
                // not hold a key written a moment ago: taken for "erased",
                // that customer's values would be projected as erased for
                // good (a second gateway did so in tests/cluster_faults.rs
                // after a crash). Only the stream leader's "none" counts.
                use async_nats::jetstream::stream::LastRawMessageErrorKind;
                match stream.get_last_raw_message_by_subject(subject).await {
                    Ok(m) => Ok(Some((m.sequence, m.payload.to_vec()))),
                    Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
                    Err(e) => Err(KeyError::Unavailable(e.to_string())),
                }
            }
            Err(e) => Err(KeyError::Unavailable(e.to_string())),
        }
    }

    /// Destroys the customer's key: its message is deleted with erase.
    /// Whether there was one.
    pub async fn destroy(&self, project: &str, customer: &str) -> Result<bool, KeyError> {
        let subject = key_subject(project, customer)?;
        self.remember(&subject, None);
        let Some((seq, _)) = self.last(&subject).await? else {
            return Ok(false);
        };
        let stream = self
            .js
            .get_stream_no_info(KEY_STREAM)
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        // `delete_message` asks for the secure erase (no `no_erase`).
        stream
            .delete_message(seq)
            .await
            .map_err(|e| KeyError::Unavailable(e.to_string()))?;
        Ok(true)
    }

    /// Forgets a customer's key in this process (another one destroyed
    /// it): their sealed values read as erased from now on.
    pub fn forget(&self, project: &str, customer: &str) {
        if let Ok(subject) = key_subject(project, customer) {
            self.remember(&subject, None);
        }
    }
}
