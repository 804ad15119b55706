//! Every command, declared once: its wire name (`authd.cmd.<name>`), its
//! payload, the outcome it answers with, and who may send it. The wire
//! enum, the subject, the authorization check, the typed client
//! (`CommandBus::send`) and the dispatch to each use case
//! (`crate::dispatch`, which sits above the use cases) all follow from
//! the table below. The use cases, the bus and the runtime take the
//! envelope, the payloads, the outcomes, the reply and the codec from
//! here; nothing here names a use case.

use authd_events::{Actor, ApiKeyKind, ProjectConfig, RequestMeta, StorefrontConfig};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use crate::domain::customer_profile::ProfileChange;
use crate::error::{CommandError, ErrorCode};

mod customer_data;
mod keys_and_providers;
mod mfa;
mod outcomes;
pub use customer_data::*;
pub use keys_and_providers::*;
pub use mfa::*;
pub use outcomes::*;

/// Who may send a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Anyone who holds the project's public key.
    Anonymous,
    /// A signed-in customer (the actor is the customer).
    Customer,
    /// The project's secret key, the operator key, or authd itself.
    ProjectAdmin,
    /// Whoever runs the deployment: the operator key (`--operator-key-file`
    /// at the gateway, or `authd admin` over NATS) or authd itself. A
    /// project's secret key does not qualify.
    Operator,
}

impl Who {
    /// Whether `actor` may send a command declared for `self`.
    pub fn check(self, actor: &Actor) -> Result<(), CommandError> {
        match (self, actor) {
            (Who::Anonymous, _)
            | (Who::Customer, Actor::Customer(_))
            | (Who::ProjectAdmin, Actor::Admin(_) | Actor::Operator | Actor::System)
            | (Who::Operator, Actor::Operator | Actor::System) => Ok(()),
            (Who::Customer, _) => Err(CommandError::new(
                ErrorCode::Unauthenticated,
                "a signed-in customer is required",
            )),
            (Who::Operator, _) => Err(CommandError::new(
                ErrorCode::Forbidden,
                "only the operator key (--operator-key-file) may do this",
            )),
            _ => Err(CommandError::new(
                ErrorCode::Forbidden,
                "an admin key is required",
            )),
        }
    }
}

/// What a command is, as the typed client and the dispatch see it.
pub trait CommandSpec: Into<Command> + Send {
    /// The `<name>` of `authd.cmd.<name>`.
    const NAME: &'static str;
    const WHO: Who;
    /// What a successful command answers.
    type Outcome: Serialize + DeserializeOwned + Send;
}

/// Declares the commands (see the table below).
macro_rules! commands {
    ($( $name:literal => $payload:ident -> $outcome:ty, $who:ident; )*) => {
        /// A command as it travels (postcard encodes the variant index: add
        /// new commands at the end of the table).
        #[derive(Clone, Serialize, Deserialize)]
        pub enum Command {
            $( $payload($payload), )*
        }

        impl Command {
            /// The `<name>` of `authd.cmd.<name>`.
            pub fn name(&self) -> &'static str {
                match self {
                    $( Self::$payload(_) => $name, )*
                }
            }

            pub fn who(&self) -> Who {
                match self {
                    $( Self::$payload(_) => Who::$who, )*
                }
            }
        }

        $(
            impl From<$payload> for Command {
                fn from(c: $payload) -> Self {
                    Self::$payload(c)
                }
            }

            impl CommandSpec for $payload {
                const NAME: &'static str = $name;
                const WHO: Who = Who::$who;
                type Outcome = $outcome;
            }
        )*
    };
}

