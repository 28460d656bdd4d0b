//! Email through SES v2: a narrow port, its adapter (and, feature `test-util`, a recording one
//! for tests), and the messages (askama templates, so every value in the HTML part is escaped).

use std::future::Future;

use askama::Template;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::aws::{Failure, classify};
use crate::backup::BackupRecord;
use crate::domain::{Email, NewStudent};

#[cfg(feature = "test-util")]
mod recording;
#[cfg(feature = "test-util")]
pub use recording::RecordingMailer;

/// An email with a text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// SES refused the message, typically because the sender (or, in the SES sandbox, the
    /// recipient) is not a verified identity.
    #[error("the email service refused the message; is the sender address verified?")]
    Rejected(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the email service is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the email could not be sent")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub trait Mailer: Send + Sync {
    fn send(&self, mail: Mail) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// SES v2 `SendEmail` from one sender.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: Email,
}

impl SesMailer {
    pub fn new(client: Client, from: Email) -> Self {
        Self { client, from }
    }
}

fn utf8(data: String) -> Content {
    Content::builder().data(data).charset("UTF-8").build().expect("data is set")
}

impl Mailer for SesMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(mail.subject))
            .body(Body::builder().text(utf8(mail.text)).html(utf8(mail.html)).build())
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(self.from.as_str())
            .destination(Destination::builder().to_addresses(mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let rejected = e.as_service_error().is_some_and(|s| {
                    s.is_message_rejected()
                        || s.is_mail_from_domain_not_verified_exception()
                        || s.is_account_suspended_exception()
                        || s.is_sending_paused_exception()
                        || s.is_bad_request_exception()
                });
                let failure = classify(&e);
                let source = Box::new(e);
                Err(match (rejected, failure) {
                    (true, _) => MailError::Rejected(source),
                    (false, Failure::Unavailable) => MailError::Unavailable(source),
                    (false, Failure::Fault) => MailError::Failed(source),
                })
            }
        }
    }
}

impl<T: Mailer> Mailer for &T {
    fn send(&self, mail: Mail) -> impl Future<Output = Result<(), MailError>> + Send {
        (**self).send(mail)
    }
}

#[derive(Template)]
#[template(path = "confirmation.html")]
struct ConfirmationHtml<'a> {
    name: &'a str,
}

#[derive(Template)]
#[template(path = "confirmation.txt", escape = "none")]
struct ConfirmationText<'a> {
    name: &'a str,
}

/// The most of a name a confirmation shows, in characters.
pub const CONFIRMATION_NAME_CHARS: usize = 100;

/// The confirmation a new student receives. Whoever holds an API key chooses every field, so
/// the message carries none of them but the name, cut to [`CONFIRMATION_NAME_CHARS`]: the
/// school's sender must not become a way to mail someone else's text.
pub fn confirmation(student: &NewStudent) -> Mail {
    let name = shortened(student.name.as_str(), CONFIRMATION_NAME_CHARS);
    Mail {
        to: student.email.to_string(),
        subject: "Your student record was created".to_owned(),
        text: ConfirmationText { name: &name }.render().expect("template renders"),
        html: ConfirmationHtml { name: &name }.render().expect("template renders"),
    }
}

/// `text` when it has at most `max` characters, else its first `max - 1` (on a character
/// boundary, trailing spaces dropped) and an ellipsis.
fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max - 1).collect();
    format!("{}…", kept.trim_end())
}

#[derive(Template)]
#[template(path = "backup_notice.html")]
struct BackupNoticeHtml<'a> {
    backup: &'a BackupRecord,
}

#[derive(Template)]
#[template(path = "backup_notice.txt", escape = "none")]
struct BackupNoticeText<'a> {
    backup: &'a BackupRecord,
}

