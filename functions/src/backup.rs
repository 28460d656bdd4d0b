//! Writing the whole table to S3 as one JSON array, streamed: pages flow from a scan into a
//! part spooled to a temporary file, uploaded whenever it reaches the part size. Peak memory is
//! a few bounded scan pages, whatever the size of the table or of a part. Every object is
//! written once: S3 refuses to complete an upload or a manifest over an existing key, and the
//! function's role may not delete.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures::stream::{self, StreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};
pub use system::backup::Manifest;
use system::backup::{BackupId, MANIFEST_FORMAT};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aws::{AwsFailure, Failure};
use crate::domain::PageCursor;
use crate::store::{Segment, StoreError, StudentStore, TableSize};

/// The service as errors name it (`S3 UploadPart failed`).
const SERVICE: &str = "S3";

/// S3's smallest part (except the last) is 5 MiB; 8 MiB halves the number of requests.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
pub const DOWNLOAD_LINK_LIFETIME: Duration = Duration::from_secs(3600);

/// How the table is read: how many parallel segments, and how many items a page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanPlan {
    pub segments: i32,
    /// `None`: DynamoDB's own page, up to 1 MB of items.
    pub page_items: Option<u16>,
}

impl ScanPlan {
    /// Bytes of items per page by default (`BACKUP_PAGE_BYTES` overrides it). The SDK holds a
    /// page as maps of strings, several times its size on the wire: a full 1 MB page of small
    /// items raised the function's peak by ~10 MiB, half of one by ~2 MiB (`scripts/bench`).
    pub const DEFAULT_PAGE_BYTES: u64 = 512 * 1024;
    pub const MIN_PAGE_BYTES: u64 = 64 * 1024;
    /// DynamoDB's cap on a scan page.
    pub const MAX_PAGE_BYTES: u64 = 1024 * 1024;
    /// A table this size or under is read by one segment: a 1 MB page takes DynamoDB some
    /// 10–20 ms, so one segment reads it within seconds, and every extra segment is another
    /// page of items held in memory at once.
    pub const BYTES_PER_SEGMENT: u64 = 256 * 1024 * 1024;
    pub const MAX_SEGMENTS: i32 = 4;
    /// Assumed when DynamoDB's figures (refreshed about every six hours) still read zero.
    const ASSUMED_ITEM_BYTES: u64 = 200;

