//! An in-memory table, for tests: behind the feature `test-util`, so the Lambda binaries do
//! not carry it.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;

use super::{Page, Segment, StoreError, StudentStore, TableSize};
use crate::domain::{NewStudent, PageCursor, Student};

/// An in-memory table with the same semantics: conditional insert, ordered pages, segments.
#[derive(Debug, Default)]
pub struct MemoryStore {
    students: Mutex<BTreeMap<String, Student>>,
}

impl MemoryStore {
    pub fn with(students: impl IntoIterator<Item = Student>) -> Self {
        let map = students.into_iter().map(|s| (s.studentid.clone(), s)).collect();
        Self { students: Mutex::new(map) }
    }

    pub fn all(&self) -> Vec<Student> {
        self.students.lock().unwrap().values().cloned().collect()
    }
}

impl StudentStore for MemoryStore {
    async fn insert(&self, student: &NewStudent) -> Result<(), StoreError> {
        let mut map = self.students.lock().unwrap();
        let id = student.id.to_string();
        if map.contains_key(&id) {
            return Err(StoreError::AlreadyExists(id));
        }
        map.insert(id, student.to_student());
        Ok(())
    }

    async fn page(
        &self,
        after: Option<&PageCursor>,
        limit: Option<u16>,
        segment: Option<Segment>,
    ) -> Result<Page, StoreError> {
        let map = self.students.lock().unwrap();
        let limit = usize::from(limit.unwrap_or(u16::MAX));
        let in_segment = |id: &str| segment.is_none_or(|s| (id.len() as i32) % s.total == s.index);
        let range = match after {
            Some(c) => map.range::<str, _>((Bound::Excluded(c.last_key()), Bound::Unbounded)),
            None => map.range::<str, _>(..),
        };
        let students: Vec<Student> = range.filter(|(k, _)| in_segment(k)).take(limit).map(|(_, s)| s.clone()).collect();
        let next = (students.len() == limit).then(|| PageCursor::after(students[limit - 1].studentid.clone()));
        Ok(Page { students, next })
    }

    async fn size(&self) -> Result<TableSize, StoreError> {
        let map = self.students.lock().unwrap();
        let bytes = map.values().map(|s| serde_json::to_vec(s).expect("plain data").len() as u64).sum();
        Ok(TableSize { items: map.len() as u64, bytes })
    }
}
