//! Students and the parsing of untrusted input into them ("parse, don't validate"): each field
//! has a newtype that only a value passing its rules can become, and a [`NewStudent`] is made
//! of the five, so nothing past the boundary checks again.

/// A validated string: readable, never writable, so it stays valid.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

mod birthdate;
mod email;
mod format_chars;
mod id;
mod new_student;
mod text;

pub use birthdate::BirthDate;
pub use email::Email;
pub use id::StudentId;
pub use new_student::{FieldError, InvalidStudent, NewStudent, RawStudent};
pub use system::Student;
pub use text::{ClassName, StudentName};
