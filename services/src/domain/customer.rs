//! The customer aggregate: registration, credentials, status, lockout, and
//! the record of login attempts.

use authd_events::{
    AggregateKind, CustomerEvent, CustomerReactivated, CustomerRegistered, CustomerSuspended,
    CustomerUnlocked, EmailVerified, Event, LoginFailureReason, LoginMethod, LoginSucceeded,
    MfaFailureReason, PasswordResetRequested, Personal, SecretHash, SessionsEnded,
};

use super::customer_password::{HOUR_MS, proven_login, reset_throttled};
use super::{
    aggregate::{Aggregate, At},
    customer_address::{self, AddressCommand},
    customer_erasure, customer_metafields,
    customer_mfa::{self, MfaCommand, NewChallenge},
    customer_password::{
        activate, activation_requested, password_attempt, reset_password, update_password,
        wrong_password,
    },
    customer_profile::{ProfileChange, change_profile, update_account},
    customer_state::{Profile, verification_requested},
    customer_tags,
};
pub use super::{
    customer_password::{login_outcome, reset_throttled_after},
    customer_state::Customer,
    lockout::{BASE_LOCK_MS, MAX_LOCK_MS, lock_duration},
};
use crate::error::DomainError;

pub enum CustomerCommand {
    Register {
        email: String,
        password_hash: String,
        email_verified: bool,
        session: Option<(String, LoginMethod)>,
        verification: Option<(SecretHash, i64)>,
        /// Checked and normalized already (`ProfileChange::applied_to`).
        profile: Profile,
        /// An admin's invitation: no password yet, this activation token.
        activation: Option<(SecretHash, i64)>,
    },
    /// Invites again a customer who has not set a password yet.
    RequestActivation {
        token_hash: SecretHash,
        expires_at: i64,
    },
    /// Sets the first password with an invitation's token; every session
    /// but `keep_session` (the one the activation signs in with) ends.
    Activate {
        token_hash: SecretHash,
        new_password_hash: String,
        keep_session: Option<String>,
    },
    /// The signed-in customer changes their profile and (Storefront
    /// `customerUpdate`, which needs no current password: the access
    /// token is the proof) their password, which ends every other session
    /// but `keep_session`.
    UpdateAccount {
        change: ProfileChange,
        new_password_hash: Option<String>,
        keep_session: Option<String>,
        /// A new address (its claim moves in the same batch) and the
        /// verification link mailed to it.
        new_email: Option<(String, SecretHash, i64)>,
    },
    /// The password was checked outside (it is slow); this records the outcome.
    RecordPasswordLogin {
        password_matches: bool,
        session_id: String,
        lockout_threshold: u32,
        /// The project refuses logins until the email is verified.
        verification_required: bool,
        /// Who tries (`lockout::client_key`).
        client: u64,
        /// The challenge recorded instead of a sign-in when the customer
        /// has a second factor.
        challenge: NewChallenge,
    },
    /// A one-time code for the customer's email was just used.
    RecordOtpLogin {
        session_id: String,
        challenge: NewChallenge,
    },
    /// An external provider vouched for the customer; `email_proven` when
    /// it asserts the address is verified. `challenge`: as for a
    /// password; `None` only where the customer is signed in already
    /// (Shopify Multipass from a session).
    RecordProviderLogin {
        session_id: String,
        email_proven: bool,
        challenge: Option<NewChallenge>,
    },
    /// Second factors (`customer_mfa`).
    Mfa(MfaCommand),
    Passkey(super::customer_passkey::PasskeyCommand),
    Suspend {
        reason: Option<String>,
    },
    Reactivate,
    Unlock,
    RequestVerification {
        token_hash: SecretHash,
        expires_at: i64,
    },
    VerifyEmail {
        token_hash: SecretHash,
    },
    RequestPasswordReset {
        token_hash: SecretHash,
        expires_at: i64,
    },
    /// `keep_session`: the session the reset signs in with (Storefront
    /// `customerReset`), the only one not ended.
    ResetPassword {
        token_hash: SecretHash,
        new_password_hash: String,
        keep_session: Option<String>,
    },
    /// The current password was checked outside; a wrong one counts
    /// toward the lockout like a failed login (and the new one was never
    /// hashed).
    UpdatePassword {
        current_matches: bool,
        new_password_hash: String,
        keep_session: Option<String>,
        lockout_threshold: u32,
        client: u64,
    },
    /// The signed-in customer's mailing addresses.
    Address(AddressCommand),
    /// An admin sets the customer's tags (the whole list).
    SetTags(Vec<String>),
    /// The customer (or an admin) sets metafield values.
    SetMetafields(customer_metafields::SetMetafields),
    /// Forgets the customer (`customer_erasure`).
    Erase {
        reason: String,
    },
    /// The erasure's work is done.
    CompleteErasure {
        key_destroyed: bool,
        mail_jobs_dropped: u32,
        plaintext_erased: Vec<u64>,
    },
}

