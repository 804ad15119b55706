//! One customer's data key, unwrapped (`data_keys` keeps them): it seals
//! a message's personal values at write and opens them at read, each bound
//! to its project, customer and field as associated data, so a sealed
//! value cannot be moved to another customer or field.

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, Payload},
};
use rand::RngCore;

use crate::{envelope::EventMessage, personal::Personal};

/// Binds a sealed value to its customer and field.
const SEAL_AAD: &str = "authd personal v1";

/// One customer's key, unwrapped.
#[derive(Clone)]
pub struct DataKey {
    project: String,
    customer: String,
    cipher: Aes256Gcm,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sealed value does not open with this customer's key")]
pub struct OpenError;

impl DataKey {
    /// A key from its 32 bytes (tools, tests; services make keys with
    /// `DataKeys::create`).
    pub fn from_bytes(project: &str, customer: &str, key: &[u8; 32]) -> Self {
        Self {
            project: project.to_string(),
            customer: customer.to_string(),
            cipher: Aes256Gcm::new_from_slice(key).expect("32 bytes is an AES-256 key"),
        }
    }

    /// Seals every plain personal value of `message` (its events' and the
    /// request's), each bound to its field.
    pub fn seal_message(&self, message: &mut EventMessage) {
        for (field, value) in message.personal_values_mut() {
            if let Personal::Plain(plain) = value {
                let sealed = self.seal(&field, plain);
                *value = sealed;
            }
        }
    }

    /// Opens every value of `message` sealed under this key; a value that
    /// does not open (another customer's, or tampered with) stays sealed.
    /// Whether every sealed value opened.
    pub fn open_message(&self, message: &mut EventMessage) -> bool {
        let mut all = true;
        for (field, value) in message.personal_values_mut() {
            if matches!(value, Personal::Sealed { .. }) {
                match self.open(&field, value) {
                    Ok(plain) => *value = Personal::Plain(plain),
                    Err(_) => all = false,
                }
            }
        }
        all
    }

    /// Seals every plain personal value of `event`, each bound to its field.
    pub fn seal_event(&self, event: &mut crate::event::Event) {
        for (field, value) in event.personal_values_mut() {
            if let Personal::Plain(plain) = value {
                let sealed = self.seal(&field, plain);
                *value = sealed;
            }
        }
    }

    /// Opens every personal value of `event` sealed under this key.
    pub fn open_event(&self, event: &mut crate::event::Event) -> Result<(), OpenError> {
        for (field, value) in event.personal_values_mut() {
            if matches!(value, Personal::Sealed { .. }) {
                let plain = self.open(&field, value)?;
                *value = Personal::Plain(plain);
            }
        }
        Ok(())
    }

    fn aad(&self, field: &str) -> String {
        format!("{SEAL_AAD}\0{}\0{}\0{field}", self.project, self.customer)
    }

    /// `plaintext` sealed under this key for `field`.
    pub fn seal(&self, field: &str, plaintext: &str) -> Personal {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = self.aad(field);
        let ciphertext = self
            .cipher
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM seals any value under 64 GiB");
        Personal::Sealed {
            key_id: self.customer.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// The plaintext of `value` (a plain one as it is).
    pub fn open(&self, field: &str, value: &Personal) -> Result<String, OpenError> {
        match value {
            Personal::Plain(v) => Ok(v.clone()),
            Personal::Sealed {
                key_id,
                nonce,
                ciphertext,
            } => {
                if *key_id != self.customer || nonce.len() != 12 {
                    return Err(OpenError);
                }
                let aad = self.aad(field);
                let plain = self
                    .cipher
                    .decrypt(
                        nonce.as_slice().into(),
                        Payload {
                            msg: ciphertext,
                            aad: aad.as_bytes(),
                        },
                    )
                    .map_err(|_| OpenError)?;
                String::from_utf8(plain).map_err(|_| OpenError)
            }
        }
    }
}