    /// The plan for a table of `size`, with pages of about `page_bytes` of items.
    pub fn for_table(size: TableSize, page_bytes: u64) -> Self {
        let page_bytes = page_bytes.clamp(Self::MIN_PAGE_BYTES, Self::MAX_PAGE_BYTES);
        let segments =
            i32::try_from(1 + size.bytes / Self::BYTES_PER_SEGMENT).unwrap_or(i32::MAX).min(Self::MAX_SEGMENTS);
        let page_items = (page_bytes < Self::MAX_PAGE_BYTES).then(|| {
            let average = size.bytes.checked_div(size.items).filter(|a| *a > 0).unwrap_or(Self::ASSUMED_ITEM_BYTES);
            u16::try_from((page_bytes / average).max(1)).unwrap_or(u16::MAX)
        });
        Self { segments, page_items }
    }
}
/// A written backup as told to people: where it is, what it holds and a link to download it.
/// Declared once: the notice email renders it, and the function's answer is it (camelCase)
/// plus whether that email went.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    pub bucket: String,
    pub key: String,
    pub count: u64,
    pub bytes: u64,
    pub sha256: String,
    pub download_url: String,
    /// RFC 3339, when `download_url` stops working.
    pub expires_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("reading the table failed")]
    Read(#[from] StoreError),
    #[error("the temporary part file failed")]
    Spool(#[source] std::io::Error),
    #[error(transparent)]
    Write(#[from] AwsFailure),
    /// S3 already holds an object under the new backup's key: nothing was replaced.
    #[error("{0} exists already; a backup is never written over")]
    Exists(String),
}

impl BackupError {
    pub fn failure(&self) -> Failure {
        match self {
            Self::Read(StoreError::Aws(aws)) | Self::Write(aws) => aws.failure,
            Self::Read(StoreError::AlreadyExists(_)) | Self::Spool(_) | Self::Exists(_) => Failure::Fault,
        }
    }
}

/// A new backup's id: the time, and random bits so two backups of one second differ.
pub fn new_backup_id(now: OffsetDateTime) -> BackupId {
    let random = u32::from_be_bytes(uuid::Uuid::new_v4().as_bytes()[..4].try_into().expect("4 bytes"));
    BackupId::new(now, random)
}

/// Writes backups of one table to one bucket.
#[derive(Debug, Clone)]
pub struct BackupWriter {
    s3: Client,
    bucket: String,
    /// The account that must own the bucket (S3's `ExpectedBucketOwner`), when configured: a
    /// bucket that changed hands is never written to.
    owner: Option<String>,
    table: String,
    part_size: usize,
    page_bytes: u64,
    spool_dir: PathBuf,
}

impl BackupWriter {
    pub fn new(s3: Client, bucket: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            s3,
            bucket: bucket.into(),
            owner: None,
            table: table.into(),
            part_size: DEFAULT_PART_SIZE,
            page_bytes: ScanPlan::DEFAULT_PAGE_BYTES,
            spool_dir: std::env::temp_dir(),
        }
    }

    /// Every call names `account` as the bucket's expected owner.
    pub fn with_expected_owner(mut self, account: Option<String>) -> Self {
        self.owner = account;
        self
    }

    /// Smaller parts for tests; S3 refuses parts under 5 MiB except the last.
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    /// Scan pages of about this many bytes of items (see [`ScanPlan`]).
    pub fn with_page_bytes(mut self, bytes: u64) -> Self {
        self.page_bytes = bytes;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Where parts are spooled; the system's temporary directory (Lambda's /tmp) by default.
    pub fn with_spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = dir.into();
        self
    }

    /// Streams every student into the object of backup `id` and writes its manifest beside
    /// it. Both are written only where no object is: a key in use is an error, never replaced.
    /// On a failure before the object is complete, the multipart upload is aborted and nothing
    /// is left; an object completed whose manifest then fails stays, unannounced and without a
    /// manifest, which `infra restore` refuses.
    pub async fn write(
        &self,
        store: &impl StudentStore,
        id: &BackupId,
        now: OffsetDateTime,
    ) -> Result<Manifest, BackupError> {
        let key = id.object_key();
        let plan = ScanPlan::for_table(store.size().await?, self.page_bytes);
        tracing::info!(key, segments = plan.segments, page_items = ?plan.page_items, "backup started");
        let upload = self
            .s3
            .create_multipart_upload()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&key)
            .content_type("application/json")
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "CreateMultipartUpload", e))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();

        let written = match self.upload_parts(store, plan, &key, &upload_id).await {
            Ok(written) => written,
            Err(e) => {
                self.abort(&key, &upload_id).await;
                return Err(e);
            }
        };
        let (parts, count, bytes, sha256) = written;
        let completed = self
            .s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(&key)
            .upload_id(&upload_id)
            .if_none_match("*")
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await;
        if let Err(e) = completed {
            // Aborting an upload that did complete (a timed-out answer) changes nothing.
            self.abort(&key, &upload_id).await;
            if precondition_failed(&e) {
                return Err(BackupError::Exists(key));
            }
            return Err(AwsFailure::new(SERVICE, "CompleteMultipartUpload", e).into());
        }

        let manifest = Manifest {
            format: MANIFEST_FORMAT.into(),
            bucket: self.bucket.clone(),
            key: key.clone(),
            table: self.table.clone(),
            count,
            bytes,
            sha256,
            created_at: now.format(&Rfc3339).expect("RFC 3339 formats any UTC time"),
        };
        let put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(id.manifest_key())
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(serde_json::to_vec_pretty(&manifest).expect("plain data")))
            .send()
            .await;
        match put {
            Ok(_) => Ok(manifest),
            Err(e) => {
                tracing::error!(key, "the backup object has no manifest: it is not announced and cannot be restored");
                if precondition_failed(&e) {
                    return Err(BackupError::Exists(id.manifest_key()));
                }
                Err(AwsFailure::new(SERVICE, "PutObject (manifest)", e).into())
            }
        }
    }

    async fn upload_parts(
        &self,
        store: &impl StudentStore,
        plan: ScanPlan,
        key: &str,
        upload_id: &str,
    ) -> Result<(Vec<CompletedPart>, u64, u64, String), BackupError> {
        let mut part = PartWriter::new(self, key, upload_id)?;
        part.write_all(b"[").map_err(BackupError::Spool)?;
        let mut count: u64 = 0;
        let mut pages = std::pin::pin!(scan_all(store, plan));
        while let Some(page) = pages.next().await {
            for student in page? {
                part.write_all(if count == 0 { b"\n" } else { b",\n" }).map_err(BackupError::Spool)?;
                serde_json::to_writer(&mut part, &student).map_err(|e| BackupError::Spool(e.into()))?;
                count += 1;
                if part.part_len >= self.part_size as u64 {
                    part.upload().await?;
                }
            }
        }
        part.write_all(if count == 0 { b"]\n" } else { b"\n]\n" }).map_err(BackupError::Spool)?;
        part.upload().await?;
        Ok((part.completed, count, part.bytes, format!("{:x}", part.hasher.finalize())))
    }

    async fn abort(&self, key: &str, upload_id: &str) {
        let result = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .set_expected_bucket_owner(self.owner.clone())
            .key(key)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = result {
            tracing::error!(key, error = ?e, "could not abort a failed backup upload");
        }
    }

    /// A time-limited GET link for a backup.
    pub async fn download_link(&self, key: &str) -> Result<String, BackupError> {
        let presigning = PresigningConfig::expires_in(DOWNLOAD_LINK_LIFETIME).expect("one hour is a valid lifetime");
        let request = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning)
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "presign GetObject", e))?;
        Ok(request.uri().to_owned())
    }
}