/// The command table, handed to `$then!`: `commands!` above declares the
/// wire enum and each payload's `CommandSpec`, and `crate::dispatch` runs
/// each payload's use case. A command is added here and nowhere else.
macro_rules! command_table {
    ($then:ident) => {
        $then! {
            // wire name                            payload                 outcome        who may send it
            "project.create"                     => CreateProject        -> ProjectKeys,   Operator;
            "customer.register"                  => RegisterCustomer     -> Registered,    Anonymous;
            "customer.login"                     => LogInWithPassword    -> SignIn<SignedIn>, Anonymous;
            "session.refresh"                    => RefreshSession       -> Tokens,        Anonymous;
            "session.revoke"                     => EndSession           -> Done,          Customer;
            "otp.request"                        => RequestOtp           -> Accepted,      Anonymous;
            "otp.login"                          => LogInWithOtp         -> SignIn<SignedIn>, Anonymous;
            "customer.password_reset.request"    => RequestPasswordReset -> Accepted,      Anonymous;
            "customer.password_reset.complete"   => ResetPassword        -> PasswordReset, Anonymous;
            "customer.password.update"           => UpdatePassword       -> Done,          Customer;
            "customer.email.verify"              => VerifyEmail          -> CustomerView,  Anonymous;
            "customer.email_verification.resend" => ResendVerification   -> Accepted,      Customer;
            "project.configure"                  => ConfigureProject     -> Done,          ProjectAdmin;
            "project.api_key.issue"              => IssueApiKey          -> IssuedKey,     ProjectAdmin;
            "project.api_key.revoke"             => RevokeApiKey         -> Done,          ProjectAdmin;
            "customer.suspend"                   => SuspendCustomer      -> Done,          ProjectAdmin;
            "customer.reactivate"                => ReactivateCustomer   -> Done,          ProjectAdmin;
            "customer.unlock"                    => UnlockCustomer       -> Done,          ProjectAdmin;
            "customer.update"                    => UpdateCustomer       -> AccountUpdated, Customer;
            "storefront.token.create"            => CreateAccessToken    -> SignIn<StorefrontSignedIn>, Anonymous;
            "storefront.token.renew"             => RenewAccessToken     -> AccessToken,   Anonymous;
            "storefront.token.delete"            => DeleteAccessToken    -> Deleted,       Anonymous;
            "customer.invite"                    => InviteCustomer       -> Invited,       ProjectAdmin;
            "customer.activate"                  => ActivateCustomer     -> StorefrontSignedIn, Anonymous;
            "signing_key.rotate"                 => RotateSigningKey     -> RotatedKey,    Operator;
            "project.providers.edit"             => EditProviders        -> ProviderSaved, ProjectAdmin;
            "provider.login.start"               => StartProviderLogin   -> ProviderStarted, Anonymous;
            "provider.login.complete"            => CompleteProviderLogin -> SignIn<SignedIn>, Anonymous;
            "provider.shopify.renew"             => RenewShopifyToken    -> ShopifyAccess, Anonymous;
            "customer.address.create"            => CreateAddress        -> AddressView,   Customer;
            "customer.address.update"            => UpdateAddress        -> AddressView,   Customer;
            "customer.address.delete"            => DeleteAddress        -> Done,          Customer;
            "customer.address.default"           => SetDefaultAddress    -> CustomerView,  Customer;
            "order.record"                       => RecordOrder          -> OrderSaved,    ProjectAdmin;
            "order.cancel"                       => CancelOrder          -> Done,          ProjectAdmin;
            "customer.tags.set"                  => SetCustomerTags      -> Done,          ProjectAdmin;
            "customer.metafields.set"            => SetMetafields        -> MetafieldsSaved, Customer;
            "customer.metafields.admin_set"      => AdminSetMetafields   -> MetafieldsSaved, ProjectAdmin;
            "customer.erase"                     => EraseCustomer        -> Erasure,       ProjectAdmin;
            "customer.delete_account"            => DeleteAccount        -> Erasure,       Customer;
            "project.webhook_endpoint.create"    => CreateWebhookEndpoint -> WebhookEndpointSaved, ProjectAdmin;
            "project.webhook_endpoint.update"    => UpdateWebhookEndpoint -> WebhookEndpointSaved, ProjectAdmin;
            "project.webhook_endpoint.delete"    => DeleteWebhookEndpoint -> Done,         ProjectAdmin;
            "customer.totp.enroll"               => EnrollTotp           -> TotpEnrollment, Customer;
            "customer.totp.confirm"              => ConfirmTotp          -> RecoveryCodes, Customer;
            "customer.totp.disable"              => DisableTotp          -> Done,          Customer;
            "customer.recovery_codes.generate"   => GenerateRecoveryCodes -> RecoveryCodes, Customer;
            "customer.login.mfa"                 => LogInWithMfa         -> SignedIn,      Anonymous;
            "storefront.token.create_mfa"        => CreateAccessTokenWithMfa -> StorefrontSignedIn, Anonymous;
            "customer.mfa.reset"                 => ResetMfa             -> Done,          ProjectAdmin;
            "customer.passkey.register_start"    => StartPasskeyRegistration -> PasskeyOptions, Customer;
            "customer.passkey.register_finish"   => FinishPasskeyRegistration -> PasskeyView, Customer;
            "customer.passkey.remove"            => RemovePasskey        -> Done,          Customer;
            "customer.passkey.login_start"       => StartPasskeyLogin    -> PasskeyOptions, Anonymous;
            "customer.passkey.login_finish"      => FinishPasskeyLogin   -> SignedIn,      Anonymous;
            "customer.login.mfa_passkey"         => LogInWithMfaPasskey  -> SignedIn,      Anonymous;
            "storefront.token.create_passkey"    => CreateAccessTokenWithPasskey -> StorefrontSignedIn, Anonymous;
        }
    };
}
pub(crate) use command_table;

