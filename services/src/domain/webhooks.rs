//! A project's webhook endpoints: what an endpoint may be (its URL, the
//! event types it takes, its description) and the changes to the list.

use authd_events::{
    EVENT_TYPES, ProjectEvent,
    webhook::{WebhookEndpoint, WebhookEndpointDeleted, is_public_ip},
};

use crate::error::DomainError;

/// Endpoints a project can have.
pub const MAX_ENDPOINTS: usize = 20;
const MAX_TYPES: usize = 100;
const MAX_URL: usize = 2000;
const MAX_DESCRIPTION: usize = 500;

/// One change to the endpoints.
pub enum WebhookEdit {
    Create(WebhookEndpoint),
    Update {
        endpoint_id: String,
        url: Option<String>,
        event_types: Option<Vec<String>>,
        description: Option<String>,
        enabled: Option<bool>,
        rotate_secret: bool,
    },
    Delete {
        endpoint_id: String,
    },
}

/// A webhook URL: `https://` to a host name or a public address; plain
/// `http://` and private addresses (loopback, RFC 1918, link-local: the
/// cloud's metadata service) only where the deployment allows private
/// URLs (`authd dev`, `--allow-private-webhook-urls`). No credentials, no
/// fragment. A name is checked again when it is resolved, at delivery.
pub fn check_url(text: &str, allow_private: bool) -> Result<(), DomainError> {
    use DomainError::WebhookUrlNotAllowed as No;
    if text.len() > MAX_URL || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(No("not a URL of at most 2000 characters"));
    }
    let url = url::Url::parse(text).map_err(|_| No("not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(No("credentials in the URL"));
    }
    if url.fragment().is_some() {
        return Err(No("a fragment in the URL"));
    }
    let private = match url.host() {
        None => return Err(No("no host")),
        Some(url::Host::Ipv4(ip)) => !is_public_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => !is_public_ip(ip.into()),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost"
                || [".localhost", ".local", ".internal", ".localdomain"]
                    .iter()
                    .any(|s| d.ends_with(s))
                || !d.contains('.')
        }
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(No("plain http (https only)")),
        _ => return Err(No("not an https URL")),
    }
    if private && !allow_private {
        return Err(No("a private or local address"));
    }
    Ok(())
}

fn check_types(types: &[String]) -> Result<(), DomainError> {
    if types.len() > MAX_TYPES {
        return Err(DomainError::InvalidInput("eventTypes"));
    }
    for t in types {
        let known = match t.strip_suffix('*') {
            Some(prefix) => {
                prefix.ends_with('.') && EVENT_TYPES.iter().any(|n| n.starts_with(prefix))
            }
            None => EVENT_TYPES.contains(&t.as_str()),
        };
        if !known {
            return Err(DomainError::InvalidInput("eventTypes"));
        }
    }
    Ok(())
}

/// All but the URL.
fn check_rest(e: &WebhookEndpoint) -> Result<(), DomainError> {
    check_types(&e.event_types)?;
    if e.description.chars().count() > MAX_DESCRIPTION
        || e.description.chars().any(|c| c.is_control())
    {
        return Err(DomainError::InvalidInput("description"));
    }
    Ok(())
}

