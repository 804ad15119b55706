//! The keys every role reads from files (signing, index, secrets,
//! operator), made when missing.

use std::path::Path;

use anyhow::Context as _;
use authd_services::tokens::SigningKeys;

use super::config::Config;

/// The operator key in `path`, made (mode 0600) when the file is missing.
pub(super) fn load_operator_key(path: &Path) -> anyhow::Result<String> {
    if !path.exists() {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let key = format!("op_{}", hex::encode(key));
        authd_services::tokens::write_private(path, key.as_bytes())?;
    }
    let key = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .trim()
        .to_string();
    anyhow::ensure!(
        key.len() >= 32,
        "{} must hold a key of at least 32 characters",
        path.display()
    );
    Ok(key)
}

/// A key file of at least 32 bytes in hex: `path`, made (mode 0600) when
/// missing.
pub(super) fn load_index_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if !path.exists() {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        authd_services::tokens::write_private(path, hex::encode(key).as_bytes())?;
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let key = hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
    anyhow::ensure!(
        key.len() >= 32,
        "{} must hold at least 32 bytes",
        path.display()
    );
    Ok(key)
}

/// The keys every role reads from files, loaded (or created) once per process.
#[derive(Clone)]
pub struct Keys {
    /// The private signing key (the ring's root); `None` for a gateway,
    /// which verifies with public keys only.
    pub signing: Option<SigningKeys>,
    /// What access tokens are checked with: the keys of the ring in the
    /// log (see `start_gateway`) and `file_keys`.
    pub verifier: authd_services::tokens::TokenVerifier,
    /// The public keys of `--signing-public-keys-file`, and the signing
    /// key's own when this process holds it: trusted with no end unless the
    /// ring says otherwise.
    pub file_keys: Vec<(String, [u8; 32])>,
    pub index: Vec<u8>,
    /// Seals provider secrets: services only (empty for a gateway).
    pub secrets: Vec<u8>,
    /// Wraps customers' data keys (every role).
    pub data: Vec<u8>,
    /// Alone creates projects through the admin API.
    pub operator: Option<String>,
}

impl Keys {
    pub fn load(config: &Config) -> anyhow::Result<Self> {
        Self::load_for(config, true)
    }

    /// The keys; the private signing key only when `private` (services
    /// sign). A gateway trusts the ring in the log and the public keys file.
    pub fn load_for(config: &Config, private: bool) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
        let public = config
            .signing_public_keys_file
            .as_deref()
            .map(authd_services::tokens::load_public_keys)
            .transpose()?;
        let signing = private
            .then(|| SigningKeys::load_or_create(&config.signing_key_path(), true))
            .transpose()?;
        let mut verifying = public.unwrap_or_default();
        if let Some(s) = &signing
            && !verifying.iter().any(|(kid, _)| kid == s.kid())
        {
            verifying.push((s.kid().to_string(), s.public_key()));
        }
        Ok(Self {
            signing,
            verifier: authd_services::tokens::TokenVerifier::new(verifying.clone()),
            file_keys: verifying,
            index: load_index_key(&config.index_key_path())?,
            secrets: if private {
                load_index_key(&config.secrets_key_path())?
            } else {
                Vec::new()
            },
            data: load_index_key(&config.data_key_path())?,
            operator: config
                .operator_key_path()
                .map(|path| load_operator_key(&path))
                .transpose()?,
        })
    }
}
