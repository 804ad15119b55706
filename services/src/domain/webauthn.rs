//! Passkey ceremonies and the project's relying party. A ceremony is one
//! aggregate, keyed by its challenge's hash (the browser's answer carries
//! the challenge, so nothing else has to travel): started with the
//! WebAuthn library's state, good for one answer before it expires, spent
//! whatever the answer was. Its messages age out (`AggregateKind::expires`).

use authd_events::{
    AggregateKind, Event, WebauthnConfigured, WebauthnEvent, WebauthnFinished, WebauthnPurpose,
    WebauthnStarted,
};

use super::aggregate::{Aggregate, At};
use super::urls::secure_url;
use crate::error::DomainError;

/// How long a ceremony waits for the browser's answer.
pub const CEREMONY_TTL_MS: i64 = 5 * 60_000;
/// Origins one project may name.
pub const MAX_ORIGINS: usize = 20;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ceremony {
    pub started: Option<WebauthnStarted>,
    pub spent: bool,
}

pub enum CeremonyCommand {
    Start(WebauthnStarted),
    /// The answer came: the ceremony is spent, before the answer is
    /// checked; `purpose` must be the ceremony's.
    Finish {
        purpose: WebauthnPurpose,
    },
}

impl Ceremony {
    /// The ceremony an answer for `purpose` at `now` may finish.
    pub fn open(
        &self,
        purpose: WebauthnPurpose,
        now: i64,
    ) -> Result<&WebauthnStarted, DomainError> {
        match &self.started {
            Some(s) if !self.spent && s.purpose == purpose && now < s.expires_at => Ok(s),
            _ => Err(DomainError::InvalidPasskey),
        }
    }
}

impl Aggregate for Ceremony {
    const KIND: AggregateKind = AggregateKind::Webauthn;
    type Command = CeremonyCommand;
    type Event = WebauthnEvent;

    fn wrap(event: WebauthnEvent) -> Event {
        Event::Webauthn(event)
    }

    fn decide(
        &self,
        command: &CeremonyCommand,
        now: i64,
    ) -> Result<Vec<WebauthnEvent>, DomainError> {
        match command {
            // A challenge is random: one already seen is never started again.
            CeremonyCommand::Start(_) if self.started.is_some() => Err(DomainError::InvalidState),
            CeremonyCommand::Start(s) => Ok(vec![WebauthnEvent::Started(s.clone())]),
            CeremonyCommand::Finish { purpose } => {
                self.open(*purpose, now)?;
                Ok(vec![WebauthnEvent::Finished(WebauthnFinished {})])
            }
        }
    }

    fn evolve(mut self, event: &Event, _at: At) -> Self {
        let Event::Webauthn(e) = event else {
            return self;
        };
        match e {
            WebauthnEvent::Started(s) => self.started = Some(s.clone()),
            WebauthnEvent::Finished(_) => self.spent = true,
        }
        self
    }
}

