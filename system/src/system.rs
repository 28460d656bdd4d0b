//! The deployable system: every resource's name for a prefix, the routes, the usage plan's
//! limits, CORS, and each function's environment and least-privilege permissions.

use crate::mail::StudentEmailDomains;
use crate::names::{self, BACKUP_FUNCTION, GET_FUNCTION, INSERT_FUNCTION};
use crate::{backup, env};

/// The console's "Enable CORS" header list, `X-Api-Key` included.
pub const CORS_ALLOW_HEADERS: &str = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token";
/// Response headers a browser script may read (the list's pagination headers).
pub const CORS_EXPOSE_HEADERS: &str = "X-Next-Cursor,Link";

/// The usage plan's throttle: a token bucket of `burst_limit`, refilled at `rate_limit` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    pub rate_limit: f64,
    pub burst_limit: i32,
}

/// The usage plan's quota: `limit` requests per `period` (`DAY`, `WEEK` or `MONTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: i32,
    pub period: &'static str,
}

pub const THROTTLE: Throttle = Throttle { rate_limit: 5.0, burst_limit: 10 };
pub const QUOTA: Quota = Quota { limit: 1000, period: "DAY" };

impl std::fmt::Display for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requests/s, burst {}", self.rate_limit, self.burst_limit)
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} requests/{}", self.limit, self.period)
    }
}

/// A route as declared: path, method and the function (by binary name) behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteDecl {
    pub path: &'static str,
    pub method: &'static str,
    pub function: &'static str,
}

/// Every route requires the API key and proxies to its function (Lambda proxy integration).
pub const ROUTES: [RouteDecl; 5] = [
    RouteDecl { path: "/students", method: "GET", function: GET_FUNCTION },
    RouteDecl { path: "/students", method: "POST", function: INSERT_FUNCTION },
    RouteDecl { path: "/backup", method: "POST", function: BACKUP_FUNCTION },
    RouteDecl { path: "/backups", method: "GET", function: BACKUP_FUNCTION },
    RouteDecl { path: "/backups/{backupId}", method: "GET", function: BACKUP_FUNCTION },
];

/// What the deployer may choose; everything else follows from these.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prepended to every name, so environments and tests can live side by side.
    pub prefix: String,
    pub stage: String,
    pub region: String,
    pub sender_email: String,
    pub recipient_email: String,
    /// `*`, or the web page's origin.
    pub allowed_origin: String,
    /// The value for a new API key (AWS generates one when absent). The local stack keeps
    /// one value across restarts this way; a key's value can never change afterwards.
    pub api_key_value: Option<String>,
    /// The account the system lives in (ARNs, the backup bucket's expected owner).
    pub account: String,
    /// How long each function's log group keeps its logs.
    pub log_retention_days: i32,
    /// How long POST /backup waits before it answers 202.
    pub backup_wait_seconds: u64,
    /// The daily backup's EventBridge schedule expression (`cron(...)`, `rate(...)`), or none.
    pub backup_schedule: Option<String>,
    /// The domains a new student's confirmation may be mailed to (none listed: any).
    pub student_email_domains: StudentEmailDomains,
}

/// CloudWatch Logs' default retention for the functions' logs.
pub const DEFAULT_LOG_RETENTION_DAYS: i32 = 90;
/// The retentions CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [i32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// One function: its binary, its handler's needs and the permissions they take.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub binary: &'static str,
    /// IAM names are global: the role names the region, so a deploy in a second region has roles
    /// of its own.
    pub role: String,
    /// The log group Lambda writes to, made by infra first so it has a retention.
    pub log_group: String,
    /// The layer that carries the function's code (`bootstrap`); see `infra`'s functions.
    pub code_layer: String,
    pub memory_mb: i32,
    pub timeout_s: i32,
    pub environment: Vec<(&'static str, String)>,
    pub permissions: Vec<Permission>,
}

impl Function {
    /// The environment as owned pairs, to collect into whichever map a caller needs.
    pub fn environment_vars(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.environment.iter().map(|(k, v)| ((*k).to_owned(), v.clone()))
    }
}

/// One least-privilege policy statement (templates resolved against the account at deploy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub actions: Vec<&'static str>,
    pub resources: Vec<Resource>,
}

/// An ARN known only once the account and region are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Table(String),
    BucketObjects(String, &'static str),
    Function(String),
    EmailIdentity(String),
    LogGroup(String),
    LogStreams(String),
}

