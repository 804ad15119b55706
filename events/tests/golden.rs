//! Encoded bytes of every event variant of every schema version ever written.
//! A change that makes one of them undecodable, or decode to something else,
//! fails here. To add the files of a new variant or version, run once with
//! `AUTHD_BLESS_GOLDEN=1`; never re-bless an existing file.

use std::path::PathBuf;

use authd_events::envelope::{EventEnvelope, EventMessage, MessageMeta};
use authd_events::metafield::*;
use authd_events::*;

fn meta() -> MessageMeta {
    MessageMeta {
        tenant: "p_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
        aggregate_id: "c_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
        time: 1_767_225_600_000,
        actor: Actor::Customer("c_01HZZZZZZZZZZZZZZZZZZZZZZZ".into()),
        request: RequestMeta {
            request_id: "req-1".into(),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("golden/1.0".into()),
        }
        .into(),
        command_id: "cmd-1".into(),
    }
}

/// Every event variant; add new ones at the end (the golden files of the
/// version written now get them).
fn samples_v1() -> Vec<Event> {
    let h = [7u8; 32];
    vec![
        Event::Project(ProjectEvent::Created(ProjectCreated {
            name: "Shop".into(),
        })),
        Event::Project(ProjectEvent::ApiKeyIssued(ApiKeyIssued {
            key_id: "k_1".into(),
            kind: ApiKeyKind::Public,
            live: false,
            key_hash: h,
            prefix: "pk_test_abcd".into(),
        })),
        Event::Project(ProjectEvent::ApiKeyRevoked(ApiKeyRevoked {
            key_id: "k_1".into(),
        })),
        Event::EmailClaim(EmailClaimEvent::Claimed(EmailClaimed {
            customer_id: "c_1".into(),
        })),
        Event::EmailClaim(EmailClaimEvent::Released(EmailReleased {
            customer_id: "c_1".into(),
        })),
        Event::Customer(CustomerEvent::Registered(CustomerRegistered {
            email: Personal::plain("ann@example.com"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            email_verified: false,
        })),
        Event::Customer(CustomerEvent::LoginSucceeded(LoginSucceeded {
            session_id: "s_1".into(),
            method: LoginMethod::Password,
        })),
        Event::Customer(CustomerEvent::LoginFailed(LoginFailed {
            method: LoginMethod::Password,
            reason: LoginFailureReason::WrongPassword,
        })),
        Event::Session(SessionEvent::Started(SessionStarted {
            customer_id: "c_1".into(),
            method: LoginMethod::Password,
            refresh_token_hash: h,
            expires_at: 1_769_817_600_000,
        })),
        Event::Session(SessionEvent::Refreshed(SessionRefreshed {
            generation: 1,
            refresh_token_hash: h,
        })),
        Event::Session(SessionEvent::RefreshTokenReused(RefreshTokenReused {
            generation: 0,
        })),
        Event::Session(SessionEvent::Revoked(SessionRevoked {
            reason: RevokeReason::Logout,
        })),
        Event::Session(SessionEvent::Revoked(SessionRevoked {
            reason: RevokeReason::RefreshTokenReused,
        })),
        Event::Session(SessionEvent::Revoked(SessionRevoked {
            reason: RevokeReason::Admin,
        })),
        Event::LoginAttempt(LoginAttemptEvent::FailedForUnknownEmail(
            LoginFailedForUnknownEmail {
                method: LoginMethod::Password,
            },
        )),
        // Added with the whole Customer Auth API (still schema v1: new variants only).
        Event::Project(ProjectEvent::ConfigChanged(ProjectConfigChanged {
            config: ProjectConfig {
                public_registration: false,
                email_verification_required: true,
                password_login: true,
                otp_login: false,
                password_policy: PasswordPolicy {
                    min_length: 12,
                    require_uppercase: true,
                    require_lowercase: false,
                    require_numbers: true,
                    require_special_chars: false,
                },
                lockout_threshold: 5,
                mail_sender: "Shop <no-reply@shop.example>".into(),
                link_base_url: "https://shop.example/account".into(),
            },
        })),
        Event::Customer(CustomerEvent::Locked(CustomerLocked {
            until: 1_767_225_660_000,
        })),
        Event::Customer(CustomerEvent::Unlocked(CustomerUnlocked {})),
        Event::Customer(CustomerEvent::Suspended(CustomerSuspended {
            reason: Some("fraud".into()),
        })),
        Event::Customer(CustomerEvent::Reactivated(CustomerReactivated {})),
        Event::Customer(CustomerEvent::SessionsEnded(SessionsEnded {
            except: Some("s_1".into()),
        })),
        Event::Customer(CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            via: PasswordChangeVia::Reset,
        })),
        Event::Customer(CustomerEvent::EmailVerificationRequested(
            EmailVerificationRequested {
                token_hash: h,
                expires_at: 1_767_312_000_000,
            },
        )),
        Event::Customer(CustomerEvent::EmailVerified(EmailVerified {})),
        Event::Customer(CustomerEvent::PasswordResetRequested(
            PasswordResetRequested {
                token_hash: h,
                expires_at: 1_767_227_400_000,
            },
        )),
        Event::Customer(CustomerEvent::LoginFailed(LoginFailed {
            method: LoginMethod::Otp,
            reason: LoginFailureReason::Locked,
        })),
        Event::Customer(CustomerEvent::LoginFailed(LoginFailed {
            method: LoginMethod::Password,
            reason: LoginFailureReason::Suspended,
        })),
        Event::Customer(CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            via: PasswordChangeVia::Update,
        })),
        Event::Otp(OtpEvent::Issued(OtpIssued {
            otp_id: "o_1".into(),
            code_hash: h,
            expires_at: 1_767_226_200_000,
        })),
        Event::Otp(OtpEvent::AttemptFailed(OtpAttemptFailed {
            otp_id: "o_1".into(),
        })),
        Event::Otp(OtpEvent::Used(OtpUsed {
            otp_id: "o_1".into(),
        })),
        Event::Customer(CustomerEvent::LoginFailed(LoginFailed {
            method: LoginMethod::Password,
            reason: LoginFailureReason::EmailNotVerified,
        })),
        Event::LoginAttempt(LoginAttemptEvent::Locked(CustomerLocked {
            until: 1_767_225_660_000,
        })),
        // Added with the hardening (#9).
        Event::Customer(CustomerEvent::ClientLocked(ClientLocked {
            until: 1_767_225_660_000,
        })),
        Event::LoginAttempt(LoginAttemptEvent::ClientLocked(ClientLocked {
            until: 1_767_225_660_000,
        })),
        Event::LoginAttempt(LoginAttemptEvent::ResetRequested(
            ResetRequestedForUnknownEmail {},
        )),
        Event::Customer(CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: String::new(),
            via: PasswordChangeVia::Unproven,
        })),
        // Added with the Storefront API (#10).
        Event::Project(ProjectEvent::StorefrontConfigured(StorefrontConfig {
            access_token_ttl_secs: 86_400,
            cookie_sessions: true,
            allowed_origins: vec!["https://shop.example".into()],
        })),
        Event::Customer(CustomerEvent::ProfileChanged(CustomerProfile {
            first_name: Some(Personal::plain("Ann")),
            last_name: None,
            phone: Some(Personal::plain("+16135551111")),
            accepts_marketing: Some(Personal::plain("true")),
        })),
        Event::Session(SessionEvent::StorefrontStarted(SessionStarted {
            customer_id: "c_1".into(),
            method: LoginMethod::Password,
            refresh_token_hash: h,
            expires_at: 1_769_817_600_000,
        })),
        Event::Session(SessionEvent::Renewed(SessionRenewed {
            expires_at: 1_769_904_000_000,
        })),
        Event::Customer(CustomerEvent::ActivationRequested(ActivationRequested {
            token_hash: h,
            expires_at: 1_767_830_400_000,
        })),
        Event::Customer(CustomerEvent::PasswordChanged(PasswordChanged {
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            via: PasswordChangeVia::Activation,
        })),
        Event::Customer(CustomerEvent::EmailChanged(CustomerEmailChanged {
            email: Personal::plain("ann.lee@example.com"),
        })),
        Event::PhoneClaim(EmailClaimEvent::Claimed(EmailClaimed {
            customer_id: "c_1".into(),
        })),
        Event::PhoneClaim(EmailClaimEvent::Released(EmailReleased {
            customer_id: "c_1".into(),
        })),
        // Added with key rotation through the log (#9).
        Event::SigningKey(SigningKeyEvent::Added(SigningKeyAdded {
            kid: "k1d_k1d_k1d_k1d_".into(),
            public_key: [7; 32],
            generation: 1,
            root_kid: "r00t_r00t_r00t_r".into(),
            active_from: 1_767_225_600_000,
        })),
        Event::SigningKey(SigningKeyEvent::Retired(SigningKeyRetired {
            kid: "r00t_r00t_r00t_r".into(),
            verify_until: 1_767_226_560_000,
        })),
        // Added with provider sign-in (#11).
        Event::Project(ProjectEvent::ProvidersConfigured(ProvidersConfig {
            providers: vec![AuthProvider {
                id: "ap_1".into(),
                key: "google".into(),
                name: "Google".into(),
                enabled: true,
                is_default: true,
                priority: 1,
                kind: ProviderKind::Oidc(OidcProvider {
                    issuer: "https://accounts.example".into(),
                    client_id: "client-1".into(),
                    client_secret: Sealed(vec![9; 44]),
                    scopes: vec!["email".into()],
                }),
            }],
            return_urls: vec!["https://shop.example/callback".into()],
        })),
        Event::ProviderLogin(ProviderLoginEvent::Started(ProviderLoginStarted {
            provider_id: "ap_1".into(),
            return_to: "https://shop.example/callback".into(),
            expires_at: 1_767_226_200_000,
        })),
        Event::ProviderLogin(ProviderLoginEvent::Completed(ProviderLoginCompleted {
            customer_id: "c_1".into(),
            session_id: "s_1".into(),
            new_customer: true,
        })),
        Event::ProviderLogin(ProviderLoginEvent::Failed(ProviderLoginFailed {
            reason: ProviderFailure::EmailNotVerified,
        })),
        Event::ProviderIdentity(EmailClaimEvent::Claimed(EmailClaimed {
            customer_id: "c_1".into(),
        })),
        Event::ProviderIdentity(EmailClaimEvent::Released(EmailReleased {
            customer_id: "c_1".into(),
        })),
        Event::Customer(CustomerEvent::ProviderLinked(ProviderLinked {
            provider_id: "ap_1".into(),
        })),
        Event::Customer(CustomerEvent::LoginSucceeded(LoginSucceeded {
            session_id: "s_1".into(),
            method: LoginMethod::Provider,
        })),
        Event::Project(ProjectEvent::ProvidersConfigured(ProvidersConfig {
            providers: vec![AuthProvider {
                id: "ap_2".into(),
                key: "shopify".into(),
                name: "Shopify".into(),
                enabled: true,
                is_default: false,
                priority: 2,
                kind: ProviderKind::Shopify(ShopifyProvider {
                    shop_domain: "shop.myshopify.com".into(),
                    storefront_token: Sealed(vec![3; 60]),
                    multipass_secret: Some(Sealed(vec![4; 60])),
                }),
            }],
            return_urls: vec![],
        })),
        Event::Project(ProjectEvent::ProvidersConfigured(ProvidersConfig {
            providers: vec![AuthProvider {
                id: "ap_3".into(),
                key: "github".into(),
                name: "GitHub".into(),
                enabled: true,
                is_default: false,
                priority: 3,
                kind: ProviderKind::OAuth2(OAuth2Provider {
                    authorize_url: "https://github.com/login/oauth/authorize".into(),
                    token_url: "https://github.com/login/oauth/access_token".into(),
                    userinfo_url: "https://api.github.com/user".into(),
                    client_id: "client-3".into(),
                    client_secret: Sealed(vec![5; 44]),
                    scopes: vec!["user:email".into()],
                    subject_claim: "id".into(),
                    email_claim: "email".into(),
                    email_verified_claim: None,
                }),
            }],
            return_urls: vec![],
        })),
        Event::Customer(CustomerEvent::ProviderLoginFailed(
            CustomerProviderLoginFailed {
                provider_id: "ap_2".into(),
                reason: ProviderFailure::ProviderError,
            },
        )),
        Event::Customer(CustomerEvent::ProviderLoginFailed(
            CustomerProviderLoginFailed {
                provider_id: "ap_2".into(),
                reason: ProviderFailure::Unavailable,
            },
        )),
        Event::Customer(CustomerEvent::AddressAdded(CustomerAddressAdded {
            address_id: "ad_1".into(),
            address: Box::new(MailingAddress {
                first_name: Some(Personal::plain("Ann")),
                last_name: Some(Personal::plain("Lee")),
                company: None,
                address1: Some(Personal::plain("1 Main St")),
                address2: None,
                city: Some(Personal::plain("Ottawa")),
                province: Some(Personal::plain("ON")),
                country: Some(Personal::plain("CA")),
                zip: Some(Personal::plain("K1A 0B1")),
                phone: Some(Personal::plain("+16135551111")),
            }),
        })),
        Event::Customer(CustomerEvent::AddressUpdated(CustomerAddressUpdated {
            address_id: "ad_1".into(),
            address: Box::new(MailingAddress {
                company: Some(Personal::plain("Acme")),
                ..MailingAddress::default()
            }),
        })),
        Event::Customer(CustomerEvent::AddressRemoved(CustomerAddressRemoved {
            address_id: "ad_1".into(),
        })),
        Event::Customer(CustomerEvent::DefaultAddressChanged(
            DefaultAddressChanged {
                address_id: Some("ad_2".into()),
            },
        )),
        Event::Customer(CustomerEvent::DefaultAddressChanged(
            DefaultAddressChanged { address_id: None },
        )),
        Event::Order(OrderEvent::Recorded(Box::new(OrderRecorded {
            customer_id: "c_1".into(),
            external_id: "gid://shop/Order/1001".into(),
            name: "#1001".into(),
            processed_at: 1_767_225_600_000,
            financial_status: Some("PAID".into()),
            fulfillment_status: "FULFILLED".into(),
            currency: "CAD".into(),
            subtotal_price: Some("19.99".into()),
            total_tax: Some("2.60".into()),
            total_shipping: "5.00".into(),
            total_price: "27.59".into(),
            status_url: Some("https://shop.example/orders/1001".into()),
            shipping_address: Some(Box::new(MailingAddress {
                city: Some(Personal::plain("Ottawa")),
                country: Some(Personal::plain("CA")),
                ..MailingAddress::default()
            })),
            line_items: vec![OrderLineItem {
                title: "Mug".into(),
                variant_title: Some("Blue".into()),
                sku: Some("MUG-B".into()),
                quantity: 2,
                price: "9.995".into(),
            }],
        }))),
        Event::Order(OrderEvent::Canceled(OrderCanceled {
            customer_id: "c_1".into(),
            reason: "CUSTOMER".into(),
        })),
        Event::Customer(CustomerEvent::TagsSet(CustomerTagsSet {
            tags: vec!["VIP".into(), "wholesale".into()],
        })),
        Event::Project(ProjectEvent::CustomerMetafieldsDeclared(
            CustomerMetafieldsDeclared {
                definitions: vec![MetafieldDefinition {
                    namespace: "custom".into(),
                    key: "birthday".into(),
                    type_name: "date".into(),
                    access: MetafieldAccess::ReadWrite,
                }],
            },
        )),
        Event::Customer(CustomerEvent::MetafieldsSet(CustomerMetafieldsSet {
            values: vec![MetafieldValue {
                namespace: "custom".into(),
                key: "birthday".into(),
                type_name: "date".into(),
                value: Personal::plain("1990-04-01"),
            }],
        })),
        Event::Order(OrderEvent::DiscountsSet(OrderDiscountsSet {
            applications: vec![DiscountApplication {
                kind: DiscountKind::Code,
                title: None,
                code: Some("SPRING10".into()),
                value: DiscountValue::Percentage("10".into()),
                allocation_method: "ACROSS".into(),
                target_selection: "ALL".into(),
                target_type: "LINE_ITEM".into(),
            }],
            allocations: vec![DiscountAllocation {
                line: 0,
                application: 0,
                amount: "2.00".into(),
            }],
        })),
        Event::Customer(CustomerEvent::Erased(CustomerErased {
            reason: "GDPR art. 17 request #1234".into(),
        })),
        Event::Customer(CustomerEvent::ErasureCompleted(CustomerErasureCompleted {
            key_destroyed: true,
            mail_jobs_dropped: 2,
            plaintext_erased: vec![12, 13],
        })),
        Event::Project(ProjectEvent::WebhookEndpointCreated(
            webhook::WebhookEndpoint {
                endpoint_id: "we_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
                url: "https://siem.example/hooks/authd".into(),
                event_types: vec!["customer.login.failed".into(), "customer.locked".into()],
                description: "SIEM".into(),
                enabled: true,
                secret_generation: 0,
            },
        )),
        Event::Project(ProjectEvent::WebhookEndpointUpdated(
            webhook::WebhookEndpoint {
                endpoint_id: "we_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
                url: "https://siem.example/hooks/authd".into(),
                event_types: vec!["customer.*".into()],
                description: "SIEM, every customer event".into(),
                enabled: true,
                secret_generation: 1,
            },
        )),
        Event::Project(ProjectEvent::WebhookEndpointDeleted(
            webhook::WebhookEndpointDeleted {
                endpoint_id: "we_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
            },
        )),
        Event::Customer(CustomerEvent::TotpEnrolled(TotpEnrolled {
            secret: Personal::plain("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
        })),
        Event::Customer(CustomerEvent::TotpConfirmed(TotpConfirmed {
            step: 59_000_000,
        })),
        Event::Customer(CustomerEvent::TotpDisabled(TotpDisabled {
            via: MfaMethod::RecoveryCode,
        })),
        Event::Customer(CustomerEvent::RecoveryCodesGenerated(
            RecoveryCodesGenerated {
                code_hashes: vec![[7; 32], [8; 32]],
            },
        )),
        Event::Customer(CustomerEvent::RecoveryCodeUsed(RecoveryCodeUsed {
            index: 1,
            left: 9,
        })),
        Event::Customer(CustomerEvent::MfaChallenged(MfaChallenged {
            token_hash: [9; 32],
            expires_at: 1_770_000_300_000,
            method: LoginMethod::Password,
            storefront: true,
        })),
        Event::Customer(CustomerEvent::MfaPassed(MfaPassed {
            challenge_hash: [9; 32],
            method: MfaMethod::Totp,
            totp_step: Some(59_000_001),
            session_id: "s_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
        })),
        Event::Customer(CustomerEvent::MfaFailed(MfaFailed {
            challenge_hash: Some([9; 32]),
            method: MfaMethod::Totp,
            reason: MfaFailureReason::ReplayedCode,
        })),
        Event::Customer(CustomerEvent::MfaReset(MfaReset {
            reason: "identity checked by phone, ticket 4411".into(),
        })),
        Event::Project(ProjectEvent::MfaConfigured(MfaConfigured {
            required: MfaRequirement::Required,
        })),
        Event::Customer(CustomerEvent::PasskeyRegistered(PasskeyRegistered {
            credential_id: vec![0xc7, 0x1d, 0x02, 0x5e],
            name: Personal::plain("Laptop"),
            credential: r#"{"cred":{"counter":0}}"#.into(),
            backup_eligible: true,
            backed_up: false,
        })),
        Event::Customer(CustomerEvent::PasskeyUsed(PasskeyUsed {
            credential_id: vec![0xc7, 0x1d, 0x02, 0x5e],
            counter: 7,
            backed_up: true,
        })),
        Event::Customer(CustomerEvent::PasskeyRemoved(PasskeyRemoved {
            credential_id: vec![0xc7, 0x1d, 0x02, 0x5e],
        })),
        Event::Customer(CustomerEvent::MfaFailed(MfaFailed {
            challenge_hash: None,
            method: MfaMethod::Passkey,
            reason: MfaFailureReason::PossiblyCloned,
        })),
        Event::Customer(CustomerEvent::LoginSucceeded(LoginSucceeded {
            session_id: "s_01HZX3".into(),
            method: LoginMethod::Passkey,
        })),
        Event::Webauthn(WebauthnEvent::Started(WebauthnStarted {
            purpose: WebauthnPurpose::Login,
            customer_id: None,
            state: r#"{"Discoverable":{}}"#.into(),
            expires_at: 1_760_000_300_000,
        })),
        Event::Webauthn(WebauthnEvent::Finished(WebauthnFinished {})),
        Event::Project(ProjectEvent::WebauthnConfigured(WebauthnConfigured {
            rp_id: "shop.example".into(),
            origins: vec!["https://shop.example".into()],
        })),
    ]
}