/// Spool files start with this, so a start-up can recognise the ones a killed process left.
const SPOOL_PREFIX: &str = ".student-backup-part-";
/// Lambda's longest timeout. No invocation outlives it, so a spool file untouched for longer
/// belongs to no running backup.
const SPOOL_ABANDONED_AFTER: Duration = Duration::from_secs(15 * 60);

/// The part being filled, and everything uploaded so far. The part lives in a temporary file
/// (Lambda's /tmp holds 512 MB; a part needs at most the part size plus one student), so its
/// size costs no memory. It is deleted when the writer is dropped, on success or failure.
struct PartWriter<'a> {
    writer: &'a BackupWriter,
    key: &'a str,
    upload_id: &'a str,
    spool: std::io::BufWriter<tempfile::NamedTempFile>,
    part_len: u64,
    hasher: Sha256,
    bytes: u64,
    completed: Vec<CompletedPart>,
}

impl<'a> PartWriter<'a> {
    fn new(writer: &'a BackupWriter, key: &'a str, upload_id: &'a str) -> Result<Self, BackupError> {
        remove_abandoned_spools(&writer.spool_dir);
        let file =
            tempfile::Builder::new().prefix(SPOOL_PREFIX).tempfile_in(&writer.spool_dir).map_err(BackupError::Spool)?;
        Ok(Self {
            writer,
            key,
            upload_id,
            spool: std::io::BufWriter::with_capacity(64 * 1024, file),
            part_len: 0,
            hasher: Sha256::new(),
            bytes: 0,
            completed: Vec::new(),
        })
    }

    /// Uploads the part written so far (if any) and starts the next one in the same file.
    async fn upload(&mut self) -> Result<(), BackupError> {
        if self.part_len == 0 {
            return Ok(());
        }
        let number = i32::try_from(self.completed.len() + 1).expect("S3 allows 10,000 parts");
        self.spool.flush().map_err(BackupError::Spool)?;
        // A body read from a path is re-read from the start when the SDK retries an attempt.
        let body = ByteStream::read_from()
            .path(self.spool.get_ref().path())
            .length(Length::Exact(self.part_len))
            .build()
            .await
            .map_err(|e| BackupError::Spool(std::io::Error::other(e)))?;
        let output = self
            .writer
            .s3
            .upload_part()
            .bucket(&self.writer.bucket)
            .set_expected_bucket_owner(self.writer.owner.clone())
            .key(self.key)
            .upload_id(self.upload_id)
            .part_number(number)
            .content_length(self.part_len as i64)
            .body(body)
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "UploadPart", e))?;
        self.completed.push(CompletedPart::builder().part_number(number).set_e_tag(output.e_tag).build());
        self.bytes += self.part_len;
        self.part_len = 0;
        self.spool.seek(SeekFrom::Start(0)).map_err(BackupError::Spool)?;
        self.spool.get_ref().as_file().set_len(0).map_err(BackupError::Spool)?;
        Ok(())
    }
}

