//! Deploys the student-records system to AWS (or the emulator) with the AWS SDK, checks the
//! API key → usage plan → stage linkage, manages keys, reports usage and tears it all down.
//!
//! The system is declared in the `student-system` crate ([`system::System`]); every command
//! works from that declaration. [`cli`] is the command line: one module per subcommand, each
//! with its options and its `run`, over the work done here.

pub mod cli;
pub mod commands;
pub mod context;
pub mod deploy;
pub mod error;
pub mod report;
pub mod restore;
pub mod state;
pub mod verify;

#[cfg(test)]
mod tests {
    /// Every IAM action the tool calls is in the deploying user's policy that the README
    /// points to, so the documented permissions cannot fall behind the code.
    #[test]
    fn the_deployer_policy_covers_every_action_the_tool_calls() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let policy = std::fs::read_to_string(root.join("deployer-policy.json")).unwrap();
        let policy: serde_json::Value = serde_json::from_str(&policy).expect("the policy is JSON");
        let granted: Vec<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()))
            .collect();
        let mut sources: Vec<std::path::PathBuf> = Vec::new();
        for dir in ["src", "src/deploy"] {
            sources.extend(
                std::fs::read_dir(root.join(dir))
                    .unwrap()
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "rs")),
            );
        }
        let mut used = Vec::new();
        for path in sources {
            let text = std::fs::read_to_string(&path).unwrap();
            for piece in text.split("aws(\"").skip(1) {
                used.push(piece.split('"').next().unwrap().to_owned());
            }
        }
        assert!(used.len() > 30, "found only {used:?}");
        let missing: Vec<&String> = used.iter().filter(|a| !granted.contains(a)).collect();
        assert!(missing.is_empty(), "infra/deployer-policy.json lacks {missing:?}");
        assert!(granted.contains(&"iam:PassRole".to_owned()), "CreateFunction needs iam:PassRole");
    }
}
