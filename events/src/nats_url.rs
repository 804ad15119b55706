//! NATS URLs with credentials (`nats://user:password@host:port`), which
//! async-nats does not read by itself.

/// `url` without its `user:password@`, and those (percent-decoded).
pub fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let bare = match path {
        "" => format!("{scheme}://{host}"),
        p => format!("{scheme}://{host}/{p}"),
    };
    (bare, Some((decode(user), decode(password))))
}

/// Connect options for `url`: its credentials, if any, and the URL
/// without them.
pub fn connect_options(url: &str) -> (String, async_nats::ConnectOptions) {
    let (bare, credentials) = split_credentials(url);
    let options = match credentials {
        Some((user, password)) => {
            async_nats::ConnectOptions::with_user_and_password(user, password)
        }
        None => async_nats::ConnectOptions::new(),
    };
    (bare, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_the_url() {
        assert_eq!(
            split_credentials("nats://authd:s3cr%40t@127.0.0.1:4222"),
            (
                "nats://127.0.0.1:4222".to_string(),
                Some(("authd".to_string(), "s3cr@t".to_string()))
            )
        );
        assert_eq!(
            split_credentials("tls://u:p@host:4443/x"),
            (
                "tls://host:4443/x".to_string(),
                Some(("u".to_string(), "p".to_string()))
            )
        );
        assert_eq!(
            split_credentials("nats://127.0.0.1:4222"),
            ("nats://127.0.0.1:4222".to_string(), None)
        );
        assert_eq!(
            split_credentials("127.0.0.1:4222"),
            ("127.0.0.1:4222".to_string(), None)
        );
    }
}
