//! What both APIs say of second factors: the methods a sign-in may be
//! finished with, and an `otpauth://` URL as a QR code.

use async_graphql::Enum;

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
