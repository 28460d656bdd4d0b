//! Where the confirmation of a new student may be mailed. Without a list the school's verified
//! sender mails whatever address a caller names, so an API key becomes a way to send the
//! school's mail anywhere; with one, only addresses at the listed domains get it.

use std::fmt;

/// The longest domain name DNS allows (RFC 1035), and its longest label.
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;

/// The domains confirmations may go to, as `infra deploy --student-email-domains` and the
/// `STUDENT_EMAIL_DOMAINS` variable write them: comma-separated, ASCII (an international domain
/// in its `xn--` form), matched without regard to case, each exactly — a listed
/// `school.example.com` admits `a@school.example.com` and `a@SCHOOL.example.com`, not
/// `a@pupils.school.example.com` (a subdomain may be run by someone else; list it to admit it).
/// Empty: any domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudentEmailDomains(Vec<String>);

impl StudentEmailDomains {
    /// Any domain.
    pub fn any() -> Self {
        Self::default()
    }

    /// `a.example.com,b.example.org` (spaces around commas and empty items ignored; lowercased;
    /// repeats dropped), or a message naming the first item that is not a domain name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut domains: Vec<String> = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let domain = item.to_ascii_lowercase();
            if let Some(problem) = domain_problem(&domain) {
                return Err(format!("{item:?} is not a domain name: {problem}"));
            }
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        Ok(Self(domains))
    }

    /// True when every domain is allowed (no list).
    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    pub fn domains(&self) -> &[String] {
        &self.0
    }

    /// Whether a confirmation may go to `domain` (an address's part after its `@`, in ASCII).
    pub fn allows(&self, domain: &str) -> bool {
        self.is_any() || self.0.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

/// The variable's value: the domains joined by commas (empty for any domain).
impl fmt::Display for StudentEmailDomains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// Dotted labels of letters, digits and hyphens (not first or last), with a top-level label.
fn domain_problem(domain: &str) -> Option<&'static str> {
    if domain.len() > MAX_DOMAIN {
        return Some("longer than 253 characters");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Some("it needs a dot, as in school.example.com");
    }
    for label in labels {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Some("each part between dots has 1 to 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Some("only letters a-z, digits, '-' and dots (an international domain in its xn-- form)");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("a part between dots neither starts nor ends with '-'");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_read_lowercased_without_repeats_and_written_back() {
        let d = StudentEmailDomains::parse(" School.Example.com, ,pupils.example.org,school.example.COM ").unwrap();
        assert_eq!(d.domains(), ["school.example.com", "pupils.example.org"]);
        assert_eq!(d.to_string(), "school.example.com,pupils.example.org");
        assert_eq!(StudentEmailDomains::parse(&d.to_string()).unwrap(), d);
        assert!(StudentEmailDomains::parse("").unwrap().is_any());
        assert!(StudentEmailDomains::parse(" , ").unwrap().is_any());
        assert!(StudentEmailDomains::parse("xn--bcher-kva.example").is_ok());
    }

    #[test]
    fn matching_ignores_case_and_admits_no_subdomain_or_parent() {
        let d = StudentEmailDomains::parse("school.example.com").unwrap();
        assert!(d.allows("school.example.com"));
        assert!(d.allows("SCHOOL.Example.COM"));
        for other in
            ["pupils.school.example.com", "example.com", "school.example.com.evil.test", "evilschool.example.com"]
        {
            assert!(!d.allows(other), "{other}");
        }
        assert!(StudentEmailDomains::any().allows("anywhere.test"));
    }

    #[test]
    fn what_is_not_a_domain_is_named() {
        for bad in
            ["localhost", "a@school.example.com", "*.example.com", "-a.example.com", "a..example.com", "bücher.example"]
        {
            let err = StudentEmailDomains::parse(&format!("ok.example.com,{bad}")).unwrap_err();
            assert!(err.starts_with(&format!("{bad:?} is not a domain name")), "{err}");
        }
        assert!(StudentEmailDomains::parse(&format!("{}.com", "a".repeat(64))).is_err());
    }
}
