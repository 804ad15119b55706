//! One external-provider login, keyed by the SHA-256 of its `state`: the
//! state is good for one callback, for the provider it was made for,
//! before it expires. Whatever the callback's outcome, the state is spent.

use authd_events::{
    AggregateKind, Event, ProviderFailure, ProviderLoginCompleted, ProviderLoginEvent,
    ProviderLoginFailed, ProviderLoginStarted,
};

use super::aggregate::{Aggregate, At};
use crate::error::DomainError;

/// How long a started login waits for its callback.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderLogin {
    pub started: Option<ProviderLoginStarted>,
    /// Completed or failed: the state is spent.
    pub spent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderLoginCommand {
    Start(ProviderLoginStarted),
    Complete(ProviderLoginCompleted),
    Fail(ProviderFailure),
}

impl ProviderLogin {
    /// The login a callback for `provider_id` at `now` may complete.
    pub fn open(&self, provider_id: &str, now: i64) -> Result<&ProviderLoginStarted, DomainError> {
        match &self.started {
            Some(s) if !self.spent && s.provider_id == provider_id && now < s.expires_at => Ok(s),
            _ => Err(DomainError::InvalidState),
        }
    }
}

impl Aggregate for ProviderLogin {
    const KIND: AggregateKind = AggregateKind::ProviderLogin;
    type Command = ProviderLoginCommand;
    type Event = ProviderLoginEvent;

    fn wrap(event: ProviderLoginEvent) -> Event {
        Event::ProviderLogin(event)
    }

    fn decide(
        &self,
        command: &ProviderLoginCommand,
        now: i64,
    ) -> Result<Vec<ProviderLoginEvent>, DomainError> {
        match command {
            // A state is random: one already seen is never started again.
            ProviderLoginCommand::Start(_) if self.started.is_some() => {
                Err(DomainError::InvalidState)
            }
            ProviderLoginCommand::Start(s) => Ok(vec![ProviderLoginEvent::Started(s.clone())]),
            ProviderLoginCommand::Complete(c) => {
                let started = self.started.as_ref().ok_or(DomainError::InvalidState)?;
                self.open(&started.provider_id, now)?;
                Ok(vec![ProviderLoginEvent::Completed(c.clone())])
            }
            ProviderLoginCommand::Fail(reason) => {
                let started = self.started.as_ref().ok_or(DomainError::InvalidState)?;
                self.open(&started.provider_id, now)?;
                Ok(vec![ProviderLoginEvent::Failed(ProviderLoginFailed {
                    reason: *reason,
                })])
            }
        }
    }

    fn evolve(mut self, event: &Event, _at: At) -> Self {
        let Event::ProviderLogin(e) = event else {
            return self;
        };
        match e {
            ProviderLoginEvent::Started(s) => self.started = Some(s.clone()),
            ProviderLoginEvent::Completed(_) | ProviderLoginEvent::Failed(_) => self.spent = true,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::{T0, check, state};

    fn started() -> ProviderLoginStarted {
        ProviderLoginStarted {
            provider_id: "ap_1".into(),
            return_to: "https://shop.example/cb".into(),
            expires_at: T0 + STATE_TTL_MS,
        }
    }

    fn completed() -> ProviderLoginCompleted {
        ProviderLoginCompleted {
            customer_id: "c_1".into(),
            session_id: "s_1".into(),
            new_customer: false,
        }
    }

    #[test]
    fn a_state_completes_once_before_it_expires_for_its_own_provider() {
        let given = [ProviderLoginEvent::Started(started())];
        check::<ProviderLogin>(
            &given,
            ProviderLoginCommand::Complete(completed()),
            T0 + 1,
            Ok(vec![ProviderLoginEvent::Completed(completed())]),
        );
        check::<ProviderLogin>(
            &given,
            ProviderLoginCommand::Complete(completed()),
            T0 + STATE_TTL_MS,
            Err(DomainError::InvalidState),
        );
        let spent = [
            ProviderLoginEvent::Started(started()),
            ProviderLoginEvent::Failed(ProviderLoginFailed {
                reason: ProviderFailure::ProviderError,
            }),
        ];
        check::<ProviderLogin>(
            &spent,
            ProviderLoginCommand::Complete(completed()),
            T0 + 1,
            Err(DomainError::InvalidState),
        );
        check::<ProviderLogin>(
            &[],
            ProviderLoginCommand::Fail(ProviderFailure::ProviderError),
            T0,
            Err(DomainError::InvalidState),
        );
        let s = state::<ProviderLogin>(&given);
        assert!(s.open("ap_1", T0).is_ok());
        assert_eq!(s.open("ap_2", T0), Err(DomainError::InvalidState));
        check::<ProviderLogin>(
            &given,
            ProviderLoginCommand::Start(started()),
            T0,
            Err(DomainError::InvalidState),
        );
    }
}
