//! What both APIs say of second factors: the methods a sign-in may be
//! finished with, and an `otpauth://` URL as a QR code.

use async_graphql::Enum;

/// Whether a project's customers may or must have a second factor.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "MfaRequirement")]
pub enum MfaRequirement {
    /// Customers cannot add one (factors added before still count).
    Off,
    /// Customers may add one.
    Optional,
    /// Every customer must: one without a factor signs in to a session
    /// that may only add one (`MFA_ENROLLMENT_REQUIRED` elsewhere).
    Required,
}

impl MfaRequirement {
    pub fn event(self) -> authd_events::MfaRequirement {
        match self {
            Self::Off => authd_events::MfaRequirement::Off,
            Self::Optional => authd_events::MfaRequirement::Optional,
            Self::Required => authd_events::MfaRequirement::Required,
        }
    }

    /// From the read model's column.
    pub fn from_read_model(v: &str) -> Self {
        match v {
            "OFF" => Self::Off,
            "REQUIRED" => Self::Required,
            _ => Self::Optional,
        }
    }
}

/// A second factor that can finish a sign-in.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "MfaMethod")]
pub enum MfaMethod {
    /// A six-digit code of an authenticator app (RFC 6238).
    Totp,
    /// A passkey (WebAuthn).
    Passkey,
    /// One of the single-use recovery codes.
    RecoveryCode,
}

impl MfaMethod {
    pub fn of(m: authd_events::MfaMethod) -> Self {
        match m {
            authd_events::MfaMethod::Totp => Self::Totp,
            authd_events::MfaMethod::Passkey => Self::Passkey,
            authd_events::MfaMethod::RecoveryCode => Self::RecoveryCode,
        }
    }

    pub fn all(methods: &[authd_events::MfaMethod]) -> Vec<Self> {
        methods.iter().copied().map(Self::of).collect()
    }
}

/// The URL as a QR code, an SVG document (what `<img src="data:…">` or
/// inline markup takes); `None` if it is too long for one.
pub fn qr_code_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_otpauth_url_becomes_an_svg_qr_code() {
        let svg = super::qr_code_svg(
            "otpauth://totp/Shop:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Shop",
        )
        .unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        assert!(svg.contains("<path"), "modules drawn");
    }
}
