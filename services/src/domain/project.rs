//! The project aggregate: a tenant, its configuration and its API keys.

use authd_events::{
    AggregateKind, ApiKeyIssued, ApiKeyKind, ApiKeyRevoked, Event, ProjectConfig,
    ProjectConfigChanged, ProjectCreated, ProjectEvent, ProvidersConfig, StorefrontConfig,
    metafield::{CustomerMetafieldsDeclared, MetafieldDefinition},
};

use super::{
    aggregate::{Aggregate, At},
    urls::secure_url,
};
use crate::error::DomainError;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub name: Option<String>,
    pub config: ProjectConfig,
    /// (key id, kind) of the keys not revoked.
    pub keys: Vec<(String, ApiKeyKind)>,
    pub storefront: StorefrontConfig,
    pub providers: ProvidersConfig,
    /// The customer metafields declared.
    pub customer_metafields: Vec<MetafieldDefinition>,
    /// The webhook endpoints, oldest first.
    pub webhooks: Vec<authd_events::webhook::WebhookEndpoint>,
    /// Whether customers may or must have a second factor.
    pub mfa_required: authd_events::MfaRequirement,
    /// The relying party of its passkeys (an empty id: none).
    pub webauthn: authd_events::WebauthnConfigured,
}

pub enum ProjectCommand {
    Create {
        name: String,
        keys: Vec<ApiKeyIssued>,
    },
    Configure {
        config: ProjectConfig,
    },
    ConfigureStorefront {
        config: StorefrontConfig,
    },
    /// The customer metafields, the whole list.
    DeclareCustomerMetafields {
        definitions: Vec<MetafieldDefinition>,
    },
    /// One change to the external sign-in providers (secrets sealed).
    EditProviders(super::providers::ProviderEdit),
    IssueKey {
        key: ApiKeyIssued,
    },
    RevokeKey {
        key_id: String,
    },
    /// Second factors: optional, required or off.
    ConfigureMfa {
        required: authd_events::MfaRequirement,
    },
    /// The passkeys' relying party: what is named changes.
    ConfigureWebauthn {
        rp_id: Option<String>,
        origins: Option<Vec<String>>,
    },
    /// One change to the webhook endpoints; `allow_private`: the
    /// deployment lets them name private addresses and plain http.
    EditWebhooks {
        edit: super::webhooks::WebhookEdit,
        allow_private: bool,
    },
}

/// Reset and verification links carry secrets: they go over https only,
/// or plain http to this machine (local development), never with
/// credentials, a query or a fragment that could mangle the token.
fn link_base_allowed(base: &str) -> bool {
    let Some(url) = secure_url(base) else {
        return false;
    };
    url.query().is_none() && url.fragment().is_none()
}

/// Browser origins the Storefront API answers CORS for: `scheme://host[:port]`
/// exactly as browsers send them (no path, no trailing slash), https or a
/// local http one; at most 50.
pub fn validate_storefront(c: &StorefrontConfig) -> Result<(), DomainError> {
    const HOUR: u64 = 3600;
    if !(HOUR..=365 * 24 * HOUR).contains(&c.access_token_ttl_secs) {
        return Err(DomainError::InvalidInput("customerAccessTokenTtlSeconds"));
    }
    if c.allowed_origins.len() > 50 {
        return Err(DomainError::InvalidInput("allowedOrigins"));
    }
    for origin in &c.allowed_origins {
        let ok = secure_url(origin).is_some_and(|u| u.origin().ascii_serialization() == *origin);
        if !ok {
            return Err(DomainError::InvalidInput("allowedOrigins"));
        }
    }
    Ok(())
}

pub fn validate_config(c: &ProjectConfig) -> Result<(), DomainError> {
    let p = &c.password_policy;
    if !(6..=128).contains(&p.min_length) {
        return Err(DomainError::InvalidInput("passwordPolicy.minLength"));
    }
    if !link_base_allowed(&c.link_base_url) {
        return Err(DomainError::InvalidInput("linkBaseUrl"));
    }
    if c.mail_sender.len() > 320 || c.mail_sender.parse::<lettre::message::Mailbox>().is_err() {
        return Err(DomainError::InvalidInput("mailSender"));
    }
    if c.lockout_threshold > 100 {
        return Err(DomainError::InvalidInput("lockoutThreshold"));
    }
    if !c.password_login && !c.otp_login {
        return Err(DomainError::InvalidInput("authMethods"));
    }
    Ok(())
}

