//! Read model: projects and their API keys.

use authd_events::{
    ApiKeyKind, Event, ProjectConfig, ProjectEvent, RecordedMessage, StorefrontConfig,
};
use rusqlite::{Connection, Transaction, params};

pub(crate) fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS projects (
            id         TEXT PRIMARY KEY,
            name       TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            config     TEXT NOT NULL,
            -- From config, for the customer query's derived status.
            email_verification_required INTEGER NOT NULL DEFAULT 0,
            -- StorefrontConfig as JSON.
            storefront TEXT NOT NULL DEFAULT '{}',
            -- ProvidersConfig as JSON, every sealed secret left out.
            providers  TEXT NOT NULL DEFAULT '{}',
            -- The declared customer metafields, JSON.
            customer_metafields TEXT NOT NULL DEFAULT '[]'
         );
         -- Browser origins each project allows (CORS for the Storefront API).
         CREATE TABLE IF NOT EXISTS storefront_origins (
            origin     TEXT NOT NULL,
            project_id TEXT NOT NULL,
            PRIMARY KEY (origin, project_id)
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS api_keys (
            key_hash   BLOB PRIMARY KEY,
            key_id     TEXT NOT NULL,
            project_id TEXT NOT NULL,
            kind       TEXT NOT NULL,
            live       INTEGER NOT NULL,
            prefix     TEXT NOT NULL,
            revoked    INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL
         );",
    )
}

pub(crate) fn apply(tx: &Transaction<'_>, m: &RecordedMessage) -> rusqlite::Result<()> {
    let (project, at) = (&m.message.meta.tenant, m.message.meta.time);
    for event in m.message.bodies() {
        let Event::Project(e) = event else { continue };
        match e {
            ProjectEvent::Created(c) => {
                let config =
                    serde_json::to_string(&ProjectConfig::default()).expect("config serializes");
                let storefront =
                    serde_json::to_string(&StorefrontConfig::default()).expect("config serializes");
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO projects (id, name, created_at, config, storefront)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![project, c.name, at, config, storefront])?;
            }
            ProjectEvent::ApiKeyIssued(k) => {
                let kind = match k.kind {
                    ApiKeyKind::Public => "public",
                    ApiKeyKind::Secret => "secret",
                };
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO api_keys
                       (key_hash, key_id, project_id, kind, live, prefix, revoked, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)",
                )?
                .execute(params![
                    &k.key_hash[..],
                    k.key_id,
                    project,
                    kind,
                    k.live,
                    k.prefix,
                    at
                ])?;
            }
            ProjectEvent::ConfigChanged(c) => {
                let config = serde_json::to_string(&c.config).expect("config serializes");
                tx.prepare_cached(
                    "UPDATE projects SET config = ?2, email_verification_required = ?3
                     WHERE id = ?1",
                )?
                .execute(params![
                    project,
                    config,
                    c.config.email_verification_required
                ])?;
            }
            ProjectEvent::StorefrontConfigured(c) => {
                let storefront = serde_json::to_string(c).expect("config serializes");
                tx.prepare_cached("UPDATE projects SET storefront = ?2 WHERE id = ?1")?
                    .execute(params![project, storefront])?;
                tx.prepare_cached("DELETE FROM storefront_origins WHERE project_id = ?1")?
                    .execute([project])?;
                for origin in &c.allowed_origins {
                    tx.prepare_cached(
                        "INSERT OR IGNORE INTO storefront_origins (origin, project_id) VALUES (?1, ?2)",
                    )?
                    .execute(params![origin, project])?;
                }
            }
            ProjectEvent::ProvidersConfigured(c) => {
                let c = without_secrets(c);
                let providers = serde_json::to_string(&c).expect("config serializes");
                tx.prepare_cached("UPDATE projects SET providers = ?2 WHERE id = ?1")?
                    .execute(params![project, providers])?;
            }
            ProjectEvent::CustomerMetafieldsDeclared(d) => {
                let json = serde_json::to_string(&d.definitions).expect("config serializes");
                tx.prepare_cached("UPDATE projects SET customer_metafields = ?2 WHERE id = ?1")?
                    .execute(params![project, json])?;
            }
            ProjectEvent::ApiKeyRevoked(r) => {
                tx.prepare_cached(
                    "UPDATE api_keys SET revoked = 1 WHERE project_id = ?1 AND key_id = ?2",
                )?
                .execute(params![project, r.key_id])?;
            }
        }
    }
    Ok(())
}

/// The providers as the read model keeps them: every sealed secret left
/// out (a Multipass secret's presence stays visible).
fn without_secrets(c: &authd_events::ProvidersConfig) -> authd_events::ProvidersConfig {
    let mut c = c.clone();
    for p in &mut c.providers {
        match &mut p.kind {
            authd_events::ProviderKind::Oidc(o) => o.client_secret = Default::default(),
            authd_events::ProviderKind::OAuth2(o) => o.client_secret = Default::default(),
            authd_events::ProviderKind::Shopify(s) => {
                s.storefront_token = Default::default();
                s.multipass_secret = s.multipass_secret.as_ref().map(|_| Default::default());
            }
        }
    }
    c
}