/// The events of `edit` on the project's `endpoints`.
pub fn decide(
    endpoints: &[WebhookEndpoint],
    edit: &WebhookEdit,
    allow_private: bool,
) -> Result<Vec<ProjectEvent>, DomainError> {
    let find = |id: &str| {
        endpoints
            .iter()
            .find(|e| e.endpoint_id == id)
            .ok_or(DomainError::WebhookEndpointNotFound)
    };
    match edit {
        WebhookEdit::Create(e) => {
            if endpoints.len() >= MAX_ENDPOINTS {
                return Err(DomainError::TooManyWebhookEndpoints(MAX_ENDPOINTS));
            }
            check_url(&e.url, allow_private)?;
            check_rest(e)?;
            Ok(vec![ProjectEvent::WebhookEndpointCreated(e.clone())])
        }
        WebhookEdit::Update {
            endpoint_id,
            url,
            event_types,
            description,
            enabled,
            rotate_secret,
        } => {
            let old = find(endpoint_id)?;
            let mut next = old.clone();
            if let Some(v) = url {
                next.url = v.clone();
            }
            if let Some(v) = event_types {
                next.event_types = v.clone();
            }
            if let Some(v) = description {
                next.description = v.trim().to_string();
            }
            if let Some(v) = enabled {
                next.enabled = *v;
            }
            if *rotate_secret {
                next.secret_generation += 1;
            }
            // An unchanged URL stays allowed where it was (the policy may
            // have tightened since): only what changes is checked.
            if next.url != old.url {
                check_url(&next.url, allow_private)?;
            }
            check_rest(&next)?;
            Ok(if next == *old {
                vec![]
            } else {
                vec![ProjectEvent::WebhookEndpointUpdated(next)]
            })
        }
        WebhookEdit::Delete { endpoint_id } => {
            find(endpoint_id)?;
            Ok(vec![ProjectEvent::WebhookEndpointDeleted(
                WebhookEndpointDeleted {
                    endpoint_id: endpoint_id.clone(),
                },
            )])
        }
    }
}

#[cfg(test)]
mod tests {
    use authd_events::webhook_endpoints::evolve;

    use super::*;

    fn endpoint(url: &str) -> WebhookEndpoint {
        WebhookEndpoint {
            endpoint_id: "we_1".into(),
            url: url.into(),
            event_types: vec![],
            description: String::new(),
            enabled: true,
            secret_generation: 0,
        }
    }

    #[test]
    fn urls_are_https_to_public_hosts_unless_private_ones_are_allowed() {
        for ok in [
            "https://hooks.example.com/authd",
            "https://93.184.215.14:8443/x?a=1",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://127.0.0.1/",
            "https://localhost/",
            "https://10.0.0.7/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://metadata.google.internal/",
            "https://intranet/",
            "not a url",
        ] {
            let e = check_url(bad, false).unwrap_err();
            assert!(matches!(e, DomainError::WebhookUrlNotAllowed(_)), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:8080/hook", true).is_ok());
        assert!(check_url("ftp://127.0.0.1/", true).is_err());
    }

    #[test]
    fn create_update_delete() {
        let created = decide(
            &[],
            &WebhookEdit::Create(endpoint("https://a.example/")),
            false,
        )
        .unwrap();
        let mut list = vec![];
        for e in &created {
            evolve(&mut list, e);
        }
        assert_eq!(list.len(), 1);
        let rotate = WebhookEdit::Update {
            endpoint_id: "we_1".into(),
            url: None,
            event_types: Some(vec!["customer.*".into()]),
            description: None,
            enabled: None,
            rotate_secret: true,
        };
        for e in &decide(&list.clone(), &rotate, false).unwrap() {
            evolve(&mut list, e);
        }
        assert_eq!(list[0].secret_generation, 1);
        assert_eq!(list[0].event_types, ["customer.*"]);
        let unknown = WebhookEdit::Update {
            endpoint_id: "we_1".into(),
            url: None,
            event_types: Some(vec!["customer.nope".into()]),
            description: None,
            enabled: None,
            rotate_secret: false,
        };
        assert!(matches!(
            decide(&list, &unknown, false),
            Err(DomainError::InvalidInput("eventTypes"))
        ));
        let gone = WebhookEdit::Delete {
            endpoint_id: "we_2".into(),
        };
        assert!(matches!(
            decide(&list, &gone, false),
            Err(DomainError::WebhookEndpointNotFound)
        ));
        let full: Vec<_> = (0..MAX_ENDPOINTS)
            .map(|_| endpoint("https://a.example/"))
            .collect();
        assert!(matches!(
            decide(
                &full,
                &WebhookEdit::Create(endpoint("https://a.example/")),
                false
            ),
            Err(DomainError::TooManyWebhookEndpoints(_))
        ));
    }
}
