//! Configuration, read once from the environment at start-up into typed values. A missing or
//! malformed required value stops the function at init with a message naming the variable.

use std::time::Duration;

use system::mail::StudentEmailDomains;
use system::{env, names};

use crate::backup::ScanPlan;
use crate::domain::Email;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where values come from: the process environment in Lambda, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }
}

fn or_default(source: &impl Source, name: &str, default: &str) -> String {
    source.get(name).unwrap_or_else(|| default.to_owned())
}

fn email(source: &impl Source, name: &'static str) -> Result<Email, ConfigError> {
    let raw = source.get(name).ok_or(ConfigError::Missing(name))?;
    Email::parse(&raw).map_err(|reason| ConfigError::Invalid { name, reason })
}

fn millis(source: &impl Source, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match source.get(name) {
        None => Ok(Duration::from_millis(default)),
        Some(raw) => {
            raw.parse::<u64>().ok().filter(|ms| *ms > 0).map(Duration::from_millis).ok_or(ConfigError::Invalid {
                name,
                reason: format!("{raw:?} is not a positive number of milliseconds"),
            })
        }
    }
}

/// A whole number from `range`, or `default` when unset.
fn whole(
    source: &impl Source,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = source.get(name) else { return Ok(default) };
    raw.parse::<u64>().ok().filter(|n| range.contains(n)).ok_or_else(|| ConfigError::Invalid {
        name,
        reason: format!("{raw:?} is not a whole number from {} to {}", range.start(), range.end()),
    })
}

/// How long an AWS call may take. An attempt that hangs is cut off and retried; the whole
/// operation (attempts and back-off together) is bounded, so a client gets a 5xx, not a hang.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

impl Timeouts {
    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            connect: millis(source, env::AWS_CONNECT_TIMEOUT_MS, 2_000)?,
            attempt: millis(source, env::AWS_ATTEMPT_TIMEOUT_MS, 5_000)?,
            operation: millis(source, env::AWS_OPERATION_TIMEOUT_MS, 12_000)?,
        })
    }
}

/// The origin allowed to read responses (`Access-Control-Allow-Origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigin(String);

impl AllowedOrigin {
    pub fn any() -> Self {
        Self("*".into())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw == "*" {
            return Ok(Self::any());
        }
        let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not an origin: {e}"))?;
        let origin = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https") || origin != raw.trim_end_matches('/') {
            return Err(format!("{raw:?} is not an origin (scheme://host[:port], no path)"));
        }
        Ok(Self(origin))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_any(&self) -> bool {
        self.0 == "*"
    }
}

/// What every function needs.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub table_name: String,
    pub allowed_origin: AllowedOrigin,
    pub timeouts: Timeouts,
}

impl CommonConfig {
    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let origin = or_default(source, env::ALLOWED_ORIGIN, "*");
        Ok(Self {
            table_name: or_default(source, env::TABLE_NAME, names::TABLE),
            allowed_origin: AllowedOrigin::parse(&origin)
                .map_err(|reason| ConfigError::Invalid { name: env::ALLOWED_ORIGIN, reason })?,
            timeouts: Timeouts::from_source(source)?,
        })
    }
}

/// `insertStudentData`: the sender of confirmation emails, and the domains they may go to.
#[derive(Debug, Clone)]
pub struct InsertConfig {
    pub common: CommonConfig,
    pub sender: Email,
    /// Unset or empty: any domain.
    pub student_email_domains: StudentEmailDomains,
}

impl InsertConfig {
    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let domains = source.get(env::STUDENT_EMAIL_DOMAINS).unwrap_or_default();
        Ok(Self {
            common: CommonConfig::from_source(source)?,
            sender: email(source, env::SENDER_EMAIL)?,
            student_email_domains: StudentEmailDomains::parse(&domains)
                .map_err(|reason| ConfigError::Invalid { name: env::STUDENT_EMAIL_DOMAINS, reason })?,
        })
    }
}

/// Lambda names the running function in this variable (`cargo lambda watch` too).
pub const FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// `BackupDynamoDBAndSendEmail`: the bucket, the catalog, who is told about each backup, and
/// how long `POST /backup` waits before answering 202.
#[derive(Debug, Clone)]
pub struct BackupConfig {
    pub common: CommonConfig,
    pub bucket: String,
    /// The account that must own the bucket (infra sets it; absent, S3 does not check).
    pub bucket_owner: Option<String>,
    pub catalog_table: String,
    pub sender: Email,
    pub recipient: Email,
    pub wait: Duration,
    pub page_bytes: u64,
    /// This function, which `POST /backup` invokes to run a backup after answering.
    pub function_name: String,
}

