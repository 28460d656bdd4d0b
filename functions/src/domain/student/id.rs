//! The student id, the table's key.

const MAX_CHARS: usize = 64;

string_newtype!(
    /// The table key: 1–64 characters of `[A-Za-z0-9_-]`.
    StudentId
);

impl StudentId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if chars == 0 || chars > MAX_CHARS {
            return Err(format!("must be 1 to {MAX_CHARS} characters"));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err("may contain only letters A-Z, a-z, digits, '_' and '-'".into());
        }
        Ok(Self(raw.to_owned()))
    }
}
