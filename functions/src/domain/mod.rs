//! The domain: what a student is, what makes a new one valid, and how a page of the table is
//! addressed. Nothing here knows about AWS or HTTP.

mod page;
mod student;

pub use page::{CursorError, PageCursor, PageLimit, PageLimitError};
pub use student::{
    BirthDate, ClassName, Email, FieldError, InvalidStudent, NewStudent, RawStudent, Student, StudentId, StudentName,
};