fn decide(
    s: &Customer,
    cmd: &CustomerCommand,
    now: i64,
) -> Result<Vec<CustomerEvent>, DomainError> {
    use CustomerCommand as C;
    if !s.registered && !matches!(cmd, C::Register { .. }) {
        return Err(unregistered(cmd));
    }
    if s.erased {
        // An erased customer is no one: only the erasure's own steps.
        return match cmd {
            C::Erase { reason } => customer_erasure::erase(s, reason),
            C::CompleteErasure {
                key_destroyed,
                mail_jobs_dropped,
                plaintext_erased,
            } => {
                customer_erasure::complete(s, *key_destroyed, *mail_jobs_dropped, plaintext_erased)
            }
            _ => Err(unregistered(cmd)),
        };
    }
    match cmd {
        C::Register {
            email,
            password_hash,
            email_verified,
            session,
            verification,
            profile,
            activation,
        } => {
            let mut events = register(
                s,
                email,
                password_hash,
                *email_verified,
                session,
                verification,
            )?;
            events.extend(change_profile(s, profile));
            if let Some((token_hash, expires_at)) = activation {
                events.push(activation_requested(*token_hash, *expires_at));
            }
            Ok(events)
        }
        C::RequestActivation { .. } | C::Activate { .. } if !s.password_hash.is_empty() => {
            Err(DomainError::AlreadyEnabled)
        }
        C::RequestActivation {
            token_hash,
            expires_at,
        } => Ok(vec![activation_requested(*token_hash, *expires_at)]),
        C::Activate {
            token_hash,
            new_password_hash,
            keep_session,
        } => activate(s, token_hash, new_password_hash, keep_session, now),
        C::UpdateAccount {
            change,
            new_password_hash,
            keep_session,
            new_email,
        } => update_account(s, change, new_email, new_password_hash, keep_session),
        C::RecordPasswordLogin {
            password_matches,
            session_id,
            lockout_threshold,
            verification_required,
            client,
            challenge,
        } => password_attempt(
            s,
            *password_matches,
            (session_id, challenge),
            (*lockout_threshold, *client),
            *verification_required,
            now,
        ),
        C::RecordOtpLogin {
            session_id,
            challenge,
        } => proven_login(s, session_id, LoginMethod::Otp, true, Some(challenge)),
        C::Mfa(m) => customer_mfa::decide(s, m, now),
        C::Passkey(p) => super::customer_passkey::decide(s, p, now),
        C::Address(a) => customer_address::decide(s, a),
        C::SetTags(tags) => customer_tags::set(s, tags),
        C::SetMetafields(m) => customer_metafields::set(s, m),
        C::Erase { reason } => customer_erasure::erase(s, reason),
        C::CompleteErasure {
            key_destroyed,
            mail_jobs_dropped,
            plaintext_erased,
        } => customer_erasure::complete(s, *key_destroyed, *mail_jobs_dropped, plaintext_erased),
        C::RecordProviderLogin {
            session_id,
            email_proven,
            challenge,
        } => proven_login(
            s,
            session_id,
            LoginMethod::Provider,
            *email_proven,
            challenge.as_ref(),
        ),
        C::Suspend { .. } | C::Reactivate | C::Unlock => Ok(support(s, cmd)),
        C::RequestVerification {
            token_hash,
            expires_at,
        } if !s.email_verified => Ok(vec![verification_requested(*token_hash, *expires_at)]),
        C::RequestVerification { .. } => Err(DomainError::AlreadyVerified),
        C::VerifyEmail { token_hash } => match s.verification {
            Some((hash, expires_at)) if hash == *token_hash && now < expires_at => {
                Ok(vec![CustomerEvent::EmailVerified(EmailVerified {})])
            }
            _ => Err(DomainError::InvalidToken),
        },
        // Throttled per address as codes are; the requester hears the
        // same either way (a throttled request records and mails nothing).
        C::RequestPasswordReset { .. } if reset_throttled(s, now) => Ok(vec![]),
        C::RequestPasswordReset {
            token_hash,
            expires_at,
        } => Ok(vec![CustomerEvent::PasswordResetRequested(
            PasswordResetRequested {
                token_hash: *token_hash,
                expires_at: *expires_at,
            },
        )]),
        C::ResetPassword {
            token_hash,
            new_password_hash,
            keep_session,
        } => reset_password(s, token_hash, new_password_hash, keep_session, now),
        C::UpdatePassword {
            current_matches,
            new_password_hash,
            keep_session,
            lockout_threshold,
            client,
        } => {
            if s.locked_for(*client, now).is_some() || !current_matches {
                let threshold = (*lockout_threshold, *client);
                return Ok(wrong_password(s, *current_matches, threshold, now));
            }
            Ok(update_password(new_password_hash, keep_session))
        }
    }
}

fn register(
    s: &Customer,
    email: &str,
    password_hash: &str,
    email_verified: bool,
    session: &Option<(String, LoginMethod)>,
    verification: &Option<(SecretHash, i64)>,
) -> Result<Vec<CustomerEvent>, DomainError> {
    if s.registered {
        return Err(DomainError::EmailTaken);
    }
    let mut events = vec![CustomerEvent::Registered(CustomerRegistered {
        email: Personal::plain(email.to_string()),
        password_hash: password_hash.to_string(),
        email_verified,
    })];
    if let Some((token_hash, expires_at)) = verification {
        events.push(verification_requested(*token_hash, *expires_at));
    }
    if let Some((session_id, method)) = session {
        events.push(CustomerEvent::LoginSucceeded(LoginSucceeded {
            session_id: session_id.to_string(),
            method: *method,
        }));
    }
    Ok(events)
}

