//! Personal data (email, names, phone) lives in [`Personal`] fields so that it
//! can later be sealed with a per-customer key and shredded on erasure,
//! without changing the event shapes.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Personal {
    Plain(String), // 0
    Sealed {
        key_id: String,
        nonce: Vec<u8>,
        ciphertext: Vec<u8>,
    }, // 1
}

impl Personal {
    pub fn plain(value: impl Into<String>) -> Self {
        Self::Plain(value.into())
    }

    /// The readable value, or `None` once the data has been sealed (and
    /// possibly shredded).
    pub fn as_plain(&self) -> Option<&str> {
        match self {
            Self::Plain(v) => Some(v),
            Self::Sealed { .. } => None,
        }
    }
}

impl std::fmt::Debug for Personal {
    // Personal data stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plain(_) => f.write_str("Personal(<redacted>)"),
            Self::Sealed { key_id, .. } => write!(f, "Personal(sealed with {key_id})"),
        }
    }
}