fn decide(s: &Project, cmd: &ProjectCommand) -> Result<Vec<ProjectEvent>, DomainError> {
    if s.name.is_none() && !matches!(cmd, ProjectCommand::Create { .. }) {
        return Err(DomainError::ProjectNotFound);
    }
    match cmd {
        ProjectCommand::Create { name, keys } => {
            if s.name.is_some() {
                return Err(DomainError::ProjectExists);
            }
            let name = name.trim().to_string();
            if name.is_empty() || name.len() > 200 {
                return Err(DomainError::InvalidInput("name"));
            }
            let mut events = vec![ProjectEvent::Created(ProjectCreated { name })];
            events.extend(keys.iter().cloned().map(ProjectEvent::ApiKeyIssued));
            Ok(events)
        }
        ProjectCommand::Configure { config } => {
            validate_config(config)?;
            Ok(if *config == s.config {
                vec![]
            } else {
                vec![ProjectEvent::ConfigChanged(ProjectConfigChanged {
                    config: config.clone(),
                })]
            })
        }
        ProjectCommand::ConfigureStorefront { config } => {
            validate_storefront(config)?;
            Ok(if *config == s.storefront {
                vec![]
            } else {
                vec![ProjectEvent::StorefrontConfigured(config.clone())]
            })
        }
        ProjectCommand::ConfigureMfa { required } => Ok(if *required == s.mfa_required {
            vec![]
        } else {
            vec![ProjectEvent::MfaConfigured(authd_events::MfaConfigured {
                required: *required,
            })]
        }),
        ProjectCommand::ConfigureWebauthn { rp_id, origins } => {
            let rp =
                super::webauthn::configured(&s.webauthn, rp_id.as_deref(), origins.as_deref())?;
            Ok(if rp == s.webauthn {
                vec![]
            } else {
                vec![ProjectEvent::WebauthnConfigured(rp)]
            })
        }
        ProjectCommand::DeclareCustomerMetafields { definitions } => {
            let definitions = super::metafields::checked_definitions(definitions)?;
            Ok(if definitions == s.customer_metafields {
                vec![]
            } else {
                vec![ProjectEvent::CustomerMetafieldsDeclared(
                    CustomerMetafieldsDeclared { definitions },
                )]
            })
        }
        ProjectCommand::EditProviders(edit) => {
            let next = super::providers::edit(&s.providers, edit)?;
            Ok(if next == s.providers {
                vec![]
            } else {
                vec![ProjectEvent::ProvidersConfigured(next)]
            })
        }
        ProjectCommand::EditWebhooks {
            edit,
            allow_private,
        } => super::webhooks::decide(&s.webhooks, edit, *allow_private),
        ProjectCommand::IssueKey { key } => Ok(vec![ProjectEvent::ApiKeyIssued(key.clone())]),
        ProjectCommand::RevokeKey { key_id } => {
            let Some((_, kind)) = s.keys.iter().find(|(id, _)| id == key_id) else {
                return Err(DomainError::InvalidInput("keyId"));
            };
            // Revoking the last secret key would lock the project's admins out.
            if *kind == ApiKeyKind::Secret
                && s.keys
                    .iter()
                    .filter(|(_, k)| *k == ApiKeyKind::Secret)
                    .count()
                    == 1
            {
                return Err(DomainError::LastSecretKey);
            }
            Ok(vec![ProjectEvent::ApiKeyRevoked(ApiKeyRevoked {
                key_id: key_id.clone(),
            })])
        }
    }
}

impl Aggregate for Project {
    const KIND: AggregateKind = AggregateKind::Project;
    type Command = ProjectCommand;
    type Event = ProjectEvent;

    fn decide(
        &self,
        command: &ProjectCommand,
        _now: i64,
    ) -> Result<Vec<ProjectEvent>, DomainError> {
        decide(self, command)
    }

    fn wrap(event: ProjectEvent) -> Event {
        Event::Project(event)
    }

