//! Where backups live and what describes them: `backups/backup-YYYYMMDD-HHMMSS-<8 hex>.json`
//! (a JSON array of students) with `backups/backup-….manifest.json` beside it. The backup
//! function writes both, once (never over an existing key); `infra restore` checks one against
//! the other. The catalog table ([`crate::names::BACKUPS_TABLE`]) holds each backup's status,
//! which `GET /backups` and `GET /backups/{backupId}` show as a [`BackupView`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;

/// Every backup object's key starts with this.
pub const PREFIX: &str = "backups/";
/// Marks the manifest format, so a restore can refuse what it does not understand.
pub const MANIFEST_FORMAT: &str = "student-backup/1";
const STEM: &str = "backup-";
const OBJECT_SUFFIX: &str = ".json";
const MANIFEST_SUFFIX: &str = ".manifest.json";

/// A backup's name stem: `backup-YYYYMMDD-HHMMSS-<8 hex>`. Sortable by time, and unique even
/// for two backups in the same second.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId(String);

impl BackupId {
    /// The id of a backup started at `now`; `random` tells apart backups of the same second.
    pub fn new(now: OffsetDateTime, random: u32) -> Self {
        let stamp = now
            .to_offset(time::UtcOffset::UTC)
            .format(format_description!("[year][month][day]-[hour][minute][second]"))
            .expect("a UTC time formats");
        Self(format!("{STEM}{stamp}-{random:08x}"))
    }

    /// An id as written by [`BackupId::new`], or `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix(STEM)?;
        let shape = rest.len() == 24
            && rest.bytes().enumerate().all(|(i, b)| match i {
                8 | 15 => b == b'-',
                0..=14 => b.is_ascii_digit(),
                _ => b.is_ascii_hexdigit() && !b.is_ascii_uppercase(),
            });
        shape.then(|| Self(raw.to_owned()))
    }

    /// The id of a backup object's key (`backups/<id>.json`), or `None` for any other key.
    pub fn of_object(key: &str) -> Option<Self> {
        let name = key.strip_prefix(PREFIX)?;
        if name.ends_with(MANIFEST_SUFFIX) {
            return None;
        }
        Self::parse(name.strip_suffix(OBJECT_SUFFIX)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The backup object: a JSON array of students.
    pub fn object_key(&self) -> String {
        format!("{PREFIX}{}{OBJECT_SUFFIX}", self.0)
    }

    /// The manifest beside it.
    pub fn manifest_key(&self) -> String {
        format!("{PREFIX}{}{MANIFEST_SUFFIX}", self.0)
    }
}

impl std::fmt::Display for BackupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The manifest's key for a backup object's key (any key ending in `.json`).
pub fn manifest_key(object_key: &str) -> String {
    format!("{}{MANIFEST_SUFFIX}", object_key.strip_suffix(OBJECT_SUFFIX).unwrap_or(object_key))
}

/// What a restore needs to find and check a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub format: String,
    pub bucket: String,
    pub key: String,
    pub table: String,
    pub count: u64,
    pub bytes: u64,
    pub sha256: String,
    pub created_at: String,
}

/// The catalog table's key: every backup is an item of one partition, sorted by id (and so by
/// time), so the newest come first from one query; the lock is an item of its own partition.
pub mod catalog {
    /// The partition key attribute.
    pub const PARTITION_KEY: &str = "catalog";
    /// The sort key attribute (a [`super::BackupId`], or [`LOCK`]).
    pub const SORT_KEY: &str = "backupId";
    /// The partition of the backups.
    pub const BACKUPS: &str = "backups";
    /// The partition and sort key of the lock.
    pub const LOCK_PARTITION: &str = "lock";
    pub const LOCK: &str = "running";
}

/// The path parameter of `GET /backups/{backupId}`.
pub const BACKUP_ID_PARAMETER: &str = "backupId";

/// Where a backup is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
}

/// A backup as `GET /backups/{backupId}` and `GET /backups` show it. What is not known yet
/// (a running backup's count, say) is `null`; `downloadUrl` is a fresh one-hour link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupView {
    pub backup_id: String,
    pub status: Status,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub count: Option<u64>,
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub key: Option<String>,
    pub download_url: Option<String>,
    pub expires_at: Option<String>,
    /// Why it failed, in words.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// `POST /backup`'s answer when the backup goes on after the answer (202, with `Location`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub backup_id: String,
    pub status: Status,
    /// The status's path, the stage included: `/prod/backups/<backupId>`.
    pub status_url: String,
}

/// The event with which the backup function hands a backup to an asynchronous run of itself
/// (Lambda's `Event` invocation): `{"backupRun": {"backupId": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRunEvent {
    pub backup_run: BackupRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRun {
    pub backup_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_are_timestamped_unique_and_name_their_object_and_manifest() {
        let now = datetime!(2025-07-06 09:08:07 UTC);
        let id = BackupId::new(now, 0x1a2b3c4d);
        assert_eq!(id.as_str(), "backup-20250706-090807-1a2b3c4d");
        assert_eq!(id.object_key(), "backups/backup-20250706-090807-1a2b3c4d.json");
        assert_eq!(id.manifest_key(), "backups/backup-20250706-090807-1a2b3c4d.manifest.json");
        assert_eq!(manifest_key(&id.object_key()), id.manifest_key());
        assert_ne!(BackupId::new(now, 1), BackupId::new(now, 2));
        assert!(BackupId::new(now, 1) < BackupId::new(datetime!(2025-07-06 09:08:08 UTC), 0));
    }

    #[test]
    fn only_backup_objects_have_an_id() {
        let id = BackupId::new(datetime!(2025-07-06 09:08:07 UTC), 7);
        assert_eq!(BackupId::of_object(&id.object_key()), Some(id.clone()));
        assert_eq!(BackupId::parse(id.as_str()), Some(id.clone()));
        for other in [
            id.manifest_key(),
            format!("other/{id}.json"),
            format!("backups/x/{id}.json"),
            "backups/backup-2025-x.json".into(),
            "backups/backup-20250706-090807-1A2B3C4D.json".into(),
            "backups/backup-20250706-090807-1a2b3c4d5.json".into(),
        ] {
            assert_eq!(BackupId::of_object(&other), None, "{other}");
        }
        for bad in ["", "backup-", "../backup-20250706-090807-1a2b3c4d", "backup-20250706-090807-1a2b3c4g"] {
            assert_eq!(BackupId::parse(bad), None, "{bad}");
        }
    }
}
