//! Read model: projects, their API keys and webhook endpoints.

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
            customer_metafields TEXT NOT NULL DEFAULT '[]',
            -- Second factors: OFF, OPTIONAL or REQUIRED.
            mfa_required TEXT NOT NULL DEFAULT 'OPTIONAL',
            -- The passkeys' relying party id ('' without passkeys).
            webauthn_rp_id TEXT NOT NULL DEFAULT ''
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
         );
         CREATE TABLE IF NOT EXISTS webhook_endpoints (
            project_id        TEXT NOT NULL,
            id                TEXT NOT NULL,
            url               TEXT NOT NULL,
            event_types       TEXT NOT NULL,
            description       TEXT NOT NULL,
            enabled           INTEGER NOT NULL,
            secret_generation INTEGER NOT NULL,
            created_at        INTEGER NOT NULL,
            updated_at        INTEGER NOT NULL,
            PRIMARY KEY (project_id, id)
         );",
    )
}

fn put_endpoint(
    tx: &Transaction<'_>,
    project: &str,
    e: &authd_events::webhook::WebhookEndpoint,
    at: i64,
) -> rusqlite::Result<()> {
    let types = serde_json::to_string(&e.event_types).expect("a list serializes");
    tx.prepare_cached(
        "INSERT INTO webhook_endpoints (project_id, id, url, event_types, description, enabled,
                                        secret_generation, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT (project_id, id) DO UPDATE SET url = ?3, event_types = ?4,
           description = ?5, enabled = ?6, secret_generation = ?7, updated_at = ?8",
    )?
    .execute(params![
        project,
        e.endpoint_id,
        e.url,
        types,
        e.description,
        e.enabled,
        e.secret_generation,
        at
    ])?;
    Ok(())
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
            ProjectEvent::MfaConfigured(c) => {
                let required = match c.required {
                    authd_events::MfaRequirement::Off => "OFF",
                    authd_events::MfaRequirement::Optional => "OPTIONAL",
                    authd_events::MfaRequirement::Required => "REQUIRED",
                };
                tx.prepare_cached("UPDATE projects SET mfa_required = ?2 WHERE id = ?1")?
                    .execute(params![project, required])?;
            }
            ProjectEvent::WebauthnConfigured(c) => {
                tx.prepare_cached("UPDATE projects SET webauthn_rp_id = ?2 WHERE id = ?1")?
                    .execute(params![project, c.rp_id])?;
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
            ProjectEvent::WebhookEndpointCreated(e) | ProjectEvent::WebhookEndpointUpdated(e) => {
                put_endpoint(tx, project, e, at)?
            }
            ProjectEvent::WebhookEndpointDeleted(d) => {
                tx.prepare_cached(
                    "DELETE FROM webhook_endpoints WHERE project_id = ?1 AND id = ?2",
                )?
                .execute(params![project, d.endpoint_id])?;
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
