//! A project's webhook endpoints: created, changed, deleted. The signing
//! secret is derived (`DataKeys::webhook_secret`), never appended: the
//! outcome shows it on creation and rotation, and the feed role derives
//! the same to sign deliveries.

use authd_events::{AggregateKind, webhook::WebhookEndpoint};
use sha2::{Digest, Sha256};

use super::{Services, UseCase, subject};
use crate::{
    commands::{
        CommandEnvelope, CreateWebhookEndpoint, DeleteWebhookEndpoint, Done, Sent,
        UpdateWebhookEndpoint, WebhookEndpointSaved,
    },
    domain::{
        project::{Project, ProjectCommand},
        webhooks::WebhookEdit,
    },
    error::CommandError,
};

/// An endpoint's id, from the command's: a command sent again (the same
/// id) names the same endpoint.
fn endpoint_id(env: &CommandEnvelope) -> String {
    let digest = Sha256::digest(format!("{}\0{}", env.tenant, env.command_id));
    format!("we_{}", &hex::encode(digest)[..26])
}

/// Decides `edit` on the project; the endpoint `id` as it then is.
async fn edit(
    s: &Services,
    env: &CommandEnvelope,
    edit: WebhookEdit,
    id: &str,
) -> Result<(u64, Option<WebhookEndpoint>), CommandError> {
    let project = subject(&env.tenant, AggregateKind::Project, &env.tenant)?;
    let command = ProjectCommand::EditWebhooks {
        edit,
        allow_private: s.config.allow_private_webhooks,
    };
    let d = s.x.run::<Project>(env, &project, &command).await?;
    let endpoint = d.state.webhooks.into_iter().find(|e| e.endpoint_id == id);
    Ok((d.seq, endpoint))
}

fn secret(s: &Services, project: &str, e: &WebhookEndpoint) -> Result<String, CommandError> {
    let keys = s.x.store().data_keys().ok_or_else(|| {
        tracing::error!("webhook secrets need the data key-encryption key");
        CommandError::internal()
    })?;
    Ok(keys.webhook_secret(project, &e.endpoint_id, e.secret_generation))
}

impl UseCase for CreateWebhookEndpoint {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<WebhookEndpointSaved>, CommandError> {
        let id = endpoint_id(env);
        let create = WebhookEdit::Create(WebhookEndpoint {
            endpoint_id: id.clone(),
            url: self.url,
            event_types: self.event_types,
            description: self.description.trim().to_string(),
            enabled: true,
            secret_generation: 0,
        });
        let (seq, endpoint) = edit(s, env, create, &id).await?;
        let endpoint = endpoint.ok_or_else(CommandError::internal)?;
        Ok(Sent {
            seq,
            outcome: WebhookEndpointSaved {
                secret: Some(secret(s, &env.tenant, &endpoint)?),
                endpoint,
            },
        })
    }
}

impl UseCase for UpdateWebhookEndpoint {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<WebhookEndpointSaved>, CommandError> {
        let id = self.endpoint_id.clone();
        let rotate = self.rotate_secret;
        let update = WebhookEdit::Update {
            endpoint_id: self.endpoint_id,
            url: self.url,
            event_types: self.event_types,
            description: self.description,
            enabled: self.enabled,
            rotate_secret: self.rotate_secret,
        };
        let (seq, endpoint) = edit(s, env, update, &id).await?;
        let endpoint = endpoint.ok_or_else(CommandError::internal)?;
        let secret = if rotate {
            Some(secret(s, &env.tenant, &endpoint)?)
        } else {
            None
        };
        Ok(Sent {
            seq,
            outcome: WebhookEndpointSaved { endpoint, secret },
        })
    }
}

impl UseCase for DeleteWebhookEndpoint {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let id = self.endpoint_id.clone();
        let delete = WebhookEdit::Delete {
            endpoint_id: self.endpoint_id,
        };
        let (seq, _) = edit(s, env, delete, &id).await?;
        Ok(Sent { seq, outcome: Done })
    }
}
