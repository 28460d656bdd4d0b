//! `infra restore`: puts a backup written by the backup function back into the table.
//!
//! Nothing is written until the whole object has been checked against the manifest beside it
//! (`<name>.manifest.json`: byte length, SHA-256, student count) and every element has been
//! read as a student. With `--expect-sha256` the object and its manifest must also both have
//! the digest received out of band (the backup notice carries it): whoever could rewrite a
//! backup could rewrite its manifest too, but not that email. Students already in the table
//! are skipped unless `--overwrite`.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use sha2::{Digest, Sha256};
use system::Student;
use system::backup::{BackupId, MANIFEST_FORMAT, Manifest, PREFIX, manifest_key};
use system::student::{ATTRIBUTES, KEY};

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};

/// DynamoDB's BatchWriteItem limit.
const BATCH: usize = 25;
/// Attempts per batch at the items DynamoDB left unprocessed (backoff 50 ms, 100 ms, ...).
const ATTEMPTS: u32 = 8;
/// Batch requests failing one after another before the rest is given up.
const FAILURES_IN_A_ROW: usize = 3;
const PROGRESS_EVERY: usize = 1000;

/// Which backup to restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Key(String),
    Latest,
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub key: String,
    pub total: usize,
    pub written: usize,
    pub skipped: usize,
    pub failed: usize,
    /// The first failure, when any student failed.
    pub problem: Option<String>,
}

impl Outcome {
    fn done(&self) -> usize {
        self.written + self.skipped + self.failed
    }

    /// The final line: `restored KEY: N written, N skipped, N failed`.
    pub fn line(&self) -> String {
        format!("restored {}: {} written, {} skipped, {} failed", self.key, self.written, self.skipped, self.failed)
    }
}

fn refused(message: String) -> InfraError {
    InfraError::Conflict(format!("refused: {message}"))
}

/// The newest backup among `keys`: keys sort by time (`backup-YYYYMMDD-HHMMSS-…`).
pub fn newest<'a>(keys: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    keys.into_iter().filter(|k| BackupId::of_object(k).is_some()).max()
}

/// A SHA-256 given as 64 hex digits, in lowercase (as manifests write it).
pub fn sha256_hex(raw: &str) -> std::result::Result<String, String> {
    let raw = raw.trim();
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err("a SHA-256 digest: 64 hexadecimal digits".to_owned())
    }
}

/// Checks `body` (the object at `key`) against its manifest and, when given, the `expected`
/// SHA-256 (lowercase hex), and reads its students. Takes the body so that only the parsed
/// students are held afterwards.
pub fn check(
    key: &str,
    manifest_key: &str,
    manifest: &Manifest,
    body: Vec<u8>,
    expected: Option<&str>,
) -> Result<Vec<Student>> {
    if manifest.format != MANIFEST_FORMAT {
        return Err(refused(format!(
            "{manifest_key} has format {:?}; this tool restores {MANIFEST_FORMAT:?} backups only",
            manifest.format
        )));
    }
    if manifest.key != key {
        return Err(refused(format!("{manifest_key} describes {}, not {key}", manifest.key)));
    }
    let sha256 = format!("{:x}", Sha256::digest(&body));
    if let Some(expected) = expected
        && (sha256 != expected || !manifest.sha256.eq_ignore_ascii_case(expected))
    {
        return Err(refused(format!(
            "{key} is not the backup expected: its sha256 is {sha256} (its manifest says {}), \
             not {expected} (--expect-sha256); nothing was written",
            manifest.sha256
        )));
    }
    let bytes = body.len() as u64;
    if bytes != manifest.bytes || !sha256.eq_ignore_ascii_case(&manifest.sha256) {
        return Err(refused(format!(
            "{key} does not match its manifest (sha256 {sha256} expected {}; {bytes} bytes, expected {}): \
             it is corrupt or truncated; nothing was written",
            manifest.sha256, manifest.bytes
        )));
    }
    let students: Vec<Student> = match serde_json::from_slice(&body) {
        Ok(students) => students,
        Err(e) => {
            return Err(refused(format!(
                "{key} is not a list of students: {}; nothing was written",
                diagnose(&body, e)
            )));
        }
    };
    drop(body);
    if students.len() as u64 != manifest.count {
        return Err(refused(format!(
            "{key} holds {} students, its manifest says {}; nothing was written",
            students.len(),
            manifest.count
        )));
    }
    let mut ids = HashSet::with_capacity(students.len());
    for (index, student) in students.iter().enumerate() {
        if student.studentid.is_empty() {
            return Err(refused(format!("{key}: element {index} has an empty studentid; nothing was written")));
        }
        if !ids.insert(student.studentid.as_str()) {
            return Err(refused(format!(
                "{key} holds student {:?} more than once; nothing was written",
                student.studentid
            )));
        }
    }
    Ok(students)
}

