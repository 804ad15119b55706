//! What a URL in a project's configuration must be, shared by the
//! project's own settings (`project.rs`) and its providers (`providers.rs`).

/// An https URL, or plain http to this machine, without credentials.
pub(crate) fn secure_url(text: &str) -> Option<url::Url> {
    if text.len() > 500 || text.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
        return None;
    }
    let url = url::Url::parse(text).ok()?;
    let local = match url.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    (scheme_ok && url.username().is_empty() && url.password().is_none()).then_some(url)
}
