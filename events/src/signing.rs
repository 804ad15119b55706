//! The events of the ring of access-token signing keys.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningKeyEvent {
    Added(SigningKeyAdded),     // 0
    Retired(SigningKeyRetired), // 1
}

/// A key joins the ring. Only its public half is recorded: services derive
/// the private half from the signing key file they share (the root), so no
/// secret, not even an encrypted one, is in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyAdded {
    /// The JWT header's `kid`.
    pub kid: String,
    /// Ed25519 public key.
    pub public_key: [u8; 32],
    /// 0 is the root key itself; n > 0 is derived from it.
    pub generation: u32,
    /// The `kid` of the root the key comes from.
    pub root_kid: String,
    /// Unix ms from which services sign with it (gateways and JWKS know
    /// it before, so a token never arrives signed by a key they lack).
    pub active_from: i64,
}

/// A key stops signing (a newer one took over) and is trusted for tokens
/// until `verify_until` (unix ms), when the last token it signed expires;
/// `verify_until` now revokes it at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRetired {
    pub kid: String,
    pub verify_until: i64,
}