    fn evolve(mut self, event: &Event, _at: At) -> Self {
        let Event::Project(e) = event else {
            return self;
        };
        match e {
            ProjectEvent::Created(c) => self.name = Some(c.name.clone()),
            ProjectEvent::ApiKeyIssued(k) => self.keys.push((k.key_id.clone(), k.kind)),
            ProjectEvent::ApiKeyRevoked(r) => self.keys.retain(|(id, _)| *id != r.key_id),
            ProjectEvent::ConfigChanged(c) => self.config = c.config.clone(),
            ProjectEvent::StorefrontConfigured(c) => self.storefront = c.clone(),
            ProjectEvent::ProvidersConfigured(c) => self.providers = c.clone(),
            ProjectEvent::MfaConfigured(c) => self.mfa_required = c.required,
            ProjectEvent::WebauthnConfigured(c) => self.webauthn = c.clone(),
            ProjectEvent::CustomerMetafieldsDeclared(d) => {
                self.customer_metafields = d.definitions.clone()
            }
            ProjectEvent::WebhookEndpointCreated(_)
            | ProjectEvent::WebhookEndpointUpdated(_)
            | ProjectEvent::WebhookEndpointDeleted(_) => {
                authd_events::webhook_endpoints::evolve(&mut self.webhooks, e)
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, kind: ApiKeyKind) -> ApiKeyIssued {
        ApiKeyIssued {
            key_id: id.into(),
            kind,
            live: false,
            key_hash: [1; 32],
            prefix: "pk_test_x".into(),
        }
    }

    fn state(events: &[ProjectEvent]) -> Project {
        Project::default().evolve_all(events, At::default())
    }

    fn decide(s: &Project, command: ProjectCommand) -> Result<Vec<ProjectEvent>, DomainError> {
        s.decide(&command, 0)
    }

    fn created() -> Vec<ProjectEvent> {
        decide(
            &Project::default(),
            ProjectCommand::Create {
                name: " Shop ".into(),
                keys: vec![
                    key("k_1", ApiKeyKind::Public),
                    key("k_2", ApiKeyKind::Secret),
                ],
            },
        )
        .unwrap()
    }

    #[test]
    fn a_project_is_created_once_with_its_keys() {
        let events = created();
        assert_eq!(
            events[0],
            ProjectEvent::Created(ProjectCreated {
                name: "Shop".into()
            })
        );
        assert_eq!(events.len(), 3);
        let again = ProjectCommand::Create {
            name: "x".into(),
            keys: vec![],
        };
        assert_eq!(
            decide(&state(&events), again),
            Err(DomainError::ProjectExists)
        );
        assert_eq!(state(&events).config, ProjectConfig::default());
    }

    #[test]
    fn customer_metafields_are_declared_whole_and_recorded_only_when_they_change() {
        let mut events = created();
        let declare = |definitions: Vec<MetafieldDefinition>| {
            ProjectCommand::DeclareCustomerMetafields { definitions }
        };
        let birthday = MetafieldDefinition {
            namespace: " custom".into(),
            key: "birthday".into(),
            type_name: "date".into(),
            access: authd_events::metafield::MetafieldAccess::ReadWrite,
        };
        let first = decide(&state(&events), declare(vec![birthday.clone()])).unwrap();
        let [ProjectEvent::CustomerMetafieldsDeclared(d)] = &first[..] else {
            panic!("{first:?}")
        };
        assert_eq!(d.definitions[0].namespace, "custom");
        events.extend(first.clone());
        assert_eq!(state(&events).customer_metafields, d.definitions);
        assert_eq!(
            decide(&state(&events), declare(vec![birthday.clone()])),
            Ok(vec![])
        );
        let bad = MetafieldDefinition {
            type_name: "money".into(),
            ..birthday
        };
        assert!(decide(&state(&events), declare(vec![bad])).is_err());
        // An empty list takes every declaration back.
        assert_eq!(decide(&state(&events), declare(vec![])).unwrap().len(), 1);
    }

    #[test]
    fn a_project_needs_a_name() {
        let cmd = ProjectCommand::Create {
            name: "  ".into(),
            keys: vec![],
        };
        assert_eq!(
            decide(&Project::default(), cmd),
            Err(DomainError::InvalidInput("name"))
        );
    }

    #[test]
    fn configuration_is_validated_and_recorded_only_when_it_changes() {
        let s = state(&created());
        let mut config = ProjectConfig::default();
        assert_eq!(
            decide(
                &s,
                ProjectCommand::Configure {
                    config: config.clone()
                }
            ),
            Ok(vec![])
        );
        config.public_registration = false;
        assert_eq!(
            decide(
                &s,
                ProjectCommand::Configure {
                    config: config.clone()
                }
            ),
            Ok(vec![ProjectEvent::ConfigChanged(ProjectConfigChanged {
                config: config.clone()
            })])
        );
        let mut bad = config.clone();
        bad.password_policy.min_length = 2;
        assert_eq!(
            decide(&s, ProjectCommand::Configure { config: bad }),
            Err(DomainError::InvalidInput("passwordPolicy.minLength"))
        );
        for base in [
            "javascript:alert(1)",
            "http://evil.example",
            "http://localhost.evil.example",
            "https://user:pw@shop.example",
            "https://shop.example/?next=",
            "https://",
        ] {
            let mut bad = config.clone();
            bad.link_base_url = base.into();
            assert_eq!(
                decide(&s, ProjectCommand::Configure { config: bad }),
                Err(DomainError::InvalidInput("linkBaseUrl")),
                "{base}"
            );
        }
        for base in [
            "https://shop.example",
            "https://shop.example/account/",
            "http://localhost:3000",
            "http://127.0.0.1:8080/x",
            "http://[::1]:3000",
        ] {
            let mut good = config.clone();
            good.link_base_url = base.into();
            assert!(
                decide(&s, ProjectCommand::Configure { config: good }).is_ok(),
                "{base}"
            );
        }
        for sender in ["no-at-sign", "a@b.co\r\nBcc: x@y.z", ""] {
            let mut bad = config.clone();
            bad.mail_sender = sender.into();
            assert_eq!(
                decide(&s, ProjectCommand::Configure { config: bad }),
                Err(DomainError::InvalidInput("mailSender")),
                "{sender:?}"
            );
        }
        let mut bad = config;
        (bad.password_login, bad.otp_login) = (false, false);
        assert_eq!(
            decide(&s, ProjectCommand::Configure { config: bad }),
            Err(DomainError::InvalidInput("authMethods"))
        );
        let missing = ProjectCommand::Configure {
            config: ProjectConfig::default(),
        };
        assert_eq!(
            decide(&Project::default(), missing),
            Err(DomainError::ProjectNotFound)
        );
    }

    #[test]
    fn keys_are_revoked_but_never_the_last_secret_one() {
        let s = state(&created());
        assert_eq!(
            decide(
                &s,
                ProjectCommand::RevokeKey {
                    key_id: "k_1".into()
                }
            ),
            Ok(vec![ProjectEvent::ApiKeyRevoked(ApiKeyRevoked {
                key_id: "k_1".into()
            })])
        );
        assert_eq!(
            decide(
                &s,
                ProjectCommand::RevokeKey {
                    key_id: "k_2".into()
                }
            ),
            Err(DomainError::LastSecretKey)
        );
        assert_eq!(
            decide(
                &s,
                ProjectCommand::RevokeKey {
                    key_id: "nope".into()
                }
            ),
            Err(DomainError::InvalidInput("keyId"))
        );
        let s = state(
            &[
                created(),
                vec![ProjectEvent::ApiKeyIssued(key("k_3", ApiKeyKind::Secret))],
            ]
            .concat(),
        );
        assert!(
            decide(
                &s,
                ProjectCommand::RevokeKey {
                    key_id: "k_2".into()
                }
            )
            .is_ok()
        );
    }

    #[test]
    fn storefront_settings_are_checked_and_recorded_only_when_they_change() {
        let s = state(&[ProjectEvent::Created(ProjectCreated {
            name: "Shop".into(),
        })]);
        let configure = |c: &StorefrontConfig| {
            decide(
                &s,
                ProjectCommand::ConfigureStorefront { config: c.clone() },
            )
        };
        assert_eq!(configure(&StorefrontConfig::default()), Ok(vec![]));
        let good = StorefrontConfig {
            access_token_ttl_secs: 7200,
            cookie_sessions: true,
            allowed_origins: vec![
                "https://shop.example".into(),
                "http://localhost:5173".into(),
                "http://127.0.0.1:8080".into(),
            ],
        };
        assert_eq!(
            configure(&good),
            Ok(vec![ProjectEvent::StorefrontConfigured(good.clone())])
        );
        for origin in [
            "http://shop.example",
            "https://shop.example/",
            "https://shop.example/path",
            "https://user@shop.example",
            "*",
            "null",
            "shop.example",
        ] {
            let bad = StorefrontConfig {
                allowed_origins: vec![origin.into()],
                ..good.clone()
            };
            assert_eq!(
                configure(&bad),
                Err(DomainError::InvalidInput("allowedOrigins")),
                "{origin}"
            );
        }
        for ttl in [0, 3599, 366 * 24 * 3600] {
            let bad = StorefrontConfig {
                access_token_ttl_secs: ttl,
                ..good.clone()
            };
            assert_eq!(
                configure(&bad),
                Err(DomainError::InvalidInput("customerAccessTokenTtlSeconds"))
            );
        }
    }
}
