//! Which certificate authorities the AWS clients trust: the system's CA bundle, read once.
//!
//! The SDK's HTTPS client trusts the platform's roots the way OpenSSL finds them
//! (`rustls-native-certs`, `openssl-probe`): the bundle file and, unless `SSL_CERT_DIR` says
//! otherwise, every file of the certificate directory. On Amazon Linux that directory holds the
//! bundle again (and its `trust` variant), on Debian one file per authority; reading and parsing all
//! of it was most of a cold start's SDK set-up (3.5 of 4 ms measured by `make bench`, where the
//! directory holds 290 files). The bundle alone holds the same authorities, so before anything
//! else starts the function names it in OpenSSL's own variables. An operator who set either
//! variable keeps it; with no bundle in the usual places nothing changes.

use std::ffi::OsString;
use std::path::Path;

/// Where Linux distributions keep the one-file bundle, in the order OpenSSL's probe looks
/// (`openssl-probe`): Amazon Linux and the Red Hat family first, then Debian and Ubuntu.
const BUNDLES: &[&str] = &[
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
];

/// Points `SSL_CERT_FILE` at the system's bundle and empties `SSL_CERT_DIR`. Call it first in
/// `main`, while no other thread runs (the environment is process-wide).
pub fn read_the_bundle_only() {
    let set = |name| std::env::var_os(name);
    if let Some(bundle) = bundle_to_use(set("SSL_CERT_FILE"), set("SSL_CERT_DIR"), |p| {
        Path::new(p).is_file()
    }) {
        std::env::set_var("SSL_CERT_FILE", bundle);
        std::env::set_var("SSL_CERT_DIR", "");
    }
}

/// The bundle to name, unless the operator already chose (either variable set) or there is none.
fn bundle_to_use(
    file: Option<OsString>,
    dir: Option<OsString>,
    exists: impl Fn(&str) -> bool,
) -> Option<&'static str> {
    if file.is_some() || dir.is_some() {
        return None;
    }
    BUNDLES.iter().copied().find(|bundle| exists(bundle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bundle_present_is_named() {
        assert_eq!(
            bundle_to_use(None, None, |_| true),
            Some("/etc/pki/tls/certs/ca-bundle.crt")
        );
        assert_eq!(
            bundle_to_use(None, None, |p| p.starts_with("/etc/ssl")),
            Some("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(bundle_to_use(None, None, |_| false), None);
    }

    #[test]
    fn an_operators_choice_stays() {
        let chosen = Some(OsString::from("/opt/corporate.pem"));
        assert_eq!(bundle_to_use(chosen.clone(), None, |_| true), None);
        assert_eq!(bundle_to_use(None, chosen, |_| true), None);
        assert_eq!(bundle_to_use(None, Some(OsString::new()), |_| true), None);
    }
}