/// Support operations: each is a no-op when already in effect.
fn support(s: &Customer, cmd: &CustomerCommand) -> Vec<CustomerEvent> {
    use CustomerCommand as C;
    match cmd {
        C::Suspend { reason } if !s.suspended => vec![
            CustomerEvent::Suspended(CustomerSuspended {
                reason: reason.clone(),
            }),
            CustomerEvent::SessionsEnded(SessionsEnded { except: None }),
        ],
        C::Reactivate if s.suspended => vec![CustomerEvent::Reactivated(CustomerReactivated {})],
        C::Unlock if s.locked_until > 0 || s.failed_logins > 0 || !s.clients.is_empty() => {
            vec![CustomerEvent::Unlocked(CustomerUnlocked {})]
        }
        _ => vec![],
    }
}

/// What a command answers for a customer that was never registered.
fn unregistered(cmd: &CustomerCommand) -> DomainError {
    use CustomerCommand as C;
    match cmd {
        C::RecordPasswordLogin { .. }
        | C::RecordOtpLogin { .. }
        | C::RecordProviderLogin { .. } => DomainError::InvalidCredentials,
        C::VerifyEmail { .. } | C::ResetPassword { .. } | C::Activate { .. } => {
            DomainError::InvalidToken
        }
        _ => DomainError::CustomerNotFound,
    }
}

impl Aggregate for Customer {
    const KIND: AggregateKind = AggregateKind::Customer;
    type Command = CustomerCommand;
    type Event = CustomerEvent;

    fn decide(
        &self,
        command: &CustomerCommand,
        now: i64,
    ) -> Result<Vec<CustomerEvent>, DomainError> {
        decide(self, command, now)
    }

    fn wrap(event: CustomerEvent) -> Event {
        Event::Customer(event)
    }

