//! CIDR blocks as AWS writes them (`10.0.0.0/8`, `2001:db8::/32`), read in one place for every rule
//! that judges a source range: security group ingress, and a bucket policy's `aws:SourceIp`.

use std::net::IpAddr;

/// The address and prefix length of `text`; a bare address is its own `/32` (IPv4) or `/128` (IPv6).
/// `None` when the address or the prefix is unreadable or the prefix is longer than the address.
pub fn parse(text: &str) -> Option<(IpAddr, u8)> {
    let text = text.trim();
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let address: IpAddr = address.parse().ok()?;
    let full = if address.is_ipv6() { 128 } else { 32 };
    let prefix = match prefix {
        Some(prefix) => prefix.parse::<u8>().ok().filter(|p| *p <= full)?,
        None => full,
    };
    Some((address, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_prefixes_are_read_and_nonsense_is_not() {
        assert_eq!(
            parse(" 10.0.0.0/8 "),
            Some(("10.0.0.0".parse().unwrap(), 8))
        );
        assert_eq!(
            parse("203.0.113.7"),
            Some(("203.0.113.7".parse().unwrap(), 32))
        );
        assert_eq!(
            parse("2001:db8::/32"),
            Some(("2001:db8::".parse().unwrap(), 32))
        );
        assert_eq!(parse("::1"), Some(("::1".parse().unwrap(), 128)));
        for nonsense in [
            "",
            "x/1",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "pl-1234",
            "sg-1234",
        ] {
            assert_eq!(parse(nonsense), None, "{nonsense}");
        }
    }
}
