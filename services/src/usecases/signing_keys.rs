//! The signing-key ring: started by the first services instance, rotated
//! by the operator.

use authd_events::{
    Actor, RequestMeta, SigningKeyAdded, SigningKeyEvent, subject::signing_keys_subject,
};

use super::{Services, UseCase};
use crate::{
    commands::{Command, CommandEnvelope, RotateSigningKey, RotatedKey, Sent},
    domain::{
        aggregate::Aggregate,
        signing_keys::{KeyRing, KeyRingCommand},
    },
    error::{CommandError, DomainError},
    infra::tokens::kid_of,
};

/// Longest wait before a rotated key signs: a week.
const MAX_ACTIVATE_AFTER_SECS: u64 = 7 * 24 * 3600;

impl UseCase for RotateSigningKey {
    async fn run(
        self,
        s: &Services,
        env: &CommandEnvelope,
    ) -> Result<Sent<RotatedKey>, CommandError> {
        if self.activate_after_secs > MAX_ACTIVATE_AFTER_SECS {
            return Err(DomainError::InvalidInput("activateAfterSeconds").into());
        }
        if self.revoke_previous && self.activate_after_secs > 0 {
            // Nothing could sign until the new key is active.
            return Err(DomainError::InvalidInput("activateAfterSeconds").into());
        }
        let token_ttl_ms = s.config.access_token_ttl.as_millis() as i64;
        let subject = signing_keys_subject();
        let d =
            s.x.decide(env, &subject, |ring: &KeyRing, now| {
                let active_from = now + self.activate_after_secs as i64 * 1000;
                let next = match self.new_root {
                    Some(public_key) => SigningKeyAdded {
                        kid: kid_of(&public_key),
                        public_key,
                        generation: 0,
                        root_kid: kid_of(&public_key),
                        active_from,
                    },
                    None => s.signer.next_key(ring, active_from),
                };
                ring.decide(
                    &KeyRingCommand::Rotate {
                        next,
                        token_ttl_ms,
                        revoke_previous: self.revoke_previous,
                    },
                    now,
                )
            })
            .await?;
        if d.duplicate {
            return Err(CommandError::duplicate());
        }
        // This instance signs with it on time without waiting for its follower.
        s.signer.update(&d.state);
        let mut outcome = RotatedKey {
            kid: String::new(),
            active_from: 0,
            retired: Vec::new(),
        };
        for e in &d.events {
            match e {
                SigningKeyEvent::Added(a) => {
                    outcome.kid = a.kid.clone();
                    outcome.active_from = a.active_from;
                }
                SigningKeyEvent::Retired(r) => {
                    outcome.retired.push((r.kid.clone(), r.verify_until))
                }
            }
        }
        Ok(Sent {
            seq: d.seq,
            outcome,
        })
    }
}

impl Services {
    /// Puts this instance's root key in the ring when the ring is empty (the
    /// deployment's first start, or its first start since the ring
    /// existed: the key that signed tokens before stays the one that signs
    /// them), then takes the ring as it is. Refuses when this instance can
    /// sign with no trusted key of the ring: its signing key file is not
    /// the one the other services share. Answers the ring and the
    /// sequence of its last message.
    pub async fn start_signing(&self) -> Result<(KeyRing, u64), anyhow::Error> {
        let subject = signing_keys_subject();
        let env = CommandEnvelope {
            // The same for every instance with this root: a second start
            // of the ring is a duplicate, never a second first key.
            command_id: format!("signing-key-ring-start-{}", self.signer.root_kid()),
            tenant: authd_events::subject::SYSTEM_TENANT.into(),
            actor: Actor::System,
            request: RequestMeta {
                request_id: authd_events::new_id("r"),
                ip: None,
                user_agent: None,
            },
            command: Command::RotateSigningKey(RotateSigningKey {
                activate_after_secs: 0,
                revoke_previous: false,
                new_root: None,
            }),
        };
        let first = KeyRingCommand::Start(self.signer.first_key(self.now()));
        let d = self
            .x
            .decide(&env, &subject, |ring: &KeyRing, now| {
                ring.decide(&first, now)
            })
            .await
            .map_err(|e| anyhow::anyhow!("cannot start the signing-key ring: {e}"))?;
        let (ring, seq) = (d.state, d.seq);
        self.signer.update(&ring);
        if let Err(e) = self.signer.check(self.now()) {
            anyhow::bail!(
                "{e}. This instance's signing key file has kid {}: give it the file the other \
                 services instances use, or first publish this one with \
                 `authd admin rotate-signing-key --new-root-key-file <file>`",
                self.signer.root_kid()
            );
        }
        Ok((ring, seq))
    }
}
