//! An in-memory catalog, for tests: behind the feature `test-util`, so the Lambda binaries do
//! not carry it. Same conditions as the DynamoDB one.

use std::collections::BTreeMap;
use std::sync::Mutex;

use system::backup::{BackupId, Status};
use time::OffsetDateTime;

use super::{Catalog, CatalogError, Entry, Lock};
use crate::domain::PageCursor;

#[derive(Debug, Default)]
pub struct MemoryCatalog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<BackupId, Entry>,
    lock: Option<(BackupId, OffsetDateTime)>,
}

impl MemoryCatalog {
    /// Every entry, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.inner.lock().unwrap().entries.values().cloned().collect()
    }

    /// Who holds the lock, and until when.
    pub fn lock_holder(&self) -> Option<(BackupId, OffsetDateTime)> {
        self.inner.lock().unwrap().lock.clone()
    }
}

impl Catalog for MemoryCatalog {
    async fn lock(&self, id: &BackupId, until: OffsetDateTime, now: OffsetDateTime) -> Result<Lock, CatalogError> {
        let mut inner = self.inner.lock().unwrap();
        match &inner.lock {
            Some((holder, held_until)) if *held_until >= now => Ok(Lock::HeldBy(holder.clone())),
            _ => {
                inner.lock = Some((id.clone(), until));
                Ok(Lock::Taken)
            }
        }
    }

    async fn unlock(&self, id: &BackupId) -> Result<(), CatalogError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.lock.as_ref().is_some_and(|(holder, _)| holder == id) {
            inner.lock = None;
        }
        Ok(())
    }

    async fn create(&self, entry: &Entry) -> Result<(), CatalogError> {
        let mut inner = self.inner.lock().unwrap();
        if inner.entries.contains_key(&entry.id) {
            return Err(CatalogError::Unreadable { id: entry.id.to_string(), reason: "already recorded".into() });
        }
        inner.entries.insert(entry.id.clone(), entry.clone());
        Ok(())
    }

    async fn extend(&self, id: &BackupId, until: OffsetDateTime) -> Result<bool, CatalogError> {
        let mut inner = self.inner.lock().unwrap();
        let Some(entry) = inner.entries.get_mut(id).filter(|e| e.status() == Status::Running) else { return Ok(false) };
        entry.until = until;
        if let Some((holder, held_until)) = inner.lock.as_mut()
            && holder == id
        {
            *held_until = until;
        }
        Ok(true)
    }

    async fn finish(&self, entry: &Entry) -> Result<bool, CatalogError> {
        let mut inner = self.inner.lock().unwrap();
        match inner.entries.get_mut(&entry.id) {
            Some(current) if current.status() == Status::Running => {
                *current = entry.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn get(&self, id: &BackupId) -> Result<Option<Entry>, CatalogError> {
        Ok(self.inner.lock().unwrap().entries.get(id).cloned())
    }

    async fn page(
        &self,
        after: Option<&PageCursor>,
        limit: u16,
    ) -> Result<(Vec<Entry>, Option<PageCursor>), CatalogError> {
        let inner = self.inner.lock().unwrap();
        let limit = usize::from(limit);
        let entries: Vec<Entry> = inner
            .entries
            .values()
            .rev()
            .filter(|e| after.is_none_or(|c| e.id.as_str() < c.last_key()))
            .take(limit)
            .cloned()
            .collect();
        let next = (entries.len() == limit).then(|| PageCursor::after(entries[limit - 1].id.as_str()));
        Ok((entries, next))
    }
}