/// The relying party after a change: `rp_id` and `origins` replace what
/// they name. An id is a lowercase domain (`shop.example`, `localhost`);
/// each origin is `scheme://host[:port]` exactly as browsers send it,
/// https (or http on this machine), on the id's domain or under it. An
/// empty id turns passkeys off (and takes no origins).
pub fn configured(
    current: &WebauthnConfigured,
    rp_id: Option<&str>,
    origins: Option<&[String]>,
) -> Result<WebauthnConfigured, DomainError> {
    let rp_id = rp_id.map_or_else(|| current.rp_id.clone(), |id| id.trim().to_string());
    let origins = origins.map_or_else(|| current.origins.clone(), <[String]>::to_vec);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if rp_id.len() > 253 || (!rp_id.is_empty() && !rp_id.split('.').all(label_ok)) {
        return Err(DomainError::InvalidInput("webauthnRpId"));
    }
    if origins.len() > MAX_ORIGINS || (rp_id.is_empty() && !origins.is_empty()) {
        return Err(DomainError::InvalidInput("webauthnOrigins"));
    }
    for origin in &origins {
        let ok = secure_url(origin).is_some_and(|u| {
            let host = u.host_str().unwrap_or_default();
            u.origin().ascii_serialization() == *origin
                && (host == rp_id || host.ends_with(&format!(".{rp_id}")))
        });
        if !ok {
            return Err(DomainError::InvalidInput("webauthnOrigins"));
        }
    }
    Ok(WebauthnConfigured { rp_id, origins })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::{T0, check};

    fn started(purpose: WebauthnPurpose) -> WebauthnStarted {
        WebauthnStarted {
            purpose,
            customer_id: Some("c_1".into()),
            state: "{}".into(),
            expires_at: T0 + CEREMONY_TTL_MS,
        }
    }

    #[test]
    fn a_ceremony_finishes_once_before_it_expires_for_its_own_purpose() {
        let given = [WebauthnEvent::Started(started(WebauthnPurpose::Login))];
        let finish = || CeremonyCommand::Finish {
            purpose: WebauthnPurpose::Login,
        };
        let done = Ok(vec![WebauthnEvent::Finished(WebauthnFinished {})]);
        check::<Ceremony>(&given, finish(), T0 + 1, done);
        check::<Ceremony>(
            &given,
            finish(),
            T0 + CEREMONY_TTL_MS,
            Err(DomainError::InvalidPasskey),
        );
        let register = CeremonyCommand::Finish {
            purpose: WebauthnPurpose::Register,
        };
        check::<Ceremony>(&given, register, T0 + 1, Err(DomainError::InvalidPasskey));
        let spent = [
            WebauthnEvent::Started(started(WebauthnPurpose::Login)),
            WebauthnEvent::Finished(WebauthnFinished {}),
        ];
        check::<Ceremony>(&spent, finish(), T0 + 1, Err(DomainError::InvalidPasskey));
        let again = CeremonyCommand::Start(started(WebauthnPurpose::Login));
        check::<Ceremony>(&given, again, T0 + 1, Err(DomainError::InvalidState));
    }

    #[test]
    fn the_relying_party_is_a_domain_and_its_origins_are_on_it() {
        let none = WebauthnConfigured::default();
        let ok = |id: &str, origins: &[&str]| {
            let origins: Vec<String> = origins.iter().map(|o| o.to_string()).collect();
            configured(&none, Some(id), Some(&origins))
        };
        assert!(ok("localhost", &["http://localhost:5173"]).is_ok());
        assert!(
            ok(
                "shop.example",
                &["https://shop.example", "https://www.shop.example"]
            )
            .is_ok()
        );
        let bad_id = Err(DomainError::InvalidInput("webauthnRpId"));
        for id in [
            "Shop.example",
            "https://shop.example",
            "shop.example:443",
            "-a.example",
            "a..b",
        ] {
            assert_eq!(ok(id, &[]), bad_id, "{id}");
        }
        let bad_origins = Err(DomainError::InvalidInput("webauthnOrigins"));
        for origin in [
            "http://shop.example",
            "https://evilshop.example",
            "https://shop.example/",
            "https://shop.example/path",
            "https://user@shop.example",
        ] {
            assert_eq!(ok("shop.example", &[origin]), bad_origins, "{origin}");
        }
        assert_eq!(ok("", &["https://shop.example"]), bad_origins);
        let many: Vec<String> = (0..=MAX_ORIGINS)
            .map(|i| format!("https://{i}.shop.example"))
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(ok("shop.example", &many), bad_origins);
        // What is not named keeps its value; an empty id turns passkeys off.
        let current = ok("shop.example", &["https://shop.example"]).unwrap();
        let renamed = configured(&current, None, Some(&[])).unwrap();
        assert_eq!(renamed.rp_id, "shop.example");
        assert!(configured(&current, Some(""), None).is_err());
        assert_eq!(configured(&current, Some(""), Some(&[])).unwrap(), none);
    }
}
