//! `authd admin` for a project's external sign-in providers: list, save
//! (add or change), remove, and the return URLs. A client secret is read
//! from a file or an environment variable, never from the command line
//! (where `ps` would show it).

use std::path::PathBuf;

use anyhow::Context as _;
use authd_events::{AggregateKind, EventStore};
use authd_services::{
    CommandBus,
    commands::{EditProviders, ProviderInput, ProviderSettings},
    project::Project,
};
use clap::Subcommand;
use serde_json::{Value, json};

/// What every provider has.
#[derive(clap::Args)]
pub struct Common {
    project: String,
    /// The provider to change; a new one without it.
    #[arg(long)]
    id: Option<String>,
    #[arg(long)]
    key: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    disabled: bool,
    #[arg(long)]
    default: bool,
    #[arg(long, default_value_t = 0)]
    priority: i32,
}

impl Common {
    fn input(self, settings: ProviderSettings) -> (String, ProviderInput) {
        let input = ProviderInput {
            id: self.id,
            key: self.key,
            name: self.name,
            enabled: !self.disabled,
            is_default: self.default,
            priority: self.priority,
            settings,
        };
        (self.project, input)
    }
}

#[derive(Subcommand)]
pub enum ProviderCmd {
    /// The project's providers (no secrets) and return URLs, as JSON.
    List {
        project: String,
    },
    /// Add an OpenID Connect provider, or change one (`--id`).
    Save {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// File holding the client secret (trailing newline ignored).
        #[arg(long, conflicts_with = "client_secret_env")]
        client_secret_file: Option<PathBuf>,
        /// Environment variable holding the client secret.
        #[arg(long)]
        client_secret_env: Option<String>,
        /// Scopes beyond `openid` (repeat it); `email` when none is given.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Add a Shopify store, or change one (`--id`).
    SaveShopify {
        #[command(flatten)]
        common: Common,
        /// `shop.myshopify.com`.
        #[arg(long)]
        shop_domain: String,
        /// Environment variable holding the Storefront API access token.
        #[arg(long)]
        storefront_token_env: Option<String>,
        /// Environment variable holding the Multipass secret (Plus stores).
        #[arg(long)]
        multipass_secret_env: Option<String>,
        /// Remove the stored Multipass secret (sign-in by code).
        #[arg(long, conflicts_with = "multipass_secret_env")]
        no_multipass: bool,
    },
    Remove {
        project: String,
        id: String,
    },
    /// Set, whole, the URLs customers may be sent back to (`returnTo`).
    ReturnUrls {
        project: String,
        urls: Vec<String>,
    },
}

fn client_secret(file: Option<PathBuf>, env: Option<String>) -> anyhow::Result<Option<String>> {
    Ok(match (file, env) {
        (Some(path), _) => Some(
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        (None, Some(var)) => {
            Some(std::env::var(&var).with_context(|| format!("{var} is not set"))?)
        }
        (None, None) => None,
    })
}

/// Runs one provider command: its JSON answer.
pub async fn run(bus: &CommandBus, store: &EventStore, cmd: ProviderCmd) -> anyhow::Result<Value> {
    use crate::admin_client::send;
    let (project, input) = match cmd {
        ProviderCmd::List { project } => return list(store, &project).await,
        ProviderCmd::Remove { project, id } => {
            send(bus, &project, EditProviders::Remove { id: id.clone() }).await?;
            return Ok(json!({ "removed": id }));
        }
        ProviderCmd::ReturnUrls { project, urls } => {
            send(bus, &project, EditProviders::ReturnUrls(urls.clone())).await?;
            return Ok(json!({ "returnUrls": urls }));
        }
        ProviderCmd::Save {
            common,
            issuer,
            client_id,
            client_secret_file,
            client_secret_env,
            scopes,
        } => common.input(ProviderSettings::Oidc {
            issuer,
            client_id,
            client_secret: client_secret(client_secret_file, client_secret_env)?,
            scopes: if scopes.is_empty() {
                vec!["email".into()]
            } else {
                scopes
            },
        }),
        ProviderCmd::SaveShopify {
            common,
            shop_domain,
            storefront_token_env,
            multipass_secret_env,
            no_multipass,
        } => common.input(ProviderSettings::Shopify {
            shop_domain,
            storefront_token: client_secret(None, storefront_token_env)?,
            multipass_secret: if no_multipass {
                Some(String::new())
            } else {
                client_secret(None, multipass_secret_env)?
            },
        }),
    };
    let saved = send(bus, &project, EditProviders::Put(Box::new(input))).await?;
    Ok(json!({ "id": saved.id }))
}

/// The project's providers (no secrets) and return URLs.
async fn list(store: &EventStore, project: &str) -> anyhow::Result<Value> {
    use crate::admin_client::load;
    let p: Project = load(store, project, AggregateKind::Project, project).await?;
    anyhow::ensure!(p.name.is_some(), "no such project");
    let providers: Vec<_> = p
        .providers
        .providers
        .iter()
        .map(|q| {
            let mut v = json!({
                "id": q.id, "key": q.key, "name": q.name,
                "enabled": q.enabled, "isDefault": q.is_default, "priority": q.priority,
            });
            let kind = match &q.kind {
                authd_events::ProviderKind::Oidc(o) => json!({
                    "type": "OIDC", "issuer": o.issuer, "clientId": o.client_id,
                    "scopes": o.scopes,
                }),
                authd_events::ProviderKind::OAuth2(o) => json!({
                    "type": "OAUTH2", "authorizeUrl": o.authorize_url,
                    "tokenUrl": o.token_url, "userinfoUrl": o.userinfo_url,
                    "clientId": o.client_id, "scopes": o.scopes,
                    "subjectClaim": o.subject_claim, "emailClaim": o.email_claim,
                    "emailVerifiedClaim": o.email_verified_claim,
                }),
                authd_events::ProviderKind::Shopify(s) => json!({
                    "type": "SHOPIFY", "shopDomain": s.shop_domain,
                    "multipass": s.multipass_secret.is_some(),
                }),
            };
            v.as_object_mut()
                .unwrap()
                .extend(kind.as_object().unwrap().clone());
            v
        })
        .collect();
    let v = json!({ "providers": providers, "returnUrls": p.providers.return_urls });
    Ok(v)
}