fn message(body: Event) -> EventMessage {
    EventMessage {
        meta: meta(),
        events: vec![EventEnvelope {
            event_id: [1; 16],
            body,
        }],
    }
}

fn golden_dir(version: u16) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/v{version}"))
}

fn file_name(body: &Event, index: usize) -> String {
    format!("{index:02}-{}.hex", body.type_name())
}

/// Version 1 was written until these variants; it is closed (new
/// variants get golden files of the version written now).
const V1_VARIANTS: usize = 71;

#[test]
fn every_v1_variant_decodes_from_its_golden_bytes() {
    let dir = golden_dir(1);
    let samples: Vec<Event> = samples_v1().into_iter().take(V1_VARIANTS).collect();
    for (i, body) in samples.iter().enumerate() {
        let path = dir.join(file_name(body, i));
        let expected = message(body.clone());
        let stored = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless new variants once)", path.display()));
        let bytes = hex::decode(stored.trim()).unwrap();
        assert_eq!(
            EventMessage::decode(&bytes).unwrap(),
            expected,
            "{}",
            path.display()
        );
    }
    // A golden file without a sample means a variant was removed or renamed.
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        files,
        samples.len(),
        "golden files and samples differ in number"
    );
}

/// Version 2's samples: every variant of version 1 (the request's address
/// and user agent are `Personal` now), one message sealed, then the
/// variants added since.
fn samples_v2() -> Vec<EventMessage> {
    let mut variants = samples_v1();
    // Variants added since version 2 came follow the sealed message.
    let later = variants.split_off(V1_VARIANTS);
    let mut out: Vec<EventMessage> = variants.into_iter().map(message).collect();
    let sealed = |field: u8| Personal::Sealed {
        key_id: "c_01HZZZZZZZZZZZZZZZZZZZZZZZ".into(),
        nonce: vec![field; 12],
        ciphertext: vec![field ^ 0x5a; 24],
    };
    let mut m = message(Event::Customer(CustomerEvent::Registered(
        CustomerRegistered {
            email: sealed(1),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            email_verified: true,
        },
    )));
    m.meta.request.ip = Some(sealed(2));
    m.meta.request.user_agent = Some(sealed(3));
    out.push(m);
    out.extend(later.into_iter().map(message));
    out
}

