//! `session.refresh` (rotation with reuse detection) and `session.revoke`
//! (a customer's logout).

use authd_events::{AggregateKind, RevokeReason, keyed_hash::secret_hash};

use super::{Services, UseCase, customer_actor, subject};
use crate::{
    commands::{CommandEnvelope, Done, EndSession, RefreshSession, Sent, Tokens},
    domain::{
        customer::Customer,
        session::{self, Session, SessionCommand},
    },
    error::{CommandError, DomainError},
    infra::tokens,
};

impl UseCase for RefreshSession {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Tokens>, CommandError> {
        let Some(session_id) = tokens::refresh_token_session(&self.refresh_token) else {
            return Err(DomainError::InvalidRefreshToken.into());
        };
        let session = subject(&env.tenant, AggregateKind::Session, session_id)?;
        let (_, current, _) = s.x.load::<Session>(&session, false).await?;
        // The customer may have ended this session (suspension, password reset).
        let (customer_allows, restricted) = match &current.customer_id {
            Some(customer_id) => {
                let customer = subject(&env.tenant, AggregateKind::Customer, customer_id)?;
                let (_, c, _) = s.x.load::<Customer>(&customer, false).await?;
                let allowed = c.session_allowed(session_id, current.started_seq);
                // A restricted session turns whole at the first refresh
                // after its customer added a factor.
                (allowed, s.restricted(&env.tenant, &c).await?)
            }
            None => (true, false),
        };
        let new_token = tokens::new_refresh_token(session_id);
        let refresh = SessionCommand::Refresh {
            presented_hash: secret_hash(&self.refresh_token),
            new_hash: secret_hash(&new_token),
            customer_allows,
        };
        let d = s.x.run::<Session>(env, &session, &refresh).await?;
        if session::reuse_detected(&d.events) {
            return Err(DomainError::RefreshTokenReused.into());
        }
        if d.duplicate {
            return Err(CommandError::duplicate());
        }
        let customer_id = d.state.customer_id.clone().unwrap_or_default();
        let tokens = s.issue_tokens(
            &env.tenant,
            &customer_id,
            session_id,
            new_token,
            d.state.expires_at,
            (d.seq, restricted),
        )?;
        Ok(Sent {
            seq: d.seq,
            outcome: tokens,
        })
    }
}

impl UseCase for EndSession {
    async fn run(self, s: &Services, env: &CommandEnvelope) -> Result<Sent<Done>, CommandError> {
        let session = subject(&env.tenant, AggregateKind::Session, &self.session_id)?;
        let revoke = SessionCommand::Revoke {
            reason: RevokeReason::Logout,
            by_customer: Some(customer_actor(env).to_string()),
            presented_hash: None,
        };
        let d = s.x.run::<Session>(env, &session, &revoke).await?;
        Ok(Sent {
            seq: d.seq,
            outcome: Done,
        })
    }
}
