//! The free-text fields: a student's name and class. Both are stored trimmed.

const MAX_NAME_CHARS: usize = 200;
const MAX_CLASS_CHARS: usize = 50;

string_newtype!(
    /// A display name: 1–200 characters after trimming, no control characters.
    StudentName
);
string_newtype!(
    /// A class: 1–50 characters after trimming, no control characters.
    ClassName
);

impl StudentName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_text(raw, MAX_NAME_CHARS).map(Self)
    }
}

impl ClassName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_text(raw, MAX_CLASS_CHARS).map(Self)
    }
}

fn parse_text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err("must not be empty".into());
    }
    if chars > max {
        return Err(format!("must be at most {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(trimmed.to_owned())
}