impl Resource {
    pub fn arn(&self, region: &str, account: &str) -> String {
        match self {
            Self::Table(t) => format!("arn:aws:dynamodb:{region}:{account}:table/{t}"),
            Self::BucketObjects(b, prefix) => format!("arn:aws:s3:::{b}/{prefix}*"),
            Self::Function(f) => format!("arn:aws:lambda:{region}:{account}:function:{f}"),
            Self::EmailIdentity(e) => format!("arn:aws:ses:{region}:{account}:identity/{e}"),
            Self::LogGroup(f) => format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{f}"),
            Self::LogStreams(f) => format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{f}:*"),
        }
    }
}

/// A route of the REST API and the function (by its deployed name) behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub path: &'static str,
    pub method: &'static str,
    pub function: String,
}

#[derive(Debug, Clone)]
pub struct System {
    pub options: Options,
    pub table: String,
    pub bucket: String,
    /// The catalog of backups.
    pub backups_table: String,
    /// The daily backup's EventBridge rule.
    pub schedule_rule: String,
    pub api: String,
    pub stage: String,
    pub api_key: String,
    pub usage_plan: String,
    pub throttle: Throttle,
    pub quota: Quota,
    pub secret: String,
    /// The value of [`names::STACK_TAG`] on everything this system's infra makes.
    pub stack: String,
    /// The permissions boundary policy every function role carries.
    pub boundary: String,
    pub routes: Vec<Route>,
    pub functions: Vec<Function>,
}

impl System {
    pub fn new(options: Options) -> Self {
        let p = options.prefix.clone();
        let name = |base: &str| format!("{p}{base}");
        let table = name(names::TABLE);
        let backups_table = name(names::BACKUPS_TABLE);
        // Bucket names are lowercase.
        let bucket = format!("{}{}", p.to_ascii_lowercase(), names::BUCKET);
        let env = |extra: &[(&'static str, String)]| {
            let mut env = vec![(env::TABLE_NAME, table.clone()), (env::ALLOWED_ORIGIN, options.allowed_origin.clone())];
            env.extend_from_slice(extra);
            env
        };
        let log_streams = |f: &str| Permission {
            actions: vec!["logs:CreateLogStream", "logs:PutLogEvents"],
            resources: vec![Resource::LogStreams(f.to_owned())],
        };
        let send_mail = Permission {
            actions: vec!["ses:SendEmail"],
            resources: vec![Resource::EmailIdentity(options.sender_email.clone())],
        };
        let function = |binary: &'static str, memory_mb, timeout_s, environment, mut permissions: Vec<Permission>| {
            let fname = name(binary);
            permissions.push(log_streams(&fname));
            Function {
                role: format!("{fname}-{}", options.region),
                log_group: format!("/aws/lambda/{fname}"),
                code_layer: format!("{fname}-code"),
                name: fname,
                binary,
                memory_mb,
                timeout_s,
                environment,
                permissions,
            }
        };
        // The list only when there is one: an older deployment (any domain) stays unchanged.
        let mut insert_env = vec![(env::SENDER_EMAIL, options.sender_email.clone())];
        if !options.student_email_domains.is_any() {
            insert_env.push((env::STUDENT_EMAIL_DOMAINS, options.student_email_domains.to_string()));
        }
        let functions = vec![
            function(
                GET_FUNCTION,
                128,
                10,
                env(&[]),
                vec![Permission { actions: vec!["dynamodb:Scan"], resources: vec![Resource::Table(table.clone())] }],
            ),
            function(
                INSERT_FUNCTION,
                128,
                10,
                env(&insert_env),
                vec![
                    Permission { actions: vec!["dynamodb:PutItem"], resources: vec![Resource::Table(table.clone())] },
                    send_mail.clone(),
                ],
            ),
            function(
                BACKUP_FUNCTION,
                256,
                300,
                env(&[
                    (env::S3_BUCKET_NAME, bucket.clone()),
                    (env::SENDER_EMAIL, options.sender_email.clone()),
                    (env::RECIPIENT_EMAIL, options.recipient_email.clone()),
                    (env::BUCKET_OWNER, options.account.clone()),
                    (env::BACKUPS_TABLE_NAME, backups_table.clone()),
                    (env::BACKUP_WAIT_SECONDS, options.backup_wait_seconds.to_string()),
                ]),
                vec![
                    // DescribeTable sizes the scan's pages from the students' average size.
                    Permission {
                        actions: vec!["dynamodb:DescribeTable", "dynamodb:Scan"],
                        resources: vec![Resource::Table(table.clone())],
                    },
                    Permission {
                        // PutObject covers the multipart calls; GetObject signs the download link.
                        // No DeleteObject: a backup, once written, is never deleted or replaced.
                        actions: vec!["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
                        resources: vec![Resource::BucketObjects(bucket.clone(), backup::PREFIX)],
                    },
                    Permission {
                        actions: vec![
                            "dynamodb:GetItem",
                            "dynamodb:PutItem",
                            "dynamodb:UpdateItem",
                            "dynamodb:DeleteItem",
                            "dynamodb:Query",
                        ],
                        resources: vec![Resource::Table(backups_table.clone())],
                    },
                    // POST /backup hands the backup to an asynchronous run of the function itself.
                    Permission {
                        actions: vec!["lambda:InvokeFunction"],
                        resources: vec![Resource::Function(name(BACKUP_FUNCTION))],
                    },
                    send_mail,
                ],
            ),
        ];
        let routes =
            ROUTES.iter().map(|r| Route { path: r.path, method: r.method, function: name(r.function) }).collect();
        Self {
            table,
            bucket,
            backups_table,
            schedule_rule: name(names::SCHEDULE_RULE),
            api: name(names::API),
            stage: options.stage.clone(),
            api_key: name(names::API_KEY),
            usage_plan: name(names::USAGE_PLAN),
            throttle: THROTTLE,
            quota: QUOTA,
            secret: name(names::SECRET),
            stack: match p.trim_end_matches('-') {
                "" => names::DEFAULT_STACK.to_owned(),
                prefix => prefix.to_owned(),
            },
            boundary: name(names::BOUNDARY),
            routes,
            functions,
            options,
        }
    }

    pub fn function(&self, name: &str) -> &Function {
        self.functions.iter().find(|f| f.name == name).expect("routes name declared functions")
    }

    /// The API's resource paths, in creation order.
    pub fn paths(&self) -> Vec<&'static str> {
        let mut paths: Vec<&'static str> = self.routes.iter().map(|r| r.path).collect();
        paths.dedup();
        paths
    }