/// Names the first element that is not a student (only on the error path, so a second parse
/// costs nothing in the usual case).
fn diagnose(body: &[u8], error: serde_json::Error) -> String {
    let Ok(serde_json::Value::Array(elements)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return error.to_string();
    };
    for (index, element) in elements.into_iter().enumerate() {
        let Some(object) = element.as_object() else {
            return format!("element {index} is not an object");
        };
        for field in ATTRIBUTES {
            match object.get(field) {
                Some(serde_json::Value::String(_)) => {}
                Some(other) => return format!("element {index}: {field} is not a string ({other})"),
                None => return format!("element {index}: {field} is missing"),
            }
        }
    }
    error.to_string()
}

/// The object at `key`, or `None` when there is none.
async fn get(ctx: &Ctx, key: &str) -> Result<Option<Vec<u8>>> {
    let bucket = &ctx.sys.bucket;
    let got = ctx
        .aws
        .s3
        .get_object()
        .bucket(bucket)
        .expected_bucket_owner(&ctx.account)
        .key(key)
        .send()
        .await
        .map_err(|e| aws("s3:GetObject", format!("s3://{bucket}/{key}"), e));
    let Some(got) = found(got, &["NoSuchKey", "NotFound"])? else { return Ok(None) };
    let body = got.body.collect().await.map_err(|e| InfraError::Io(format!("reading s3://{bucket}/{key}: {e}")))?;
    Ok(Some(Vec::from(body.into_bytes())))
}

/// The newest backup in the bucket (all pages of the listing).
pub async fn latest(ctx: &Ctx) -> Result<String> {
    let bucket = &ctx.sys.bucket;
    let mut pages = ctx
        .aws
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .expected_bucket_owner(&ctx.account)
        .prefix(PREFIX)
        .into_paginator()
        .send();
    let mut best: Option<String> = None;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws("s3:ListBucket", bucket.clone(), e))?;
        let keys = page.contents().iter().filter_map(|o| o.key());
        if let Some(key) = newest(best.as_deref().into_iter().chain(keys)) {
            best = Some(key.to_owned());
        }
    }
    best.ok_or_else(|| {
        InfraError::Missing(format!("a backup: s3://{bucket}/{PREFIX} holds none (POST /backup makes one)"))
    })
}

/// Every student id in the table (keys only, all pages).
async fn existing_ids(ctx: &Ctx) -> Result<HashSet<String>> {
    let table = &ctx.sys.table;
    let mut ids = HashSet::new();
    let mut items = ctx
        .aws
        .dynamodb
        .scan()
        .table_name(table)
        .projection_expression("#id")
        .expression_attribute_names("#id", KEY)
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.next().await {
        let mut item = item.map_err(|e| aws("dynamodb:Scan", table.clone(), e))?;
        if let Some(AttributeValue::S(id)) = item.remove(KEY) {
            ids.insert(id);
        }
    }
    Ok(ids)
}

/// One batch's result: how many were written, how many not, and why not.
struct Batch {
    written: usize,
    failed: usize,
    error: Option<InfraError>,
}