/// The link to a new backup, for the recipient of backup notices.
pub fn backup_notice(to: &Email, backup: &BackupRecord) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("Student backup: {} students", backup.count),
        text: BackupNoticeText { backup }.render().expect("template renders"),
        html: BackupNoticeHtml { backup }.render().expect("template renders"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn student(name: &str, class: &str) -> NewStudent {
        let raw = [
            ("studentid", "SV-visit-evil-example"),
            ("name", name),
            ("class", class),
            ("birthdate", "2008-05-17"),
            ("email", "a@example.com"),
        ];
        let raw = raw.into_iter().map(|(k, v)| (k.to_owned(), serde_json::Value::from(v))).collect();
        NewStudent::parse(raw, time::macros::date!(2026 - 01 - 01)).expect("a valid student")
    }

    #[test]
    fn the_html_part_escapes_the_name_and_the_text_part_keeps_it() {
        let mail = confirmation(&student("<script>alert(1)</script> & \"Co\"", "12A"));
        assert_eq!(mail.to, "a@example.com");
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(mail.html.contains("&#60;script&#62;") || mail.html.contains("&lt;script&gt;"), "{}", mail.html);
        assert!(mail.text.contains("<script>alert(1)</script> & \"Co\""));
    }

    #[test]
    fn the_confirmation_carries_no_caller_text_but_the_name() {
        let mail = confirmation(&student("Ann", "Click https://evil.example to verify"));
        assert_eq!(mail.subject, "Your student record was created");
        assert_eq!(
            mail.text,
            "Welcome, Ann\n\nYour student record has been created.\n\nIf this was not you, reply to this message."
        );
        for part in [&mail.subject, &mail.text, &mail.html] {
            for caller_text in ["evil", "SV-visit", "2008-05-17", "a@example.com"] {
                assert!(!part.contains(caller_text), "{caller_text:?} in {part}");
            }
        }
    }

    #[test]
    fn a_long_name_is_cut_to_100_characters_on_a_char_boundary() {
        // 200 characters of two to four bytes each: a cut by bytes would split one.
        let name: String = "é😀ß".repeat(66) + "ab";
        let mail = confirmation(&student(&name, "12A"));
        let shown = mail.text.lines().next().unwrap().strip_prefix("Welcome, ").unwrap();
        assert_eq!(shown.chars().count(), CONFIRMATION_NAME_CHARS, "{shown}");
        assert!(shown.ends_with('…'));
        assert!(name.starts_with(shown.trim_end_matches('…')));
        let exact: String = "n".repeat(100);
        assert!(confirmation(&student(&exact, "12A")).text.starts_with(&format!("Welcome, {exact}\n")));
        assert_eq!(shortened("a b  c", 4), "a b…", "no space before the ellipsis");
    }

    #[test]
    fn the_backup_notice_shows_the_record_in_both_parts() {
        let backup = BackupRecord {
            bucket: "student-backup".into(),
            key: "backups/backup-1.json".into(),
            count: 2,
            bytes: 300,
            sha256: "abc123".into(),
            download_url: "https://s3.example.com/k?X-Amz-Expires=3600&X-Amz-Signature=f00".into(),
            expires_at: "2025-07-06T10:08:07Z".into(),
        };
        let mail = backup_notice(&Email::parse("admin@example.com").unwrap(), &backup);
        assert_eq!(mail.subject, "Student backup: 2 students");
        assert_eq!(
            mail.text,
            "Student backup ready\n\n2 students (300 bytes) were backed up to s3://student-backup/backups/backup-1.json.\n\n\
             Download (works until 2025-07-06T10:08:07Z):\n\
             https://s3.example.com/k?X-Amz-Expires=3600&X-Amz-Signature=f00\n\nSHA-256: abc123"
        );
        assert!(mail.html.contains("X-Amz-Expires=3600&#38;X-Amz-Signature=f00"), "{}", mail.html);
        assert!(mail.html.contains("<code>s3://student-backup/backups/backup-1.json</code>"), "{}", mail.html);
    }
}