    /// The methods a resource answers (for `Access-Control-Allow-Methods`).
    pub fn methods_of(&self, path: &str) -> String {
        let mut methods: Vec<&str> = self.routes.iter().filter(|r| r.path == path).map(|r| r.method).collect();
        methods.push("OPTIONS");
        methods.join(",")
    }

    /// The boundary policy's ARN.
    pub fn boundary_arn(&self) -> String {
        format!("arn:aws:iam::{}:policy/{}", self.options.account, self.boundary)
    }

    /// A role's ARN.
    pub fn role_arn(&self, role: &str) -> String {
        format!("arn:aws:iam::{}:role/{role}", self.options.account)
    }

    /// The stage's URL: API Gateway's, or `<gateway>/<stage>` where a local gateway serves
    /// the API (the emulator has no data plane of its own).
    pub fn invoke_url(&self, api_id: &str, gateway: Option<&str>) -> String {
        match gateway {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), self.stage),
            None => format!("https://{api_id}.execute-api.{}.amazonaws.com/{}", self.options.region, self.stage),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(prefix: &str) -> Options {
        Options {
            prefix: prefix.into(),
            stage: names::STAGE.into(),
            region: "us-east-1".into(),
            sender_email: "s@example.com".into(),
            recipient_email: "r@example.com".into(),
            allowed_origin: "*".into(),
            api_key_value: None,
            account: "123456789012".into(),
            log_retention_days: DEFAULT_LOG_RETENTION_DAYS,
            backup_wait_seconds: env::DEFAULT_BACKUP_WAIT_SECONDS,
            backup_schedule: Some(names::DEFAULT_BACKUP_SCHEDULE.into()),
            student_email_domains: StudentEmailDomains::any(),
        }
    }

