//! Each event's dotted type name, as headers and tools show it.

use crate::event::*;

/// Every event type name (`Event::type_name`'s answers): what filters
/// on event types are checked against. `tests/golden.rs` checks it is
/// exactly the set of the golden samples' names.
pub const EVENT_TYPES: &[&str] = &[
    "project.created",
    "project.api_key.issued",
    "project.api_key.revoked",
    "project.config.changed",
    "project.storefront.configured",
    "project.providers.configured",
    "project.customer_metafields.declared",
    "project.webhook_endpoint.created",
    "project.webhook_endpoint.updated",
    "project.webhook_endpoint.deleted",
    "email.claimed",
    "email.released",
    "customer.registered",
    "customer.login.succeeded",
    "customer.login.failed",
    "customer.locked",
    "customer.unlocked",
    "customer.suspended",
    "customer.reactivated",
    "customer.sessions.ended",
    "customer.password.changed",
    "customer.email_verification.requested",
    "customer.email.verified",
    "customer.password_reset.requested",
    "customer.client.locked",
    "customer.profile.changed",
    "customer.activation.requested",
    "customer.email.changed",
    "customer.provider.linked",
    "customer.provider_login.failed",
    "customer.address.added",
    "customer.address.updated",
    "customer.address.removed",
    "customer.default_address.changed",
    "customer.tags.set",
    "customer.metafields.set",
    "customer.erased",
    "customer.erasure.completed",
    "session.started",
    "session.refreshed",
    "session.refresh_token.reused",
    "session.revoked",
    "session.storefront.started",
    "session.renewed",
    "login.failed.unknown_email",
    "login.locked",
    "login.client.locked",
    "login.reset_requested.unknown_email",
    "phone.claimed",
    "phone.released",
    "signing_key.added",
    "signing_key.retired",
    "provider_login.started",
    "provider_login.completed",
    "provider_login.failed",
    "provider_identity.claimed",
    "provider_identity.released",
    "order.recorded",
    "order.canceled",
    "order.discounts.set",
    "otp.issued",
    "otp.attempt.failed",
    "otp.used",
];

impl Event {
    /// Dotted type name, repeated in message headers so tools can filter
    /// without decoding.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::Project(e) => match e {
                ProjectEvent::Created(_) => "project.created",
                ProjectEvent::ApiKeyIssued(_) => "project.api_key.issued",
                ProjectEvent::ApiKeyRevoked(_) => "project.api_key.revoked",
                ProjectEvent::ConfigChanged(_) => "project.config.changed",
                ProjectEvent::StorefrontConfigured(_) => "project.storefront.configured",
                ProjectEvent::ProvidersConfigured(_) => "project.providers.configured",
                ProjectEvent::CustomerMetafieldsDeclared(_) => {
                    "project.customer_metafields.declared"
                }
                ProjectEvent::WebhookEndpointCreated(_) => "project.webhook_endpoint.created",
                ProjectEvent::WebhookEndpointUpdated(_) => "project.webhook_endpoint.updated",
                ProjectEvent::WebhookEndpointDeleted(_) => "project.webhook_endpoint.deleted",
            },
            Event::EmailClaim(e) => match e {
                EmailClaimEvent::Claimed(_) => "email.claimed",
                EmailClaimEvent::Released(_) => "email.released",
            },
            Event::Customer(e) => match e {
                CustomerEvent::Registered(_) => "customer.registered",
                CustomerEvent::LoginSucceeded(_) => "customer.login.succeeded",
                CustomerEvent::LoginFailed(_) => "customer.login.failed",
                CustomerEvent::Locked(_) => "customer.locked",
                CustomerEvent::Unlocked(_) => "customer.unlocked",
                CustomerEvent::Suspended(_) => "customer.suspended",
                CustomerEvent::Reactivated(_) => "customer.reactivated",
                CustomerEvent::SessionsEnded(_) => "customer.sessions.ended",
                CustomerEvent::PasswordChanged(_) => "customer.password.changed",
                CustomerEvent::EmailVerificationRequested(_) => {
                    "customer.email_verification.requested"
                }
                CustomerEvent::EmailVerified(_) => "customer.email.verified",
                CustomerEvent::PasswordResetRequested(_) => "customer.password_reset.requested",
                CustomerEvent::ClientLocked(_) => "customer.client.locked",
                CustomerEvent::ProfileChanged(_) => "customer.profile.changed",
                CustomerEvent::ActivationRequested(_) => "customer.activation.requested",
                CustomerEvent::EmailChanged(_) => "customer.email.changed",
                CustomerEvent::ProviderLinked(_) => "customer.provider.linked",
                CustomerEvent::ProviderLoginFailed(_) => "customer.provider_login.failed",
                CustomerEvent::AddressAdded(_) => "customer.address.added",
                CustomerEvent::AddressUpdated(_) => "customer.address.updated",
                CustomerEvent::AddressRemoved(_) => "customer.address.removed",
                CustomerEvent::DefaultAddressChanged(_) => "customer.default_address.changed",
                CustomerEvent::TagsSet(_) => "customer.tags.set",
                CustomerEvent::MetafieldsSet(_) => "customer.metafields.set",
                CustomerEvent::Erased(_) => "customer.erased",
                CustomerEvent::ErasureCompleted(_) => "customer.erasure.completed",
            },
            Event::Session(e) => match e {
                SessionEvent::Started(_) => "session.started",
                SessionEvent::Refreshed(_) => "session.refreshed",
                SessionEvent::RefreshTokenReused(_) => "session.refresh_token.reused",
                SessionEvent::Revoked(_) => "session.revoked",
                SessionEvent::StorefrontStarted(_) => "session.storefront.started",
                SessionEvent::Renewed(_) => "session.renewed",
            },
            Event::LoginAttempt(e) => match e {
                LoginAttemptEvent::FailedForUnknownEmail(_) => "login.failed.unknown_email",
                LoginAttemptEvent::Locked(_) => "login.locked",
                LoginAttemptEvent::ClientLocked(_) => "login.client.locked",
                LoginAttemptEvent::ResetRequested(_) => "login.reset_requested.unknown_email",
            },
            Event::PhoneClaim(e) => match e {
                EmailClaimEvent::Claimed(_) => "phone.claimed",
                EmailClaimEvent::Released(_) => "phone.released",
            },
            Event::SigningKey(e) => match e {
                SigningKeyEvent::Added(_) => "signing_key.added",
                SigningKeyEvent::Retired(_) => "signing_key.retired",
            },
            Event::ProviderLogin(e) => match e {
                ProviderLoginEvent::Started(_) => "provider_login.started",
                ProviderLoginEvent::Completed(_) => "provider_login.completed",
                ProviderLoginEvent::Failed(_) => "provider_login.failed",
            },
            Event::ProviderIdentity(e) => match e {
                EmailClaimEvent::Claimed(_) => "provider_identity.claimed",
                EmailClaimEvent::Released(_) => "provider_identity.released",
            },
            Event::Order(e) => match e {
                OrderEvent::Recorded(_) => "order.recorded",
                OrderEvent::Canceled(_) => "order.canceled",
                OrderEvent::DiscountsSet(_) => "order.discounts.set",
            },
            Event::Otp(e) => match e {
                OtpEvent::Issued(_) => "otp.issued",
                OtpEvent::AttemptFailed(_) => "otp.attempt.failed",
                OtpEvent::Used(_) => "otp.used",
            },
        }
    }
}
