//! The free-text fields: a student's name and class. Both are stored trimmed.

use super::format_chars::FORMAT_RANGES;

const MAX_NAME_CHARS: usize = 200;
const MAX_CLASS_CHARS: usize = 50;

string_newtype!(
    /// A display name: 1–200 characters after trimming, no control or format characters and no
    /// line or paragraph separator.
    StudentName
);
string_newtype!(
    /// A class: 1–50 characters after trimming, no control or format characters and no line or
    /// paragraph separator.
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
    if let Some(c) = trimmed.chars().find(|c| is_invisible(*c)) {
        return Err(format!("must not contain invisible format characters (U+{:04X})", u32::from(c)));
    }
    Ok(trimmed.to_owned())
}

/// A format character (Unicode general category Cf: bidi overrides and isolates, zero-width
/// characters, the soft hyphen, tags, ...) or the line and paragraph separators U+2028/U+2029.
/// Each can make a name read differently from what is stored, or break it over lines.
pub fn is_invisible(c: char) -> bool {
    let cp = u32::from(c);
    // The first range that does not end before `cp` holds it, if any does.
    let candidate = FORMAT_RANGES.get(FORMAT_RANGES.partition_point(|&(_, last)| last < cp));
    matches!(c, '\u{2028}' | '\u{2029}') || candidate.is_some_and(|&(first, _)| first <= cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_disjoint_and_holds_the_known_format_characters() {
        assert!(FORMAT_RANGES.windows(2).all(|w| w[0].0 <= w[0].1 && w[0].1 + 1 < w[1].0), "sorted, disjoint, merged");
        for c in [
            '\u{00AD}',
            '\u{061C}',
            '\u{180E}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{1343F}',
            '\u{E0001}',
            '\u{E007F}',
            '\u{2028}',
            '\u{2029}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        // Neighbours and look-alikes that are letters, marks, spaces or symbols.
        for c in [
            'a',
            'é',
            '\u{0301}',
            '\u{00A0}',
            '\u{2000}',
            '\u{200A}',
            '\u{2010}',
            '\u{2065}',
            '\u{FFFC}',
            '😀',
            '\u{E0080}',
        ] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn format_characters_are_refused_with_the_one_found() {
        assert_eq!(
            StudentName::parse("Ann\u{202E}evil").unwrap_err(),
            "must not contain invisible format characters (U+202E)"
        );
        assert!(ClassName::parse("12\u{200B}A").unwrap_err().contains("U+200B"));
        assert!(ClassName::parse("12\u{2028}A").unwrap_err().contains("U+2028"));
        // Trimming takes a separator off the ends (it is white space); inside, it is refused.
        assert_eq!(StudentName::parse("\u{2029}Ann\u{2028}").unwrap().as_str(), "Ann");
    }
}