/// Writes one batch (≤ 25), retrying what DynamoDB leaves unprocessed with backoff.
async fn write_batch(ctx: &Ctx, mut requests: Vec<WriteRequest>) -> Batch {
    let table = &ctx.sys.table;
    let mut written = 0;
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(50 << (attempt - 1))).await;
        }
        let sent = requests.len();
        let out = ctx.aws.dynamodb.batch_write_item().request_items(table, std::mem::take(&mut requests)).send().await;
        match out {
            Ok(out) => {
                requests = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
                written += sent - requests.len();
                if requests.is_empty() {
                    return Batch { written, failed: 0, error: None };
                }
            }
            Err(e) => {
                return Batch { written, failed: sent, error: Some(aws("dynamodb:BatchWriteItem", table.clone(), e)) };
            }
        }
    }
    let failed = requests.len();
    let error = InfraError::Conflict(format!("{failed} students stayed unprocessed after {ATTEMPTS} attempts"));
    Batch { written, failed, error: Some(error) }
}

/// Errors after which no other batch can succeed.
fn hopeless(error: &InfraError) -> bool {
    matches!(error, InfraError::AccessDenied { .. } | InfraError::Unreachable { .. })
        || error.code() == Some("ResourceNotFoundException")
}

/// Writes the students, counting what happened.
struct Writer<'a> {
    ctx: &'a Ctx,
    outcome: Outcome,
    batch: Vec<WriteRequest>,
    failures_in_a_row: usize,
    gave_up: bool,
    next_report: usize,
}

impl Writer<'_> {
    async fn put(&mut self, student: Student) {
        if self.gave_up {
            self.outcome.failed += 1;
            self.tick();
            return;
        }
        let put = PutRequest::builder().set_item(Some(student.into_item(AttributeValue::S))).build().expect("item set");
        self.batch.push(WriteRequest::builder().put_request(put).build());
        if self.batch.len() == BATCH {
            self.flush().await;
        }
    }

    fn skip(&mut self) {
        self.outcome.skipped += 1;
        self.tick();
    }

    async fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let result = write_batch(self.ctx, std::mem::take(&mut self.batch)).await;
        self.outcome.written += result.written;
        self.outcome.failed += result.failed;
        match result.error {
            None => self.failures_in_a_row = 0,
            Some(error) => {
                self.failures_in_a_row += 1;
                if hopeless(&error) || self.failures_in_a_row >= FAILURES_IN_A_ROW {
                    self.gave_up = true;
                }
                self.outcome.problem.get_or_insert_with(|| error.to_string());
            }
        }
        self.tick();
    }

    fn tick(&mut self) {
        let o = &self.outcome;
        if o.done() >= self.next_report {
            self.ctx.report.progress(format!(
                "{} of {} students: {} written, {} skipped, {} failed",
                o.done(),
                o.total,
                o.written,
                o.skipped,
                o.failed
            ));
            self.next_report = (o.done() / PROGRESS_EVERY + 1) * PROGRESS_EVERY;
        }
    }
}

