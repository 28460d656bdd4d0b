//! The environment variables the functions read. `infra deploy` sets them on each function
//! and writes them into its outputs; `scripts/dev` hands exactly those to `cargo lambda watch`.

/// The student table.
pub const TABLE_NAME: &str = "TABLE_NAME";
/// The backup bucket.
pub const S3_BUCKET_NAME: &str = "S3_BUCKET_NAME";
/// The verified SES identity that sends confirmations and backup notices.
pub const SENDER_EMAIL: &str = "SENDER_EMAIL";
/// Who receives backup notices.
pub const RECIPIENT_EMAIL: &str = "RECIPIENT_EMAIL";
/// `*` or the one origin allowed to read responses (CORS).
pub const ALLOWED_ORIGIN: &str = "ALLOWED_ORIGIN";
/// Bounds on every AWS call, in milliseconds (optional).
pub const AWS_CONNECT_TIMEOUT_MS: &str = "AWS_CONNECT_TIMEOUT_MS";
pub const AWS_ATTEMPT_TIMEOUT_MS: &str = "AWS_ATTEMPT_TIMEOUT_MS";
pub const AWS_OPERATION_TIMEOUT_MS: &str = "AWS_OPERATION_TIMEOUT_MS";
pub const TIMEOUTS: [&str; 3] = [AWS_CONNECT_TIMEOUT_MS, AWS_ATTEMPT_TIMEOUT_MS, AWS_OPERATION_TIMEOUT_MS];
/// The account that must own the backup bucket (S3's `ExpectedBucketOwner`), so a bucket that
/// changed hands is never written to.
pub const BUCKET_OWNER: &str = "BUCKET_OWNER";
/// The table of backups (their status, and the one-at-a-time lock).
pub const BACKUPS_TABLE_NAME: &str = "BACKUPS_TABLE_NAME";
/// How long POST /backup waits for the backup before answering 202 (0: answer at once).
pub const BACKUP_WAIT_SECONDS: &str = "BACKUP_WAIT_SECONDS";
/// The default: well inside API Gateway's 29 s integration timeout.
pub const DEFAULT_BACKUP_WAIT_SECONDS: u64 = 20;
/// The longest wait: API Gateway answers 504 after 29 s, and the answer needs time to leave.
pub const MAX_BACKUP_WAIT_SECONDS: u64 = 25;
/// The backup's scan pages, in bytes of items (optional; DynamoDB's own cap is 1 MB). Smaller
/// pages hold less memory, larger ones take fewer requests: `scripts/bench` measures both.
pub const BACKUP_PAGE_BYTES: &str = "BACKUP_PAGE_BYTES";
/// The domains a student's confirmation email may go to, comma-separated (see
/// [`crate::mail::StudentEmailDomains`]); unset or empty: any domain.
pub const STUDENT_EMAIL_DOMAINS: &str = "STUDENT_EMAIL_DOMAINS";
