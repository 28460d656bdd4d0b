//! What `deploy` prints: one line per resource, `created`, `updated` or `unchanged`.

use std::fmt;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    Deleted,
    Gone,
    Kept,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Deleted => "deleted",
            Self::Gone => "absent",
            Self::Kept => "kept",
        })
    }
}

impl Change {
    /// `Created` stays created; anything else becomes `Updated`.
    pub fn or_updated(self) -> Self {
        if self == Change::Created { self } else { Change::Updated }
    }

    /// What putting a resource did: `Updated` when one `existed`, else `Created`.
    pub fn replacing(existed: bool) -> Self {
        if existed { Change::Updated } else { Change::Created }
    }
}

/// Prints the lines, to stdout (tests read them from the binary's output).
#[derive(Debug, Default)]
pub struct Report;

impl Report {
    pub fn record(&self, change: Change, kind: &str, name: impl fmt::Display) -> Change {
        println!("{change:<9} {kind} {name}");
        let _ = std::io::stdout().flush();
        change
    }

    /// Progress for slow steps, on stderr so stdout stays one line per resource.
    pub fn progress(&self, message: impl fmt::Display) {
        eprintln!("  … {message}");
    }
}