/// Restores a backup into the table. `Err` when it was refused (nothing written) or could not
/// start; otherwise the counts, with `failed > 0` when some students could not be written.
/// `expected`: the SHA-256 the backup must have (lowercase hex).
pub async fn restore(ctx: &Ctx, source: Source, overwrite: bool, expected: Option<&str>) -> Result<Outcome> {
    let bucket = &ctx.sys.bucket;
    let key = match source {
        Source::Key(key) => key,
        Source::Latest => latest(ctx).await?,
    };
    if key.ends_with(".manifest.json") || !key.ends_with(".json") {
        return Err(refused(format!(
            "{key} is not a backup object: pass the backup's key (….json), not its manifest (….manifest.json)"
        )));
    }
    let manifest_key = manifest_key(&key);
    let manifest = get(ctx, &manifest_key).await?.ok_or_else(|| {
        refused(format!("{key} has no manifest: s3://{bucket}/{manifest_key} is missing, so it cannot be checked"))
    })?;
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| refused(format!("{manifest_key} is not a backup manifest: {e}")))?;
    let body = get(ctx, &key).await?.ok_or_else(|| refused(format!("s3://{bucket}/{key} does not exist")))?;
    let students = check(&key, &manifest_key, &manifest, body, expected)?;
    let from = if manifest.table.is_empty() { String::new() } else { format!(" of table {}", manifest.table) };
    ctx.report.progress(format!(
        "{key}: {} students{from} from {}, matches its manifest{}; restoring into {}{}",
        students.len(),
        manifest.created_at,
        if expected.is_some() { " and the expected sha256" } else { "" },
        ctx.sys.table,
        if overwrite { " (overwriting)" } else { "" }
    ));

    let existing = if overwrite { HashSet::new() } else { existing_ids(ctx).await? };
    if !overwrite {
        ctx.report.progress(format!("{} students already in {}", existing.len(), ctx.sys.table));
    }
    let mut writer = Writer {
        ctx,
        outcome: Outcome { key, total: students.len(), ..Outcome::default() },
        batch: Vec::with_capacity(BATCH),
        failures_in_a_row: 0,
        gave_up: false,
        next_report: PROGRESS_EVERY,
    };
    for student in students {
        if existing.contains(&student.studentid) {
            writer.skip();
        } else {
            writer.put(student).await;
        }
    }
    writer.flush().await;
    Ok(writer.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(students: &str) -> Vec<u8> {
        format!("[{students}\n]\n").into_bytes()
    }

    fn manifest_for(key: &str, body: &[u8], count: u64) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT.into(),
            bucket: "b".into(),
            key: key.into(),
            table: "studentData".into(),
            count,
            bytes: body.len() as u64,
            sha256: format!("{:x}", Sha256::digest(body)),
            created_at: "2025-07-06T09:08:07Z".into(),
        }
    }

    const KEY_: &str = "backups/backup-20250706-090807-1a2b3c4d.json";
    const ONE: &str = r#"{"studentid":"SV001","name":"A","class":"12A1","birthdate":"2008-05-17","email":"a@x.com"}"#;
    const TWO: &str = r#"{"studentid":"SV002","name":"B","class":"12A1","birthdate":"2008-05-18","email":"b@x.com"}"#;

    fn refusal(result: Result<Vec<Student>>) -> String {
        result.expect_err("refused").to_string()
    }

    #[test]
    fn the_manifest_written_by_the_backup_function_reads() {
        let text = r#"{"format":"student-backup/1","bucket":"student-backup-20250706",
            "key":"backups/backup-20250706-090807-1a2b3c4d.json","table":"studentData","count":3,
            "bytes":321,"sha256":"ab","createdAt":"2025-07-06T09:08:07Z"}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!((m.count, m.bytes, m.created_at.as_str()), (3, 321, "2025-07-06T09:08:07Z"));
        assert_eq!(manifest_key(KEY_), "backups/backup-20250706-090807-1a2b3c4d.manifest.json");
    }

    #[test]
    fn a_matching_backup_reads_as_students() {
        let b = body(&format!("\n{ONE},\n{TWO}"));
        let m = manifest_for(KEY_, &b, 2);
        let students = check(KEY_, "m", &m, b, None).unwrap();
        assert_eq!(students.len(), 2);
        assert_eq!(students[1].studentid, "SV002");
        let empty = b"[]\n".to_vec();
        assert_eq!(check(KEY_, "m", &manifest_for(KEY_, &empty, 0), empty, None).unwrap(), vec![]);
    }

    #[test]
    fn a_changed_or_truncated_object_is_refused_with_both_measures() {
        let b = body(&format!("\n{ONE},\n{TWO}"));
        let m = manifest_for(KEY_, &b, 2);
        let mut changed = b.clone();
        changed[20] = if changed[20] == b'x' { b'y' } else { b'x' };
        let text = refusal(check(KEY_, "m", &m, changed, None));
        assert!(text.starts_with(&format!("refused: {KEY_} does not match its manifest (sha256 ")), "{text}");
        assert!(text.contains(&format!("expected {}", m.sha256)), "{text}");
        assert!(text.contains(&format!("{0} bytes, expected {0}", b.len())), "{text}");
        let text = refusal(check(KEY_, "m", &m, b[..b.len() / 2].to_vec(), None));
        assert!(text.contains(&format!("{} bytes, expected {}", b.len() / 2, b.len())), "{text}");
    }

    #[test]
    fn only_the_expected_digest_restores_whatever_the_manifest_says() {
        let b = body(&format!("\n{ONE},\n{TWO}"));
        let m = manifest_for(KEY_, &b, 2);
        assert_eq!(check(KEY_, "m", &m, b.clone(), Some(&m.sha256)).unwrap().len(), 2);
        let other = "0".repeat(64);
        let text = refusal(check(KEY_, "m", &m, b.clone(), Some(&other)));
        assert!(
            text.starts_with(&format!(
                "refused: {KEY_} is not the backup expected: its sha256 is {0} (its manifest says {0}), not {other}",
                m.sha256
            )),
            "{text}"
        );
        // A backup rewritten together with its manifest still matches the manifest, not the digest.
        let mut rewritten = b.clone();
        rewritten[20] = if rewritten[20] == b'x' { b'y' } else { b'x' };
        let forged = manifest_for(KEY_, &rewritten, 2);
        let text = refusal(check(KEY_, "m", &forged, rewritten, Some(&m.sha256)));
        assert!(text.contains(&format!("(its manifest says {}), not {}", forged.sha256, m.sha256)), "{text}");
        assert_eq!(sha256_hex(&m.sha256.to_ascii_uppercase()), Ok(m.sha256.clone()));
        assert!(sha256_hex("abc").is_err() && sha256_hex(&"g".repeat(64)).is_err());
    }

    #[test]
    fn a_wrong_count_format_or_key_is_refused() {
        let b = body(&format!("\n{ONE},\n{TWO}"));
        let text = refusal(check(KEY_, "m", &manifest_for(KEY_, &b, 3), b.clone(), None));
        assert!(text.contains("holds 2 students, its manifest says 3"), "{text}");
        let mut m = manifest_for(KEY_, &b, 2);
        m.format = "student-backup/2".into();
        assert!(refusal(check(KEY_, "m", &m, b.clone(), None)).contains("has format \"student-backup/2\""));
        let m = manifest_for("backups/other.json", &b, 2);
        assert!(refusal(check(KEY_, "m", &m, b, None)).contains("describes backups/other.json"));
    }

    #[test]
    fn an_element_that_is_not_a_student_is_named() {
        for (element, expected) in [
            (r#""SV001""#.to_owned(), "element 1 is not an object"),
            (ONE.replace(r#""name":"A""#, r#""name":5"#), "element 1: name is not a string (5)"),
            (ONE.replace(r#","email":"a@x.com""#, ""), "element 1: email is missing"),
            (ONE.replace(r#""class":"12A1""#, r#""class":null"#), "element 1: class is not a string (null)"),
        ] {
            let b = body(&format!("\n{TWO},\n{element}"));
            let text = refusal(check(KEY_, "m", &manifest_for(KEY_, &b, 2), b, None));
            assert!(text.contains(expected) && text.contains("nothing was written"), "{text}");
        }
        let b = b"{\"studentid\":\"SV001\"}".to_vec();
        let text = refusal(check(KEY_, "m", &manifest_for(KEY_, &b, 1), b, None));
        assert!(text.contains("is not a list of students"), "{text}");
    }

    #[test]
    fn duplicate_or_empty_ids_are_refused() {
        let b = body(&format!("\n{ONE},\n{ONE}"));
        assert!(refusal(check(KEY_, "m", &manifest_for(KEY_, &b, 2), b, None)).contains("\"SV001\" more than once"));
        let b = body(&ONE.replace("SV001", ""));
        assert!(refusal(check(KEY_, "m", &manifest_for(KEY_, &b, 1), b, None)).contains("empty studentid"));
    }

    #[test]
    fn the_newest_backup_is_chosen_by_name_and_manifests_are_not_backups() {
        let keys = [
            "backups/backup-20250706-090807-1a2b3c4d.json",
            "backups/backup-20250707-000001-00000000.manifest.json",
            "backups/backup-20250706-235959-ffffffff.json",
            "backups/notes.json",
            "other/backup-20991231-000000-00000000.json",
            "backups/backup-20250706-235959-ffffffff.manifest.json",
        ];
        assert_eq!(newest(keys), Some("backups/backup-20250706-235959-ffffffff.json"));
        assert_eq!(newest(["backups/backup-20250707-000001-00000000.manifest.json"]), None);
    }
}