command_table!(commands);

impl std::fmt::Debug for Command {
    // Commands carry passwords and tokens: only their name is ever printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({})", self.name())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandEnvelope {
    /// Unique per request; becomes the `Nats-Msg-Id` of what it appends.
    pub command_id: String,
    /// The project the command acts in.
    pub tenant: String,
    pub actor: Actor,
    pub request: RequestMeta,
    pub command: Command,
}

// ---- payloads ---------------------------------------------------------------

#[derive(Clone, Serialize, Deserialize)]
pub struct CreateProject {
    pub name: String,
    /// Keys chosen by the caller (dev mode keeps its keys across restarts);
    /// generated when absent.
    pub public_key: Option<String>,
    pub secret_key: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RegisterCustomer {
    pub email: String,
    pub password: String,
    /// Names, phone, marketing consent (checked like an update's).
    pub profile: ProfileChange,
    /// Start a session and answer its tokens (the Customer Auth API); the
    /// Storefront's `customerCreate` does not sign in.
    pub sign_in: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct LogInWithPassword {
    pub email: String,
    pub password: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RefreshSession {
    pub refresh_token: String,
}

/// Ends a session of the signed-in customer (a logout).
#[derive(Clone, Serialize, Deserialize)]
pub struct EndSession {
    pub session_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RequestOtp {
    pub email: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct LogInWithOtp {
    pub email: String,
    pub otp: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RequestPasswordReset {
    pub email: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ResetPassword {
    pub token: String,
    pub new_password: String,
    /// Also start a Storefront session (`customerReset` answers a
    /// `customerAccessToken`): every other session still ends.
    pub storefront_sign_in: bool,
}

/// Acts for the customer of the actor, in the session `session_id`.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpdatePassword {
    pub session_id: String,
    pub current_password: String,
    pub new_password: String,
    pub end_other_sessions: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct VerifyEmail {
    pub token: String,
}

/// Mails the signed-in customer a new verification link.
#[derive(Clone, Serialize, Deserialize)]
pub struct ResendVerification;

/// The project's whole configuration, and (when given) its Storefront
/// settings, recorded together.
#[derive(Clone, Serialize, Deserialize)]
pub struct ConfigureProject {
    pub config: ProjectConfig,
    pub storefront: Option<StorefrontConfig>,
    /// The customer metafields declared, whole, when they change.
    pub customer_metafields: Option<Vec<authd_events::metafield::MetafieldDefinition>>,
    /// Second factors: optional, required or off, when it changes.
    pub mfa_required: Option<authd_events::MfaRequirement>,
    /// The passkeys' relying party id, when it changes.
    pub webauthn_rp_id: Option<String>,
    /// The origins passkey ceremonies may come from, whole, when they change.
    pub webauthn_origins: Option<Vec<String>>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct IssueApiKey {
    pub kind: ApiKeyKind,
    pub live: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct RevokeApiKey {
    pub key_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct SuspendCustomer {
    pub customer_id: String,
    pub reason: Option<String>,
}

/// The signed-in customer erases their own account: the current password,
/// or (a customer without one) a sign-in less than 5 minutes old.
#[derive(Clone, Serialize, Deserialize)]
pub struct DeleteAccount {
    pub session_id: String,
    pub current_password: Option<String>,
}

impl std::fmt::Debug for DeleteAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeleteAccount")
    }
}

/// Forgets a customer (GDPR art. 17): see `usecases/erasure.rs`.
#[derive(Clone, Serialize, Deserialize)]
pub struct EraseCustomer {
    pub customer_id: String,
    /// Why: recorded for good, so never the customer's personal data.
    pub reason: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ReactivateCustomer {
    pub customer_id: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct UnlockCustomer {
    pub customer_id: String,
}

/// The signed-in customer (the actor) changes their profile and, without
/// the current password (the Storefront's `customerUpdate`: the access
/// token of `session_id` is the proof), their password. A new password
/// ends every session and starts a new Storefront one.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpdateCustomer {
    pub session_id: String,
    pub change: ProfileChange,
    pub new_password: Option<String>,
    /// Moves the account to this address (unverified, a link mailed to it;
    /// the old address is told).
    pub new_email: Option<String>,
}

/// An admin creates a customer without a password and mails them an
/// activation link (or mails a new one to a customer not yet activated).
#[derive(Clone, Serialize, Deserialize)]
pub struct InviteCustomer {
    pub email: String,
    pub profile: ProfileChange,
}

/// Sets the first password with an invitation's token
/// (`<customer id>.<secret>`) and signs in (a Storefront session).
#[derive(Clone, Serialize, Deserialize)]
pub struct ActivateCustomer {
    pub token: String,
    pub password: String,
}

/// Storefront sign-in: a `customerAccessToken` for email and password.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreateAccessToken {
    pub email: String,
    pub password: String,
}

/// Moves a live `customerAccessToken`'s expiry a full lifetime ahead.
#[derive(Clone, Serialize, Deserialize)]
pub struct RenewAccessToken {
    pub access_token: String,
}

/// Ends the session of a `customerAccessToken` (its holder signs out).
#[derive(Clone, Serialize, Deserialize)]
pub struct DeleteAccessToken {
    pub access_token: String,
}

// ---- the reply ---------------------------------------------------------------

/// The reply on the wire: the outcome is the command's own type, encoded.
pub type Reply = Result<CommandOk, CommandError>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CommandOk {
    /// Highest stream sequence the command appended (or read, if it appended
    /// nothing): wait for a read model to reach it to read your own write.
    pub seq: u64,
    /// postcard of the command's `Outcome`.
    pub outcome: Vec<u8>,
}

/// A successful command's typed answer.
#[derive(Debug, Clone)]
pub struct Sent<O> {
    pub seq: u64,
    pub outcome: O,
}

impl<O> Sent<O> {
    pub fn map<P>(self, f: impl FnOnce(O) -> P) -> Sent<P> {
        Sent {
            seq: self.seq,
            outcome: f(self.outcome),
        }
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("encoding to a Vec cannot fail")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_names_its_own_subject_and_sender() {
        let c: Command = RegisterCustomer {
            email: "a@b.co".into(),
            password: "secret".into(),
            profile: Default::default(),
            sign_in: true,
        }
        .into();
        assert_eq!(c.name(), RegisterCustomer::NAME);
        assert_eq!(c.who(), Who::Anonymous);
        assert_eq!(format!("{c:?}"), "Command(customer.register)");
        assert_eq!(SuspendCustomer::WHO, Who::ProjectAdmin);
    }

    #[test]
    fn senders_are_checked_against_the_declaration() {
        let customer = Actor::Customer("c_1".into());
        let admin = Actor::Admin("sk_test_abc".into());
        assert!(Who::Anonymous.check(&Actor::Anonymous).is_ok());
        assert!(Who::Customer.check(&customer).is_ok());
        assert_eq!(
            Who::Customer.check(&Actor::Anonymous).unwrap_err().code,
            ErrorCode::Unauthenticated
        );
        assert_eq!(
            Who::ProjectAdmin.check(&customer).unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert!(Who::ProjectAdmin.check(&admin).is_ok());
        assert!(Who::Operator.check(&Actor::System).is_ok());
        assert!(Who::Operator.check(&Actor::Operator).is_ok());
        // A project's own key manages its project, and creates none.
        assert_eq!(
            Who::Operator.check(&admin).unwrap_err().code,
            ErrorCode::Forbidden
        );
    }
}