    #[test]
    fn the_default_names_are_the_products() {
        let s = System::new(options(""));
        assert_eq!(
            (s.api.as_str(), s.api_key.as_str(), s.usage_plan.as_str(), s.table.as_str(), s.bucket.as_str()),
            ("student", "StudentApiKey", "StudentUsagePlan", "studentData", "student-backup-20250706")
        );
        assert_eq!(s.throttle, Throttle { rate_limit: 5.0, burst_limit: 10 });
        assert_eq!(s.quota, Quota { limit: 1000, period: "DAY" });
        let names: Vec<&str> = s.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["getStudentData", "insertStudentData", "BackupDynamoDBAndSendEmail"]);
        assert_eq!(s.paths(), ["/students", "/backup", "/backups", "/backups/{backupId}"]);
        assert_eq!(s.methods_of("/students"), "GET,POST,OPTIONS");
    }

    #[test]
    fn a_prefix_separates_every_name() {
        let s = System::new(options("T1-"));
        assert_eq!(s.api, "T1-student");
        assert_eq!(s.bucket, "t1-student-backup-20250706");
        assert!(s.functions.iter().all(|f| f.name.starts_with("T1-") && f.role.starts_with("T1-")));
        assert!(s.routes.iter().all(|r| r.function.starts_with("T1-")));
        assert_eq!((s.stack.as_str(), s.boundary.as_str()), ("T1", "T1-student-records-boundary"));
        assert_eq!(System::new(options("")).stack, "default");
    }

    #[test]
    fn roles_name_their_region_and_the_boundary_does_not() {
        let east = System::new(options(""));
        let west = System::new(Options { region: "eu-west-1".into(), ..options("") });
        let role = |s: &System| s.function(GET_FUNCTION).role.clone();
        assert_eq!(role(&east), "getStudentData-us-east-1");
        assert_eq!(role(&west), "getStudentData-eu-west-1");
        assert_eq!(east.boundary, west.boundary);
        assert_eq!(east.boundary_arn(), "arn:aws:iam::123456789012:policy/student-records-boundary");
        for s in [&east, &west] {
            assert!(s.functions.iter().all(|f| f.role.len() <= 64), "IAM role names are at most 64 characters");
        }
    }

    #[test]
    fn each_function_gets_the_environment_it_reads() {
        let s = System::new(options(""));
        let env_of = |name: &str| -> Vec<&str> { s.function(name).environment.iter().map(|(k, _)| *k).collect() };
        assert_eq!(env_of(GET_FUNCTION), [env::TABLE_NAME, env::ALLOWED_ORIGIN]);
        assert_eq!(env_of(INSERT_FUNCTION), [env::TABLE_NAME, env::ALLOWED_ORIGIN, env::SENDER_EMAIL]);
        let domains = StudentEmailDomains::parse("school.example.com,Pupils.example.org").unwrap();
        let listed = System::new(Options { student_email_domains: domains, ..options("") });
        assert_eq!(
            listed.function(INSERT_FUNCTION).environment.last(),
            Some(&(env::STUDENT_EMAIL_DOMAINS, "school.example.com,pupils.example.org".to_owned()))
        );
        assert!(
            listed
                .functions
                .iter()
                .filter(|f| f.binary != INSERT_FUNCTION)
                .all(|f| f.environment.iter().all(|(k, _)| *k != env::STUDENT_EMAIL_DOMAINS)),
            "only the insert function mails students"
        );
        assert_eq!(
            env_of(BACKUP_FUNCTION),
            [
                env::TABLE_NAME,
                env::ALLOWED_ORIGIN,
                env::S3_BUCKET_NAME,
                env::SENDER_EMAIL,
                env::RECIPIENT_EMAIL,
                env::BUCKET_OWNER,
                env::BACKUPS_TABLE_NAME,
                env::BACKUP_WAIT_SECONDS
            ]
        );
    }

    #[test]
    fn permissions_name_exact_resources_and_no_wildcard_actions() {
        let s = System::new(options(""));
        for f in &s.functions {
            for p in &f.permissions {
                assert!(p.actions.iter().all(|a| !a.contains('*')), "{p:?}");
                for r in &p.resources {
                    let arn = r.arn("us-east-1", "123456789012");
                    assert!(!arn.ends_with(":*:*") && arn != "*", "{arn}");
                }
            }
        }
        let get = s.function(GET_FUNCTION);
        assert_eq!(
            get.permissions[0].resources[0].arn("us-east-1", "1"),
            "arn:aws:dynamodb:us-east-1:1:table/studentData"
        );
    }
}
