//! `authd admin …`: operator commands sent straight to the services over
//! NATS (the operator's credential is access to NATS itself).

use std::time::Duration;

use anyhow::Context as _;
use authd_events::{AggregateKind, ApiKeyKind, ProjectConfig};
use authd_services::{
    CommandBus,
    commands::{
        ConfigureProject, CreateProject, EraseCustomer, IssueApiKey, ReactivateCustomer,
        RevokeApiKey, RotateSigningKey, SuspendCustomer, UnlockCustomer,
    },
    customer::Customer,
    project::Project,
};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::admin_client::{load, send};

#[derive(Args)]
pub struct AdminArgs {
    #[arg(long, env = "AUTHD_NATS_URL")]
    pub nats_url: String,
    /// The key-encryption key of customers' data keys (the services'
    /// --data-key-file): export-customer needs it to open personal data.
    #[arg(long, env = "AUTHD_DATA_KEY_FILE")]
    pub data_key_file: Option<std::path::PathBuf>,
    #[command(subcommand)]
    pub command: AdminCmd,
}

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Create a project; prints its id and first keys as JSON.
    CreateProject {
        #[arg(long)]
        name: String,
    },
    /// Show a project's configuration and keys as JSON.
    ShowProject {
        project: String,
    },
    /// Change a project's configuration; options left out keep their value.
    Configure {
        project: String,
        #[arg(long)]
        public_registration: Option<bool>,
        #[arg(long)]
        email_verification_required: Option<bool>,
        #[arg(long)]
        password_login: Option<bool>,
        #[arg(long)]
        otp_login: Option<bool>,
        #[arg(long)]
        min_password_length: Option<u32>,
        #[arg(long)]
        require_uppercase: Option<bool>,
        #[arg(long)]
        require_lowercase: Option<bool>,
        #[arg(long)]
        require_numbers: Option<bool>,
        #[arg(long)]
        require_special_chars: Option<bool>,
        #[arg(long)]
        lockout_threshold: Option<u32>,
        #[arg(long)]
        mail_sender: Option<String>,
        #[arg(long)]
        link_base_url: Option<String>,
    },
    /// Issue an API key (printed once).
    IssueKey {
        project: String,
        #[arg(long, value_parser = ["public", "secret"])]
        kind: String,
        #[arg(long)]
        live: bool,
    },
    RevokeKey {
        project: String,
        key_id: String,
    },
    /// Show a customer's state, as the services see it, as JSON.
    ShowCustomer {
        project: String,
        customer_id: String,
    },
    SuspendCustomer {
        project: String,
        customer_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
    ReactivateCustomer {
        project: String,
        customer_id: String,
    },
    UnlockCustomer {
        project: String,
        customer_id: String,
    },
    /// Start signing access tokens with a new key; every gateway and JWKS
    /// list it at once, and the old key stays trusted until the last token
    /// it signed expires.
    RotateSigningKey {
        /// Seconds until the new key signs, so that clients caching JWKS
        /// learn it first.
        #[arg(long, default_value_t = 60)]
        activate_after_secs: u64,
        /// Distrust every earlier key now (one leaked): their tokens are
        /// refused at once, and the new key signs at once.
        #[arg(long)]
        revoke_previous: bool,
        /// Move to a new signing key file (PKCS#8 PEM): its public key joins
        /// the ring; give the file to every services instance before the
        /// key is active. By default the next key derives from the
        /// services' current file.
        #[arg(long)]
        new_root_key_file: Option<std::path::PathBuf>,
    },
    /// Show the signing-key ring: every key, when it signs, until when it
    /// is trusted.
    ShowSigningKeys,
    /// A project's external sign-in providers.
    #[command(subcommand)]
    Providers(crate::admin_providers::ProviderCmd),
    /// Record a shop's order history from a JSON Lines file (one
    /// `orderRecord` input per line); prints how many were imported,
    /// replaced and unchanged, and the lines refused with why.
    ImportOrders {
        project: String,
        #[arg(long)]
        file: std::path::PathBuf,
    },
    /// Everything authd holds of a customer (by id or email), as one JSON
    /// document (`authd.customer-export/1`), read from the log; on stdout,
    /// or into `--out` (created mode 0600).
    ExportCustomer {
        project: String,
        customer: String,
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Erase a customer (GDPR art. 17), by id or email (an email is looked
    /// up in a read model rebuilt from the log: slower); prints what the
    /// erasure did as JSON. The reason is recorded for good.
    EraseCustomer {
        project: String,
        customer: String,
        #[arg(long)]
        reason: String,
    },
}

/// Runs one admin command, printing its result as JSON on stdout.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let nats = crate::app::connect(&args.nats_url).await?;
    let store = crate::app::open_store(&nats).await?;
    let store = crate::app::tool_store(store, args.data_key_file.as_deref()).await?;
    let bus = CommandBus::new(nats.client.clone(), Duration::from_secs(10));
    let out = match args.command {
        AdminCmd::CreateProject { name } => {
            let project = authd_events::new_id("p");
            let create = CreateProject {
                name,
                public_key: None,
                secret_key: None,
            };
            let k = send(&bus, &project, create).await?;
            json!({
                "projectId": k.project_id, "publicApiKey": k.public_key, "adminKey": k.secret_key
            })
        }
        AdminCmd::ShowProject { project } => {
            let p: Project = load(&store, &project, AggregateKind::Project, &project).await?;
            let name = p.name.context("no such project")?;
            let keys: Vec<_> = p
                .keys
                .iter()
                .map(|(id, kind)| json!({ "id": id, "kind": if *kind == ApiKeyKind::Secret { "secret" } else { "public" } }))
                .collect();
            json!({ "id": project, "name": name, "config": p.config, "keys": keys })
        }
        AdminCmd::Configure {
            project,
            public_registration,
            email_verification_required,
            password_login,
            otp_login,
            min_password_length,
            require_uppercase,
            require_lowercase,
            require_numbers,
            require_special_chars,
            lockout_threshold,
            mail_sender,
            link_base_url,
        } => {
            let p: Project = load(&store, &project, AggregateKind::Project, &project).await?;
            anyhow::ensure!(p.name.is_some(), "no such project");
            let mut c: ProjectConfig = p.config;
            let set = |dst: &mut bool, v: Option<bool>| {
                if let Some(v) = v {
                    *dst = v;
                }
            };
            set(&mut c.public_registration, public_registration);
            set(
                &mut c.email_verification_required,
                email_verification_required,
            );
            set(&mut c.password_login, password_login);
            set(&mut c.otp_login, otp_login);
            set(&mut c.password_policy.require_uppercase, require_uppercase);
            set(&mut c.password_policy.require_lowercase, require_lowercase);
            set(&mut c.password_policy.require_numbers, require_numbers);
            set(
                &mut c.password_policy.require_special_chars,
                require_special_chars,
            );
            if let Some(v) = min_password_length {
                c.password_policy.min_length = v;
            }
            if let Some(v) = lockout_threshold {
                c.lockout_threshold = v;
            }
            if let Some(v) = mail_sender {
                c.mail_sender = v;
            }
            if let Some(v) = link_base_url {
                c.link_base_url = v;
            }
            send(
                &bus,
                &project,
                ConfigureProject {
                    config: c.clone(),
                    storefront: None,
                    customer_metafields: None,
                    mfa_required: None,
                    webauthn_rp_id: None,
                    webauthn_origins: None,
                },
            )
            .await?;
            json!({ "id": project, "config": c })
        }
        AdminCmd::IssueKey {
            project,
            kind,
            live,
        } => {
            let kind = if kind == "secret" {
                ApiKeyKind::Secret
            } else {
                ApiKeyKind::Public
            };
            let k = send(&bus, &project, IssueApiKey { kind, live }).await?;
            json!({ "keyId": k.key_id, "key": k.key })
        }
        AdminCmd::RevokeKey { project, key_id } => {
            send(
                &bus,
                &project,
                RevokeApiKey {
                    key_id: key_id.clone(),
                },
            )
            .await?;
            json!({ "revoked": key_id })
        }
        AdminCmd::ShowCustomer {
            project,
            customer_id,
        } => {
            let c: Customer = load(&store, &project, AggregateKind::Customer, &customer_id).await?;
            anyhow::ensure!(c.registered, "no such customer");
            json!({
                "id": customer_id, "email": c.email, "emailVerified": c.email_verified,
                "status": if c.suspended { "SUSPENDED" } else { "ACTIVE" },
                "failedLogins": c.failed_logins, "lockedUntil": c.locked_until,
                "createdAt": c.created_at, "updatedAt": c.updated_at,
            })
        }
        AdminCmd::SuspendCustomer {
            project,
            customer_id,
            reason,
        } => {
            let command = SuspendCustomer {
                customer_id: customer_id.clone(),
                reason,
            };
            send(&bus, &project, command).await?;
            json!({ "suspended": customer_id })
        }
        AdminCmd::ReactivateCustomer {
            project,
            customer_id,
        } => {
            send(
                &bus,
                &project,
                ReactivateCustomer {
                    customer_id: customer_id.clone(),
                },
            )
            .await?;
            json!({ "reactivated": customer_id })
        }
        AdminCmd::UnlockCustomer {
            project,
            customer_id,
        } => {
            send(
                &bus,
                &project,
                UnlockCustomer {
                    customer_id: customer_id.clone(),
                },
            )
            .await?;
            json!({ "unlocked": customer_id })
        }
        AdminCmd::RotateSigningKey {
            activate_after_secs,
            revoke_previous,
            new_root_key_file,
        } => {
            let activate_after_secs = if revoke_previous {
                0
            } else {
                activate_after_secs
            };
            let new_root = new_root_key_file
                .map(|path| authd_services::tokens::SigningKeys::load_or_create(&path, false))
                .transpose()?
                .map(|k| k.public_key());
            let rotate = RotateSigningKey {
                activate_after_secs,
                revoke_previous,
                new_root,
            };
            let r = send(&bus, authd_events::subject::SYSTEM_TENANT, rotate).await?;
            let retired: Vec<_> = r
                .retired
                .iter()
                .map(|(kid, until)| json!({ "kid": kid, "trustedUntil": authd_events::format_millis(*until) }))
                .collect();
            json!({ "kid": r.kid, "activeFrom": authd_events::format_millis(r.active_from), "retired": retired })
        }
        AdminCmd::Providers(cmd) => crate::admin_providers::run(&bus, &store, cmd).await?,
        AdminCmd::ImportOrders { project, file } => {
            crate::admin_orders::import(&bus, &project, &file).await?
        }
        AdminCmd::ExportCustomer {
            project,
            customer,
            out,
        } => crate::admin_export::export(&store, &project, &customer, out.as_deref()).await?,
        AdminCmd::EraseCustomer {
            project,
            customer,
            reason,
        } => {
            let customer_id = if customer.contains('@') {
                let (_dir, read) = crate::admin_export::temp_read_model(&store).await?;
                crate::admin_export::customer_id(&read, &project, &customer)?
            } else {
                customer
            };
            let command = EraseCustomer {
                customer_id: customer_id.clone(),
                reason,
            };
            let done = send(&bus, &project, command).await?;
            json!({
                "customerId": customer_id,
                "erased": true,
                "keyDestroyed": done.key_destroyed,
                "mailJobsDropped": done.mail_jobs_dropped,
                "plaintextMessagesErased": done.plaintext_erased,
            })
        }
        AdminCmd::ShowSigningKeys => {
            let (ring, _) = authd_services::key_ring::load(&store).await?;
            let now = authd_events::now_millis();
            let active = ring.active(now).map(|k| k.added.kid.clone());
            let keys: Vec<_> = ring
                .keys
                .iter()
                .map(|k| {
                    json!({
                        "kid": k.added.kid, "generation": k.added.generation,
                        "rootKid": k.added.root_kid, "activeFrom": authd_events::format_millis(k.added.active_from),
                        "trustedUntil": k.verify_until.map(authd_events::format_millis),
                        "signing": active.as_deref() == Some(k.added.kid.as_str()),
                        "trusted": k.trusted_at(now),
                    })
                })
                .collect();
            json!({ "keys": keys })
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