    fn evolve(mut self, event: &Event, at: At) -> Self {
        let Event::Customer(e) = event else {
            return self;
        };
        // `updated_at` follows changes to the account (as the read model's
        // column does), not sign-ins or pending requests.
        if matches!(
            e,
            CustomerEvent::Registered(_)
                | CustomerEvent::Locked(_)
                | CustomerEvent::Unlocked(_)
                | CustomerEvent::Suspended(_)
                | CustomerEvent::Reactivated(_)
                | CustomerEvent::PasswordChanged(_)
                | CustomerEvent::EmailVerified(_)
                | CustomerEvent::ProfileChanged(_)
                | CustomerEvent::EmailChanged(_)
        ) {
            self.updated_at = at.time;
        }
        match e {
            CustomerEvent::Registered(r) => {
                self.registered = true;
                self.email = r.email.as_plain().unwrap_or_default().to_string();
                self.password_hash = r.password_hash.clone();
                self.email_verified = r.email_verified;
                self.created_at = at.time;
            }
            CustomerEvent::LoginSucceeded(_) => {
                self.failed_logins = 0;
                self.locks = 0;
                self.clients.succeeded(at.client);
            }
            CustomerEvent::LoginFailed(f) => {
                if f.reason == LoginFailureReason::WrongPassword {
                    self.failed_logins += 1;
                    self.clients.failed(at.client);
                }
            }
            CustomerEvent::MfaFailed(f) => {
                if f.reason != MfaFailureReason::Locked {
                    self.failed_logins += 1;
                    self.clients.failed(at.client);
                }
                self.mfa.evolve(e);
            }
            CustomerEvent::MfaPassed(_) => {
                self.failed_logins = 0;
                self.locks = 0;
                self.clients.succeeded(at.client);
                self.mfa.evolve(e);
            }
            CustomerEvent::TotpEnrolled(_)
            | CustomerEvent::TotpConfirmed(_)
            | CustomerEvent::TotpDisabled(_)
            | CustomerEvent::RecoveryCodesGenerated(_)
            | CustomerEvent::RecoveryCodeUsed(_)
            | CustomerEvent::MfaChallenged(_)
            | CustomerEvent::MfaReset(_)
            | CustomerEvent::PasskeyRegistered(_)
            | CustomerEvent::PasskeyRemoved(_)
            | CustomerEvent::PasskeyUsed(_) => self.mfa.evolve(e),
            CustomerEvent::ClientLocked(l) => self.clients.locked(at.client, l.until),
            CustomerEvent::Locked(l) => {
                self.locked_until = l.until;
                self.locks += 1;
                self.failed_logins = 0;
            }
            CustomerEvent::Unlocked(_) => {
                self.locked_until = 0;
                self.failed_logins = 0;
                self.locks = 0;
                self.clients.clear();
            }
            CustomerEvent::Suspended(_) => self.suspended = true,
            CustomerEvent::Reactivated(_) => self.suspended = false,
            CustomerEvent::SessionsEnded(e) => {
                self.sessions_ended_seq = at.seq;
                self.sessions_ended_except = e.except.clone();
            }
            CustomerEvent::PasswordChanged(p) => {
                self.password_hash = p.password_hash.clone();
                self.reset = None;
                if !p.password_hash.is_empty() {
                    self.activation = None;
                }
            }
            CustomerEvent::ActivationRequested(a) => {
                self.activation = Some((a.token_hash, a.expires_at));
            }
            CustomerEvent::EmailVerificationRequested(r) => {
                self.verification = Some((r.token_hash, r.expires_at));
            }
            CustomerEvent::EmailVerified(_) => {
                self.email_verified = true;
                self.verification = None;
            }
            CustomerEvent::ProfileChanged(p) => self.profile = Profile::from_event(p),
            CustomerEvent::EmailChanged(e) => {
                self.email = e.email.as_plain().unwrap_or_default().to_string();
                self.email_verified = false;
                self.verification = None;
            }
            CustomerEvent::ProviderLinked(_) | CustomerEvent::ProviderLoginFailed(_) => {}
            CustomerEvent::AddressAdded(_)
            | CustomerEvent::AddressUpdated(_)
            | CustomerEvent::AddressRemoved(_)
            | CustomerEvent::DefaultAddressChanged(_) => customer_address::evolve(&mut self, e),
            CustomerEvent::TagsSet(t) => self.tags = t.tags.clone(),
            CustomerEvent::MetafieldsSet(m) => customer_metafields::evolve(&mut self, m, at.time),
            CustomerEvent::Erased(_) => self = customer_erasure::erased(self),
            CustomerEvent::ErasureCompleted(_) => self.erasure_completed = true,
            CustomerEvent::PasswordResetRequested(r) => {
                self.reset = Some((r.token_hash, r.expires_at));
                self.reset_requested_at.retain(|t| at.time - t < HOUR_MS);
                self.reset_requested_at.push(at.time);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregate::given::{self, T0};
    use authd_events::{
        ClientLocked, CustomerLocked, EmailVerificationRequested, LoginFailed, PasswordChangeVia,
        PasswordChanged,
    };

    fn registered() -> CustomerEvent {
        CustomerEvent::Registered(CustomerRegistered {
            email: Personal::plain("ann@example.com"),
            password_hash: "$argon2id$hash".into(),
            email_verified: false,
        })
    }
    fn succeeded(sid: &str, method: LoginMethod) -> CustomerEvent {
        CustomerEvent::LoginSucceeded(LoginSucceeded {
            session_id: sid.into(),
            method,
        })
    }
    fn failed(reason: LoginFailureReason) -> CustomerEvent {
        CustomerEvent::LoginFailed(LoginFailed {
            method: LoginMethod::Password,
            reason,
        })
    }
    fn wrong() -> CustomerEvent {
        failed(LoginFailureReason::WrongPassword)
    }
    fn locked_until(until: i64) -> CustomerEvent {
        CustomerEvent::Locked(CustomerLocked { until })
    }
    fn suspended() -> CustomerEvent {
        CustomerEvent::Suspended(CustomerSuspended { reason: None })
    }
    fn ended(except: Option<&str>) -> CustomerEvent {
        CustomerEvent::SessionsEnded(SessionsEnded {
            except: except.map(Into::into),
        })
    }
    fn register(session: Option<&str>) -> CustomerCommand {
        CustomerCommand::Register {
            email: "ann@example.com".into(),
            password_hash: "$argon2id$hash".into(),
            email_verified: false,
            session: session.map(|s| (s.into(), LoginMethod::Password)),
            verification: None,
            profile: Profile::default(),
            activation: None,
        }
    }
    fn login(ok: bool) -> When {
        login_at(ok, T0)
    }
    fn login_at(ok: bool, now: i64) -> When {
        login_from(ok, now, 0)
    }
    /// A password login from `client` (the given events came from client 0).
    fn login_from(ok: bool, now: i64, client: u64) -> When {
        When(
            CustomerCommand::RecordPasswordLogin {
                password_matches: ok,
                session_id: "s_1".into(),
                lockout_threshold: 5,
                verification_required: false,
                client,
                challenge: challenge(),
            },
            now,
        )
    }
    pub(crate) fn challenge() -> NewChallenge {
        NewChallenge {
            token_hash: [5; 32],
            expires_at: T0 + 300_000,
            storefront: false,
        }
    }
    fn client_locked(until: i64) -> CustomerEvent {
        CustomerEvent::ClientLocked(ClientLocked { until })
    }

    #[test]
    fn a_project_requiring_verification_refuses_unverified_logins() {
        let cmd = CustomerCommand::RecordPasswordLogin {
            password_matches: true,
            session_id: "s_1".into(),
            lockout_threshold: 5,
            verification_required: true,
            client: 0,
            challenge: challenge(),
        };
        let then = decide(&state(&[registered()]), cmd).unwrap();
        assert_eq!(login_outcome(&then, 0), Err(DomainError::EmailNotVerified));
    }

    /// A command and the time it arrives (T0 unless said).
    struct When(CustomerCommand, i64);
    impl From<CustomerCommand> for When {
        fn from(c: CustomerCommand) -> Self {
            When(c, T0)
        }
    }

    fn state(given: &[CustomerEvent]) -> Customer {
        given::state(given)
    }

    fn decide(s: &Customer, when: impl Into<When>) -> Result<Vec<CustomerEvent>, DomainError> {
        let When(command, now) = when.into();
        s.decide(&command, now)
    }

    #[track_caller]
    fn check(
        given: &[CustomerEvent],
        when: impl Into<When>,
        then: Result<Vec<CustomerEvent>, DomainError>,
    ) {
        let When(command, now) = when.into();
        given::check::<Customer>(given, command, now, then);
    }

    #[test]
    fn registering_records_the_customer_and_its_first_session() {
        check(
            &[],
            register(Some("s_1")),
            Ok(vec![registered(), succeeded("s_1", LoginMethod::Password)]),
        );
        check(&[], register(None), Ok(vec![registered()]));
    }

    #[test]
    fn a_customer_registers_once() {
        check(
            &[registered()],
            register(None),
            Err(DomainError::EmailTaken),
        );
    }

    #[test]
    fn right_password_with_nothing_to_reset_records_nothing_on_the_customer() {
        // The session's start is the sign-in's record; the customer only
        // guards it (see `usecases::login_password`).
        check(&[registered()], login(true), Ok(vec![]));
        let then = decide(&state(&[registered()]), login(true)).unwrap();
        assert_eq!(login_outcome(&then, 0), Ok(()));
    }

    #[test]
    fn right_password_after_failures_records_a_success_that_resets_them() {
        check(
            &[registered(), wrong()],
            login(true),
            Ok(vec![succeeded("s_1", LoginMethod::Password)]),
        );
        // A lock that ran out still counts toward the next one's length.
        check(
            &[registered(), locked_until(T0 - 1)],
            login(true),
            Ok(vec![succeeded("s_1", LoginMethod::Password)]),
        );
    }

    #[test]
    fn a_success_is_left_out_exactly_when_it_would_change_nothing() {
        let histories: [&[CustomerEvent]; 6] = [
            &[registered()],
            &[registered(), wrong()],
            &[
                registered(),
                wrong(),
                succeeded("s_0", LoginMethod::Password),
            ],
            &[registered(), locked_until(T0 - 1)],
            &[registered(), CustomerEvent::Unlocked(CustomerUnlocked {})],
            &[registered(), wrong(), client_locked(T0 - 1)],
        ];
        for given in histories {
            for client in [0, 9] {
                let s = state(given);
                let success = CustomerEvent::LoginSucceeded(LoginSucceeded {
                    session_id: "s_1".into(),
                    method: LoginMethod::Password,
                });
                let at = crate::domain::aggregate::At {
                    seq: 99,
                    time: T0,
                    client,
                };
                let unchanged = s.clone().evolve(&Event::Customer(success), at) == s;
                let then = decide(&s, login_from(true, T0, client)).unwrap();
                assert_eq!(
                    then.is_empty(),
                    unchanged,
                    "{given:?} from {client}: {then:?}"
                );
            }
        }
    }

    #[test]
    fn wrong_password_is_recorded_and_answered_as_invalid_credentials() {
        let then = decide(&state(&[registered()]), login(false)).unwrap();
        assert_eq!(then, vec![wrong()]);
        assert_eq!(
            login_outcome(&then, 0),
            Err(DomainError::InvalidCredentials)
        );
    }

    #[test]
    fn fifth_failed_login_from_a_client_locks_that_client_only() {
        // a failed login is both a fact to record and an answer to give
        let given = [registered(), wrong(), wrong(), wrong(), wrong()];
        check(
            &given,
            login(false),
            Ok(vec![wrong(), client_locked(T0 + BASE_LOCK_MS)]),
        );
        // Another client's fifth is only its first.
        check(&given, login_from(false, T0, 9), Ok(vec![wrong()]));
        // Locked, client 0 is refused even the right password; the owner,
        // elsewhere, signs in.
        let mut locked = given.to_vec();
        locked.extend([wrong(), client_locked(T0 + BASE_LOCK_MS)]);
        let s = state(&locked);
        assert_eq!(
            decide(&s, login(true)),
            Ok(vec![failed(LoginFailureReason::Locked)])
        );
        assert_eq!(s.locked_for(0, T0), Some(T0 + BASE_LOCK_MS));
        assert_eq!(
            decide(&s, login_from(true, T0, 9)),
            Ok(vec![succeeded("s_1", LoginMethod::Password)])
        );
    }

    #[test]
    fn the_whole_account_locks_only_at_ten_times_the_threshold() {
        let mut given = vec![registered()];
        given.extend((0..49).map(|_| wrong()));
        check(
            &given,
            login_from(false, T0, 9),
            Ok(vec![wrong(), locked_until(T0 + BASE_LOCK_MS)]),
        );
        given.pop();
        check(&given, login_from(false, T0, 9), Ok(vec![wrong()]));
    }

    #[test]
    fn a_locked_account_refuses_even_the_right_password_until_the_lock_ends() {
        let given = [registered(), locked_until(T0 + 10)];
        let then = decide(&state(&given), login(true)).unwrap();
        assert_eq!(then, vec![failed(LoginFailureReason::Locked)]);
        assert_eq!(
            login_outcome(&then, T0 + 10),
            Err(DomainError::AccountLocked { until: T0 + 10 })
        );
        check(
            &given,
            login_at(true, T0 + 10),
            Ok(vec![succeeded("s_1", LoginMethod::Password)]),
        );
    }

    #[test]
    fn each_lock_lasts_longer_up_to_an_hour() {
        let mut given = vec![registered()];
        given.extend([wrong(), wrong(), wrong(), wrong(), wrong()]);
        given.push(client_locked(T0 - 1));
        given.extend([wrong(), wrong(), wrong(), wrong()]);
        check(
            &given,
            login(false),
            Ok(vec![wrong(), client_locked(T0 + 2 * BASE_LOCK_MS)]),
        );
        assert_eq!(lock_duration(30), MAX_LOCK_MS);
    }

    #[test]
    fn unlock_and_success_reset_the_count() {
        let s = state(&[registered(), wrong(), wrong(), locked_until(T0 + 5)]);
        assert_eq!(
            decide(&s, CustomerCommand::Unlock),
            Ok(vec![CustomerEvent::Unlocked(CustomerUnlocked {})])
        );
        let s = state(&[registered(), wrong(), succeeded("s", LoginMethod::Password)]);
        assert_eq!((s.failed_logins, s.locks), (0, 0));
        assert_eq!(decide(&s, CustomerCommand::Unlock), Ok(vec![]));
    }

    #[test]
    fn a_suspended_customer_cannot_log_in_by_any_method() {
        let given = [registered(), suspended(), ended(None)];
        let then = decide(&state(&given), login(true)).unwrap();
        assert_eq!(login_outcome(&then, 0), Err(DomainError::AccountSuspended));
        // the wrong password still only hears INVALID_CREDENTIALS
        let then = decide(&state(&given), login(false)).unwrap();
        assert_eq!(
            login_outcome(&then, 0),
            Err(DomainError::InvalidCredentials)
        );
        let then = decide(
            &state(&given),
            CustomerCommand::RecordOtpLogin {
                session_id: "s".into(),
                challenge: challenge(),
            },
        )
        .unwrap();
        assert_eq!(login_outcome(&then, 0), Err(DomainError::AccountSuspended));
    }

    #[test]
    fn suspending_ends_every_session_and_reactivating_allows_new_ones() {
        check(
            &[registered()],
            CustomerCommand::Suspend { reason: None },
            Ok(vec![suspended(), ended(None)]),
        );
        check(
            &[registered(), suspended()],
            CustomerCommand::Suspend { reason: None },
            Ok(vec![]),
        );
        let s = state(&[registered(), suspended(), ended(None)]);
        assert!(!s.session_allowed("s_old", 1));
        let s = state(&[
            registered(),
            suspended(),
            ended(None),
            CustomerEvent::Reactivated(CustomerReactivated {}),
        ]);
        assert!(!s.session_allowed("s_old", 1));
        assert!(s.session_allowed("s_new", 5));
    }

    #[test]
    fn an_otp_login_proves_the_email_and_undoes_a_pre_hijacking() {
        let otp = || CustomerCommand::RecordOtpLogin {
            session_id: "s".into(),
            challenge: challenge(),
        };
        // Registered with a password nobody proved was the owner's: the
        // password goes, every earlier session ends, the new one stays.
        check(
            &[registered()],
            otp(),
            Ok(vec![
                CustomerEvent::EmailVerified(EmailVerified {}),
                CustomerEvent::PasswordChanged(PasswordChanged {
                    password_hash: String::new(),
                    via: PasswordChangeVia::Unproven,
                }),
                ended(Some("s")),
                succeeded("s", LoginMethod::Otp),
            ]),
        );
        let s = state(&[registered(), succeeded("s_attacker", LoginMethod::Password)]);
        let events = s.decide(&otp(), T0).unwrap();
        let s = state(&[
            registered(),
            succeeded("s_attacker", LoginMethod::Password),
            events[0].clone(),
            events[1].clone(),
            events[2].clone(),
        ]);
        assert!(s.password_hash.is_empty());
        assert!(s.email_verified);
        assert!(!s.session_allowed("s_attacker", 2));
        assert!(s.session_allowed("s", 3));
        // Once proven, a code login changes nothing else.
        let verified = CustomerEvent::EmailVerified(EmailVerified {});
        check(
            &[registered(), verified],
            otp(),
            Ok(vec![succeeded("s", LoginMethod::Otp)]),
        );
    }

    #[test]
    fn verification_tokens_must_match_and_be_fresh() {
        let req = CustomerEvent::EmailVerificationRequested(EmailVerificationRequested {
            token_hash: [1; 32],
            expires_at: T0 + 100,
        });
        let verify = |h, now| {
            When(
                CustomerCommand::VerifyEmail {
                    token_hash: [h; 32],
                },
                now,
            )
        };
        check(
            &[registered(), req.clone()],
            verify(1, T0),
            Ok(vec![CustomerEvent::EmailVerified(EmailVerified {})]),
        );
        check(
            &[registered(), req.clone()],
            verify(2, T0),
            Err(DomainError::InvalidToken),
        );
        check(
            &[registered(), req.clone()],
            verify(1, T0 + 100),
            Err(DomainError::InvalidToken),
        );
        let verified = CustomerEvent::EmailVerified(EmailVerified {});
        check(
            &[registered(), req, verified],
            verify(1, T0),
            Err(DomainError::InvalidToken),
        );
    }

    #[test]
    fn reset_links_are_throttled_per_address_like_codes() {
        let requested = |expires_at| {
            CustomerEvent::PasswordResetRequested(PasswordResetRequested {
                token_hash: [1; 32],
                expires_at,
            })
        };
        let request = |now| {
            When(
                CustomerCommand::RequestPasswordReset {
                    token_hash: [1; 32],
                    expires_at: now + 100,
                },
                now,
            )
        };
        // (every given event happened at T0)
        check(
            &[registered(), requested(1)],
            request(T0 + 29_999),
            Ok(vec![]),
        );
        check(
            &[registered(), requested(1)],
            request(T0 + 30_000),
            Ok(vec![requested(T0 + 30_100)]),
        );
        let five: Vec<_> = std::iter::once(registered())
            .chain((0..5).map(requested))
            .collect();
        check(&five, request(T0 + 60_000), Ok(vec![]));
        check(
            &five,
            request(T0 + HOUR_MS),
            Ok(vec![requested(T0 + HOUR_MS + 100)]),
        );
    }

    #[test]
    fn a_reset_token_works_once_ends_sessions_and_lifts_a_lock() {
        let req = CustomerEvent::PasswordResetRequested(PasswordResetRequested {
            token_hash: [1; 32],
            expires_at: T0 + 100,
        });
        let reset = |h, now| {
            When(
                CustomerCommand::ResetPassword {
                    token_hash: [h; 32],
                    new_password_hash: "new".into(),
                    keep_session: None,
                },
                now,
            )
        };
        let changed = CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: "new".into(),
            via: PasswordChangeVia::Reset,
        });
        check(
            &[registered(), wrong(), req.clone()],
            reset(1, T0),
            Ok(vec![
                changed.clone(),
                ended(None),
                CustomerEvent::Unlocked(CustomerUnlocked {}),
                // The link reached the inbox: the address is proven.
                CustomerEvent::EmailVerified(EmailVerified {}),
            ]),
        );
        let verified = CustomerEvent::EmailVerified(EmailVerified {});
        check(
            &[registered(), verified, req.clone()],
            reset(1, T0),
            Ok(vec![changed.clone(), ended(None)]),
        );
        check(
            &[registered(), req.clone(), changed.clone(), ended(None)],
            reset(1, T0),
            Err(DomainError::InvalidToken),
        );
        check(
            &[registered(), req.clone()],
            reset(1, T0 + 100),
            Err(DomainError::InvalidToken),
        );
        check(
            &[registered(), req],
            reset(9, T0),
            Err(DomainError::InvalidToken),
        );
        check(&[], reset(1, T0), Err(DomainError::InvalidToken));
    }

    #[test]
    fn updating_the_password_needs_the_current_one_and_may_end_other_sessions() {
        let update = |ok, keep: Option<&str>| CustomerCommand::UpdatePassword {
            current_matches: ok,
            new_password_hash: "new".into(),
            keep_session: keep.map(Into::into),
            lockout_threshold: 5,
            client: 0,
        };
        let changed = CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: "new".into(),
            via: PasswordChangeVia::Update,
        });
        // A wrong current password is a failed attempt, and locks like one.
        check(&[registered()], update(false, None), Ok(vec![wrong()]));
        check(
            &[registered(), wrong(), wrong(), wrong(), wrong()],
            update(false, None),
            Ok(vec![wrong(), client_locked(T0 + BASE_LOCK_MS)]),
        );
        // During a lock not even the right one changes anything.
        check(
            &[registered(), locked_until(T0 + 10)],
            update(true, None),
            Ok(vec![failed(LoginFailureReason::Locked)]),
        );
        check(
            &[registered()],
            update(true, None),
            Ok(vec![changed.clone()]),
        );
        check(
            &[registered()],
            update(true, Some("s_1")),
            Ok(vec![changed, ended(Some("s_1"))]),
        );
        let s = state(&[registered(), ended(Some("s_1"))]);
        assert!(s.session_allowed("s_1", 1));
        assert!(!s.session_allowed("s_2", 1));
    }

    #[test]
    fn a_profile_is_recorded_whole_and_only_when_it_changes() {
        let ann = Profile {
            first_name: Some("Ann".into()),
            phone: Some("+16135551111".into()),
            ..Profile::default()
        };
        let mut with_profile = register(None);
        if let CustomerCommand::Register { profile, .. } = &mut with_profile {
            *profile = ann.clone();
        }
        let events = decide(&Customer::default(), with_profile).unwrap();
        assert_eq!(
            events.last(),
            Some(&CustomerEvent::ProfileChanged(ann.to_event()))
        );
        let given = [registered(), CustomerEvent::ProfileChanged(ann.to_event())];
        let update =
            |change: ProfileChange, password: Option<&str>| CustomerCommand::UpdateAccount {
                change,
                new_password_hash: password.map(Into::into),
                keep_session: Some("s_new".into()),
                new_email: None,
            };
        // The same values again: nothing to record.
        let same = ProfileChange {
            first_name: Some(Some("Ann".into())),
            ..Default::default()
        };
        check(&given, update(same, None), Ok(vec![]));
        // phone: null removes it; the rest stays.
        let no_phone = ProfileChange {
            phone: Some(None),
            accepts_marketing: Some(true),
            ..Default::default()
        };
        let after = Profile {
            phone: None,
            accepts_marketing: true,
            ..ann.clone()
        };
        check(
            &given,
            update(no_phone, None),
            Ok(vec![CustomerEvent::ProfileChanged(after.to_event())]),
        );
        assert_eq!(state(&given).profile, ann);
        // A new password ends every other session.
        check(
            &given,
            update(ProfileChange::default(), Some("$new")),
            Ok(vec![
                CustomerEvent::PasswordChanged(PasswordChanged {
                    password_hash: "$new".into(),
                    via: PasswordChangeVia::Update,
                }),
                ended(Some("s_new")),
            ]),
        );
        // A bad field refuses the whole update; a suspended customer changes nothing.
        let bad = ProfileChange {
            last_name: Some(Some("<b>x</b>".into())),
            ..Default::default()
        };
        assert!(matches!(
            decide(&state(&given), update(bad, Some("$new"))),
            Err(DomainError::Profile {
                field: "lastName",
                ..
            })
        ));
        check(
            &[registered(), suspended()],
            update(ProfileChange::default(), None),
            Err(DomainError::AccountSuspended),
        );
    }

    #[test]
    fn an_invitation_is_activated_once_by_its_token_and_never_over_a_password() {
        let mut invite = register(None);
        if let CustomerCommand::Register {
            password_hash,
            activation,
            ..
        } = &mut invite
        {
            *password_hash = String::new();
            *activation = Some(([5; 32], T0 + 100));
        }
        let events = decide(&Customer::default(), invite).unwrap();
        assert_eq!(
            events.last(),
            Some(&activation_requested([5; 32], T0 + 100))
        );
        let invited = [
            CustomerEvent::Registered(CustomerRegistered {
                email: Personal::plain("ann@example.com"),
                password_hash: String::new(),
                email_verified: false,
            }),
            activation_requested([5; 32], T0 + 100),
        ];
        let activate = |h: u8, now: i64| {
            When(
                CustomerCommand::Activate {
                    token_hash: [h; 32],
                    new_password_hash: "$new".into(),
                    keep_session: Some("s_1".into()),
                },
                now,
            )
        };
        let activated = vec![
            CustomerEvent::PasswordChanged(PasswordChanged {
                password_hash: "$new".into(),
                via: PasswordChangeVia::Activation,
            }),
            ended(Some("s_1")),
            CustomerEvent::EmailVerified(EmailVerified {}),
        ];
        check(&invited, activate(5, T0 + 99), Ok(activated.clone()));
        check(
            &invited,
            activate(6, T0 + 99),
            Err(DomainError::InvalidToken),
        );
        check(
            &invited,
            activate(5, T0 + 100),
            Err(DomainError::InvalidToken),
        );
        // Once a password is set (by the link, or a reset), it is enabled.
        let mut after = invited.to_vec();
        after.extend(activated);
        assert_eq!(state(&after).activation, None);
        check(
            &after,
            activate(5, T0 + 1),
            Err(DomainError::AlreadyEnabled),
        );
        let again = CustomerCommand::RequestActivation {
            token_hash: [7; 32],
            expires_at: T0 + 500,
        };
        check(&after, again, Err(DomainError::AlreadyEnabled));
        let again = CustomerCommand::RequestActivation {
            token_hash: [7; 32],
            expires_at: T0 + 500,
        };
        check(
            &invited,
            again,
            Ok(vec![activation_requested([7; 32], T0 + 500)]),
        );
    }

    #[test]
    fn a_new_address_is_recorded_unverified_with_its_link() {
        let given = [registered(), CustomerEvent::EmailVerified(EmailVerified {})];
        let update = CustomerCommand::UpdateAccount {
            change: ProfileChange::default(),
            new_password_hash: None,
            keep_session: None,
            new_email: Some(("ann.lee@example.com".into(), [4; 32], T0 + 50)),
        };
        let events = decide(&state(&given), update).unwrap();
        assert_eq!(
            events,
            vec![
                CustomerEvent::EmailChanged(authd_events::CustomerEmailChanged {
                    email: Personal::plain("ann.lee@example.com"),
                }),
                CustomerEvent::EmailVerificationRequested(EmailVerificationRequested {
                    token_hash: [4; 32],
                    expires_at: T0 + 50,
                }),
            ]
        );
        let mut after = given.to_vec();
        after.extend(events);
        let s = state(&after);
        assert_eq!(s.email, "ann.lee@example.com");
        assert!(!s.email_verified);
        assert_eq!(s.verification, Some(([4; 32], T0 + 50)));
    }
}