#[test]
fn the_current_version_encodes_to_its_golden_bytes_and_back() {
    assert_eq!(authd_events::envelope::SCHEMA_VERSION, 2);
    let bless = std::env::var_os("AUTHD_BLESS_GOLDEN").is_some();
    let dir = golden_dir(2);
    let samples = samples_v2();
    for (i, m) in samples.iter().enumerate() {
        let path = dir.join(file_name(&m.events[0].body, i));
        if bless && !path.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, hex::encode(m.encode())).unwrap();
        }
        let stored = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (bless new variants once)", path.display()));
        assert_eq!(hex::encode(m.encode()), stored.trim(), "{}", path.display());
        let bytes = hex::decode(stored.trim()).unwrap();
        assert_eq!(
            &EventMessage::decode(&bytes).unwrap(),
            m,
            "{}",
            path.display()
        );
    }
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        files,
        samples.len(),
        "golden files and samples differ in number"
    );
}

#[test]
fn a_version_1_request_reads_as_plain_personal_values() {
    let stored = std::fs::read_to_string(golden_dir(1).join("00-project.created.hex")).unwrap();
    let m = EventMessage::decode(&hex::decode(stored.trim()).unwrap()).unwrap();
    assert_eq!(m.meta.request.ip(), Some("203.0.113.7"));
    assert_eq!(m.meta.request.user_agent(), Some("golden/1.0"));
}

