//! What `deploy` prints: one line per resource, `created`, `updated` or `unchanged`.

use std::fmt;
use std::io::Write;
use std::sync::Mutex;

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

/// Collects and prints the lines (to stdout; tests read them back).
#[derive(Debug, Default)]
pub struct Report {
    lines: Mutex<Vec<(Change, String)>>,
}

impl Report {
    pub fn record(&self, change: Change, kind: &str, name: impl fmt::Display) -> Change {
        let what = format!("{kind} {name}");
        println!("{change:<9} {what}");
        let _ = std::io::stdout().flush();
        self.lines.lock().unwrap().push((change, what));
        change
    }

    /// Progress for slow steps, on stderr so stdout stays one line per resource.
    pub fn progress(&self, message: impl fmt::Display) {
        eprintln!("  … {message}");
    }

    pub fn changes(&self) -> Vec<(Change, String)> {
        self.lines.lock().unwrap().clone()
    }

    pub fn changed(&self) -> bool {
        self.lines.lock().unwrap().iter().any(|(c, _)| *c != Change::Unchanged)
    }
}
