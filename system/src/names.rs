//! The product's names. A deployment may prefix them (`--prefix qa-`) so that copies live side
//! by side; [`crate::System`] applies the prefix.

/// The DynamoDB table of students.
pub const TABLE: &str = "studentData";
/// The S3 bucket of backups (bucket names are global and lowercase).
pub const BUCKET: &str = "student-backup-20250706";
/// The REST API.
pub const API: &str = "student";
/// The API's stage.
pub const STAGE: &str = "prod";
/// The API key clients send in `x-api-key`.
pub const API_KEY: &str = "StudentApiKey";
/// The usage plan that admits the key to the stage.
pub const USAGE_PLAN: &str = "StudentUsagePlan";
/// The Secrets Manager secret holding the key's value (other keys: `<secret>/<key name>`).
pub const SECRET: &str = "student/api-key";

/// The functions, by their AWS names (= the binaries' names).
pub const GET_FUNCTION: &str = "getStudentData";
pub const INSERT_FUNCTION: &str = "insertStudentData";
pub const BACKUP_FUNCTION: &str = "BackupDynamoDBAndSendEmail";
pub const FUNCTIONS: [&str; 3] = [GET_FUNCTION, INSERT_FUNCTION, BACKUP_FUNCTION];

/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The tag every resource infra makes carries; its value is the stack: the prefix (without a
/// trailing `-`), or [`DEFAULT_STACK`]. `destroy` deletes only what carries it.
pub const STACK_TAG: &str = "student-records:stack";
pub const DEFAULT_STACK: &str = "default";
/// The permissions boundary every function role carries (IAM names are global: one per prefix,
/// shared by the regions, so it names no region).
pub const BOUNDARY: &str = "student-records-boundary";

/// The DynamoDB table of backups: one item per backup (running, succeeded or failed) and the
/// lock that lets one run at a time.
pub const BACKUPS_TABLE: &str = "studentBackups";
/// The EventBridge rule that runs the backup every day.
pub const SCHEDULE_RULE: &str = "student-daily-backup";
/// Its default expression: 02:00 UTC every day.
pub const DEFAULT_BACKUP_SCHEDULE: &str = "cron(0 2 * * ? *)";
