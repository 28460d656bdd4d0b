//! The domain: what a student is, how a request body becomes one, and how a page of the
//! table is addressed. Nothing here knows about AWS or HTTP.

mod page;
mod student;

pub use page::{CursorError, PageCursor, PageLimit, PageLimitError};
pub use student::{
    BirthDate, ClassName, Email, FieldError, MAX_BODY_BYTES, NewStudent, RequestBodyError, Student, StudentId,
    StudentName,
};
