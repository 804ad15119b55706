//! A project's life: creation (with its first keys), configuration, API
//! keys issued and revoked.

use authd_events::{AggregateKind, ApiKeyIssued, ApiKeyKind, keyed_hash::secret_hash};

use super::{Services, UseCase, subject};
use crate::{
    commands::{
        CommandEnvelope, ConfigureProject, CreateProject, Done, IssueApiKey, IssuedKey,
        ProjectKeys, RevokeApiKey, Sent,
    },
    domain::{
        aggregate::Aggregate,
        project::{Project, ProjectCommand},
    },
    error::{CommandError, DomainError},
    infra::tokens,
};

fn api_key(key: &str, kind: ApiKeyKind) -> ApiKeyIssued {
    ApiKeyIssued {
        key_id: authd_events::new_id("k"),
        kind,
        live: key[3..].starts_with("live_"),
        key_hash: secret_hash(key),
        prefix: key.chars().take(12).collect(),
    }
}

/// Decides `command` on the command's project; returns the sequence.
async fn on_project(
    s: &Services,
    env: &CommandEnvelope,
    command: ProjectCommand,
) -> Result<u64, CommandError> {
    let project = subject(&env.tenant, AggregateKind::Project, &env.tenant)?;
    let d = s.x.run::<Project>(env, &project, &command).await?;
    Ok(d.seq)
}

impl UseCase for CreateProject {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<ProjectKeys>, CommandError> {
        let public_key = self
            .public_key
            .unwrap_or_else(|| tokens::new_api_key("pk_test_"));
        let secret_key = self
            .secret_key
            .unwrap_or_else(|| tokens::new_api_key("sk_test_"));
        if !(public_key.starts_with("pk_test_") || public_key.starts_with("pk_live_"))
            || public_key.len() < 24
        {
            return Err(DomainError::InvalidInput("publicKey").into());
        }
        if !(secret_key.starts_with("sk_test_") || secret_key.starts_with("sk_live_"))
            || secret_key.len() < 24
        {
            return Err(DomainError::InvalidInput("secretKey").into());
        }
        let create = ProjectCommand::Create {
            name: self.name,
            keys: vec![
                api_key(&public_key, ApiKeyKind::Public),
                api_key(&secret_key, ApiKeyKind::Secret),
            ],
        };
        let seq = on_project(s, env, create).await?;
        Ok(Sent {
            seq,
            outcome: ProjectKeys {
                project_id: env.tenant.clone(),
                public_key,
                secret_key,
            },
        })
    }
}

impl UseCase for ConfigureProject {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let project = subject(&env.tenant, AggregateKind::Project, &env.tenant)?;
        let configure = ProjectCommand::Configure {
            config: self.config,
        };
        let storefront = self
            .storefront
            .map(|config| ProjectCommand::ConfigureStorefront { config });
        let metafields = self
            .customer_metafields
            .map(|definitions| ProjectCommand::DeclareCustomerMetafields { definitions });
        let mfa = self
            .mfa_required
            .map(|required| ProjectCommand::ConfigureMfa { required });
        let webauthn = (self.webauthn_rp_id.is_some() || self.webauthn_origins.is_some())
            .then_some(ProjectCommand::ConfigureWebauthn {
                rp_id: self.webauthn_rp_id,
                origins: self.webauthn_origins,
            });
        // All in one message: all of the change or none of it.
        let d =
            s.x.decide(env, &project, |p: &Project, now| {
                let mut events = p.decide(&configure, now)?;
                for part in [&storefront, &metafields, &mfa, &webauthn]
                    .into_iter()
                    .flatten()
                {
                    events.extend(p.decide(part, now)?);
                }
                Ok(events)
            })
            .await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Done,
        })
    }
}

impl UseCase for IssueApiKey {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<IssuedKey>, CommandError> {
        let prefix = match (self.kind, self.live) {
            (ApiKeyKind::Public, false) => "pk_test_",
            (ApiKeyKind::Public, true) => "pk_live_",
            (ApiKeyKind::Secret, false) => "sk_test_",
            (ApiKeyKind::Secret, true) => "sk_live_",
        };
        let key = tokens::new_api_key(prefix);
        let issued = api_key(&key, self.kind);
        let key_id = issued.key_id.clone();
        let seq = on_project(s, env, ProjectCommand::IssueKey { key: issued }).await?;
        Ok(Sent {
            seq,
            outcome: IssuedKey { key_id, key },
        })
    }
}

impl UseCase for RevokeApiKey {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let revoke = ProjectCommand::RevokeKey {
            key_id: self.key_id,
        };
        let seq = on_project(s, env, revoke).await?;
        Ok(Sent { seq, outcome: Done })
    }
}