#[test]
fn unknown_versions_and_garbage_are_errors_not_panics() {
    let mut bytes = message(samples_v1().remove(0)).encode();
    bytes[0] = 99;
    assert!(matches!(
        EventMessage::decode(&bytes),
        Err(authd_events::envelope::DecodeError::UnknownVersion(99))
    ));
    assert!(EventMessage::decode(&[]).is_err());
    assert!(EventMessage::decode(&[1, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn event_types_lists_exactly_the_type_names() {
    let mut named: Vec<&str> = samples_v1().iter().map(|e| e.type_name()).collect();
    named.sort();
    named.dedup();
    let mut listed = authd_events::EVENT_TYPES.to_vec();
    listed.sort();
    assert_eq!(listed, named);
}

/// `docs/events.md`, the JSON form of every event type: written from the
/// samples, so it cannot drift from the code. `AUTHD_BLESS_DOCS=1`
/// rewrites it after a change.
#[test]
fn the_json_form_of_every_type_is_documented_and_shows_no_secret() {
    use std::fmt::Write;
    let kind_of = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    };
    let mut doc = String::from(include_str!("events_md_head.md"));
    let mut seen = Vec::new();
    for (i, body) in samples_v1().into_iter().enumerate() {
        let data = authd_events::json::event_data(&body);
        let text = data.to_string();
        // Hashes in the samples are [7; 32]; sealed provider secrets hold
        // bytes; password hashes start with `$argon2`.
        for leak in ["[7,7", "argon2", "Hash\"", "Secret\"", "Token\""] {
            assert!(!text.contains(leak), "sample {i} shows {leak}: {text}");
        }
        let t = body.type_name();
        if seen.contains(&t) {
            continue;
        }
        seen.push(t);
        let _ = write!(doc, "\n### `{t}`\n\n");
        let fields = data.as_object().unwrap();
        if fields.is_empty() {
            doc.push_str("No fields.\n");
        } else {
            doc.push_str("| field | JSON type |\n|---|---|\n");
            for (k, v) in fields {
                let _ = writeln!(doc, "| `{k}` | {} |", kind_of(v));
            }
        }
        let _ = write!(
            doc,
            "\n```json\n{}\n```\n",
            serde_json::to_string_pretty(&data).unwrap()
        );
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/events.md");
    if std::env::var_os("AUTHD_BLESS_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &doc).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == doc,
        "docs/events.md is not what the code writes: run with AUTHD_BLESS_DOCS=1"
    );
}

#[test]
fn a_feed_entry_carries_the_envelope_and_reads_sealed_values_as_erased() {
    let mut m = message(Event::Customer(CustomerEvent::Registered(
        CustomerRegistered {
            email: Personal::plain("ann@example.com"),
            password_hash: "$argon2id$v=19$secret".into(),
            email_verified: false,
        },
    )));
    m.meta.request.user_agent = Some(Personal::Sealed {
        key_id: "c_x".into(),
        nonce: vec![1; 12],
        ciphertext: vec![2; 20],
    });
    let recorded = RecordedMessage {
        seq: 42,
        subject: AggregateSubject::new(
            &m.meta.tenant,
            AggregateKind::Customer,
            &m.meta.aggregate_id,
        )
        .unwrap(),
        message: m,
        traceparent: None,
    };
    let e = authd_events::json::entry(&recorded, 0).unwrap();
    assert_eq!(e["sequence"], 42);
    assert_eq!(e["type"], "customer.registered");
    assert_eq!(e["time"], "2026-01-01T00:00:00.000Z");
    assert_eq!(e["customerId"], "c_01HZZZZZZZZZZZZZZZZZZZZZZZ");
    assert_eq!(e["actor"]["type"], "CUSTOMER");
    assert_eq!(e["request"]["ip"], "203.0.113.7");
    assert_eq!(e["request"]["userAgent"], "[erased]");
    assert_eq!(e["data"]["email"], "ann@example.com");
    assert_eq!(e["data"]["emailVerified"], false);
    assert!(!e.to_string().contains("argon2"), "{e}");
    assert!(authd_events::json::entry(&recorded, 1).is_none());
}
