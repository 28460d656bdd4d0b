//! The student table: a narrow port, its DynamoDB adapter, and (feature `test-util`) an
//! in-memory one for tests.

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use system::student::KEY;

use crate::aws::AwsFailure;
use crate::domain::{NewStudent, PageCursor, Student};

#[cfg(feature = "test-util")]
mod memory;
#[cfg(feature = "test-util")]
pub use memory::MemoryStore;

/// One page of a scan, and where the next one starts (if anything may remain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub students: Vec<Student>,
    pub next: Option<PageCursor>,
}

/// One of `total` disjoint parts of a parallel scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: i32,
    pub total: i32,
}

/// How big the table is, as DynamoDB last measured it (about every six hours; a new table
/// reads zero for a while).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableSize {
    pub items: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("student {0} already exists")]
    AlreadyExists(String),
    #[error(transparent)]
    Aws(#[from] AwsFailure),
}

/// What the functions need from the table.
pub trait StudentStore: Send + Sync {
    /// Stores a student unless one with the same id exists — atomically, so concurrent
    /// inserts of one id yield exactly one success.
    fn insert(&self, student: &NewStudent) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads up to `limit` students (or one 1 MB page when `None`) after `after`.
    fn page(
        &self,
        after: Option<&PageCursor>,
        limit: Option<u16>,
        segment: Option<Segment>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// The table's size, to plan a scan of all of it.
    fn size(&self) -> impl Future<Output = Result<TableSize, StoreError>> + Send;
}

/// The service as errors name it (`DynamoDB Scan failed`).
const SERVICE: &str = "DynamoDB";

/// The DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl StudentStore for DynamoStore {
    async fn insert(&self, student: &NewStudent) -> Result<(), StoreError> {
        let s = student.to_student();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(s.into_item(AttributeValue::S)))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                Err(StoreError::AlreadyExists(student.id.to_string()))
            }
            Err(e) => Err(AwsFailure::new(SERVICE, "PutItem", e).into()),
        }
    }

    async fn page(
        &self,
        after: Option<&PageCursor>,
        limit: Option<u16>,
        segment: Option<Segment>,
    ) -> Result<Page, StoreError> {
        let start = after.map(|c| HashMap::from([(KEY.to_owned(), AttributeValue::S(c.last_key().to_owned()))]));
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            .set_limit(limit.map(i32::from))
            .set_exclusive_start_key(start)
            .set_segment(segment.map(|s| s.index))
            .set_total_segments(segment.map(|s| s.total))
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "Scan", e))?;
        let next = output
            .last_evaluated_key()
            .and_then(|k| k.get(KEY))
            .and_then(|v| v.as_s().ok())
            .map(|k| PageCursor::after(k.as_str()));
        let students = output.items.unwrap_or_default().into_iter().map(from_item).collect();
        Ok(Page { students, next })
    }

    async fn size(&self) -> Result<TableSize, StoreError> {
        self.describe().await
    }
}

impl DynamoStore {
    async fn describe(&self) -> Result<TableSize, StoreError> {
        let output = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| AwsFailure::new(SERVICE, "DescribeTable", e))?;
        let table = output.table();
        let count = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Ok(TableSize {
            items: count(table.and_then(|t| t.item_count())),
            bytes: count(table.and_then(|t| t.table_size_bytes())),
        })
    }
}

/// Items written by other tools may lack an attribute or store it as a number; they are
/// shown as well as they can be rather than failing the whole page.
fn from_item(item: HashMap<String, AttributeValue>) -> Student {
    Student::from_item(item, |attribute, value| match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s,
        other => {
            tracing::warn!(attribute, kind = ?other, "student attribute is not a string");
            String::new()
        }
    })
}

/// A shared store is a store: handlers own their ports, tests keep a reference to look inside.
impl<T: StudentStore> StudentStore for &T {
    fn insert(&self, student: &NewStudent) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert(student)
    }

    fn page(
        &self,
        after: Option<&PageCursor>,
        limit: Option<u16>,
        segment: Option<Segment>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send {
        (**self).page(after, limit, segment)
    }

    fn size(&self) -> impl Future<Output = Result<TableSize, StoreError>> + Send {
        (**self).size()
    }
}
