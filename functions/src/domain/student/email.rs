//! An email address: a student's, and the sender's and the backup recipient's from the
//! configuration.

use email_address::{EmailAddress, Options as EmailOptions};

const MAX_CHARS: usize = 254;

string_newtype!(
    /// A syntactically valid address of at most 254 characters, without display text.
    Email
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters"));
        }
        // The address syntax admits any non-ASCII character (RFC 6531); control characters
        // (C0 and C1) have no place in an address a person types.
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        let options = EmailOptions::default().with_required_tld().without_domain_literal().without_display_text();
        EmailAddress::parse_with_options(raw, options)
            .map(|_| Self(raw.to_owned()))
            .map_err(|e| format!("must be a valid email address ({e})"))
    }

    /// The domain (after the last `@`) as DNS knows it: ASCII, lowercase, an international
    /// domain in its `xn--` form; `None` when it is not a domain name.
    pub fn ascii_domain(&self) -> Option<String> {
        let (_, domain) = self.0.rsplit_once('@')?;
        match url::Host::parse(domain) {
            Ok(url::Host::Domain(ascii)) => Some(ascii),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_is_read_as_dns_does() {
        let domain = |raw: &str| Email::parse(raw).unwrap().ascii_domain();
        assert_eq!(domain("a@School.Example.COM").as_deref(), Some("school.example.com"));
        assert_eq!(domain("\"a@b\"@example.org").as_deref(), Some("example.org"));
        assert_eq!(domain("a@bücher.example").as_deref(), Some("xn--bcher-kva.example"));
    }
}