impl BackupConfig {
    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let wait = whole(
            source,
            env::BACKUP_WAIT_SECONDS,
            0..=env::MAX_BACKUP_WAIT_SECONDS,
            env::DEFAULT_BACKUP_WAIT_SECONDS,
        )?;
        let page_bytes = whole(
            source,
            env::BACKUP_PAGE_BYTES,
            ScanPlan::MIN_PAGE_BYTES..=ScanPlan::MAX_PAGE_BYTES,
            ScanPlan::DEFAULT_PAGE_BYTES,
        )?;
        Ok(Self {
            common: CommonConfig::from_source(source)?,
            bucket: or_default(source, env::S3_BUCKET_NAME, names::BUCKET),
            bucket_owner: source.get(env::BUCKET_OWNER),
            catalog_table: or_default(source, env::BACKUPS_TABLE_NAME, names::BACKUPS_TABLE),
            sender: email(source, env::SENDER_EMAIL)?,
            recipient: email(source, env::RECIPIENT_EMAIL)?,
            wait: Duration::from_secs(wait),
            page_bytes,
            function_name: or_default(source, FUNCTION_NAME, names::BACKUP_FUNCTION),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_optional_values_are_absent() {
        let c = BackupConfig::from_source(&[("SENDER_EMAIL", "s@example.com"), ("RECIPIENT_EMAIL", "r@example.com")])
            .unwrap();
        assert_eq!(c.common.table_name, "studentData");
        assert_eq!(c.bucket, "student-backup-20250706");
        assert!(c.common.allowed_origin.is_any());
        assert_eq!(c.common.timeouts.attempt, Duration::from_secs(5));
        assert_eq!(c.catalog_table, "studentBackups");
        assert_eq!(c.wait, Duration::from_secs(20));
        assert_eq!(c.function_name, "BackupDynamoDBAndSendEmail");
        assert_eq!(c.page_bytes, ScanPlan::DEFAULT_PAGE_BYTES);
    }

    #[test]
    fn the_wait_stays_inside_api_gateways_timeout() {
        let mails = [("SENDER_EMAIL", "s@example.com"), ("RECIPIENT_EMAIL", "r@example.com")];
        let with = |wait: &str| BackupConfig::from_source(&[mails[0], mails[1], ("BACKUP_WAIT_SECONDS", wait)]);
        assert_eq!(with("0").unwrap().wait, Duration::ZERO);
        assert_eq!(with("25").unwrap().wait, Duration::from_secs(25));
        for bad in ["26", "-1", "1.5", "soon"] {
            let err = with(bad).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { name: "BACKUP_WAIT_SECONDS", .. }), "{bad}: {err}");
        }
        let err = BackupConfig::from_source(&[mails[0], mails[1], ("BACKUP_PAGE_BYTES", "100")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable BACKUP_PAGE_BYTES is invalid: \"100\" is not a whole number from 65536 to 1048576"
        );
    }

    #[test]
    fn a_missing_required_value_is_named() {
        let err = BackupConfig::from_source(&[("SENDER_EMAIL", "s@example.com")]).unwrap_err();
        assert_eq!(err.to_string(), "environment variable RECIPIENT_EMAIL is required but not set");
        let err = InsertConfig::from_source(&[("TABLE_NAME", "t")]).unwrap_err();
        assert_eq!(err, ConfigError::Missing("SENDER_EMAIL"));
    }

    #[test]
    fn confirmations_go_anywhere_unless_domains_are_listed() {
        let sender = ("SENDER_EMAIL", "s@example.com");
        assert!(InsertConfig::from_source(&[sender]).unwrap().student_email_domains.is_any());
        let listed =
            InsertConfig::from_source(&[sender, ("STUDENT_EMAIL_DOMAINS", "School.example.com,b.example.org")])
                .unwrap()
                .student_email_domains;
        assert_eq!(listed.domains(), ["school.example.com", "b.example.org"]);
        let err = InsertConfig::from_source(&[sender, ("STUDENT_EMAIL_DOMAINS", "school.example.com,*.example.org")])
            .unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "STUDENT_EMAIL_DOMAINS", .. }), "{err}");
    }

    #[test]
    fn malformed_values_are_named() {
        let err = InsertConfig::from_source(&[("SENDER_EMAIL", "nope")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "SENDER_EMAIL", .. }));
        let err = CommonConfig::from_source(&[("ALLOWED_ORIGIN", "https://example.com/page")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "ALLOWED_ORIGIN", .. }));
        let err = CommonConfig::from_source(&[("AWS_ATTEMPT_TIMEOUT_MS", "0")]).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { name: "AWS_ATTEMPT_TIMEOUT_MS", .. }));
        let ok = CommonConfig::from_source(&[("ALLOWED_ORIGIN", "http://127.0.0.1:8080")]).unwrap();
        assert_eq!(ok.allowed_origin.as_str(), "http://127.0.0.1:8080");
    }
}