/// Every byte of the backup passes through here: into the part file and the running digest.
/// (Writes land in a 64 KiB buffer and then the page cache; they do not wait on a disk.)
impl Write for PartWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.spool.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.part_len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.spool.flush()
    }
}

/// Removes spool files that a process killed mid-backup (a Lambda timeout) left behind, so
/// that repeated failures cannot fill /tmp. Best effort: a file that cannot be read is left.
fn remove_abandoned_spools(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let abandoned = entry.file_name().to_string_lossy().starts_with(SPOOL_PREFIX)
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > SPOOL_ABANDONED_AFTER);
        if abandoned && std::fs::remove_file(entry.path()).is_ok() {
            tracing::warn!(file = ?entry.path(), "removed a backup part file abandoned by an earlier process");
        }
    }
}

/// S3's answer to a conditional write whose condition failed (HTTP 412).
fn precondition_failed<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.code()) == Some("PreconditionFailed")
}

/// Every page of every segment, as they arrive. Dropping the stream stops the scan.
fn scan_all<S: StudentStore>(
    store: &S,
    plan: ScanPlan,
) -> impl futures::Stream<Item = Result<Vec<crate::domain::Student>, StoreError>> + '_ {
    let segments = plan.segments;
    enum State {
        Start,
        After(PageCursor),
        Done,
    }
    let per_segment = (0..segments).map(move |index| {
        // One segment is a plain scan: no Segment/TotalSegments.
        let segment = (segments > 1).then_some(Segment { index, total: segments });
        stream::unfold(State::Start, move |state| async move {
            let after = match state {
                State::Start => None,
                State::After(cursor) => Some(cursor),
                State::Done => return None,
            };
            match store.page(after.as_ref(), plan.page_items, segment).await {
                Ok(page) => {
                    let next = page.next.map_or(State::Done, State::After);
                    Some((Ok(page.students), next))
                }
                Err(e) => Some((Err(e), State::Done)),
            }
        })
        .boxed()
    });
    stream::select_all(per_segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn small_tables_are_one_segment_of_pages_sized_by_their_items() {
        const KIB: u64 = 1024;
        // 50,000 students of ~150 bytes: one segment; 512 KiB pages of ~3,495 items.
        let size = TableSize { items: 50_000, bytes: 50_000 * 150 };
        assert_eq!(ScanPlan::for_table(size, 512 * KIB), ScanPlan { segments: 1, page_items: Some(3_495) });
        // DynamoDB's own 1 MB pages ask for no limit.
        assert_eq!(ScanPlan::for_table(size, ScanPlan::MAX_PAGE_BYTES).page_items, None);
        assert_eq!(ScanPlan::for_table(size, ScanPlan::DEFAULT_PAGE_BYTES).page_items, Some(3_495));
        // Not yet measured (a new table reads zero): an assumed 200 bytes an item.
        assert_eq!(ScanPlan::for_table(TableSize::default(), 256 * KIB).page_items, Some(1_310));
        // Out-of-range budgets are brought in range; huge items still ask for one.
        assert_eq!(ScanPlan::for_table(size, 1).page_items, Some(436));
        assert_eq!(ScanPlan::for_table(TableSize { items: 1, bytes: 400 * KIB }, 64 * KIB).page_items, Some(1));
    }

    #[test]
    fn big_tables_are_read_by_up_to_four_segments() {
        let gib = |n: u64| TableSize { items: n * 7_000_000, bytes: n << 30 };
        let segments = |size| ScanPlan::for_table(size, ScanPlan::DEFAULT_PAGE_BYTES).segments;
        assert_eq!(segments(TableSize { items: 1, bytes: ScanPlan::BYTES_PER_SEGMENT - 1 }), 1);
        assert_eq!(segments(TableSize { items: 1, bytes: ScanPlan::BYTES_PER_SEGMENT }), 2);
        assert_eq!(segments(gib(100)), 4);
    }

    #[test]
    fn two_backups_in_one_second_get_different_ids() {
        let now = datetime!(2025-07-06 09:08:07 UTC);
        let (a, b) = (new_backup_id(now), new_backup_id(now));
        assert!(a.as_str().starts_with("backup-20250706-090807-"), "{a}");
        assert_ne!(a, b);
    }
}
