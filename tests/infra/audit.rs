//! The IAM policies infra generates, audited by a real IAM auditor (parliament, pinned in
//! scripts/requirements.txt): the deploying identity's policy and each function role's policy
//! as deployed, and the boundary. None may allow privilege escalation, `Resource: *` where a
//! resource could be named, or a resource of the wrong kind for its action.

use std::path::PathBuf;

use crate::app::{RECIPIENT, SENDER, TestApp};

const FORBIDDEN: [&str; 3] = ["PRIVILEGE_ESCALATION", "RESOURCE_STAR", "RESOURCE_MISMATCH"];

/// The Python with parliament: `$AUDIT_PYTHON`, else the project's venv (scripts/test installs it).
fn python() -> PathBuf {
    if let Ok(path) = std::env::var("AUDIT_PYTHON") {
        return path.into();
    }
    let venv = harness::workspace_root().join(".local/venv/bin/python");
    assert!(venv.exists(), "{} is missing: run scripts/test, which installs parliament", venv.display());
    venv
}

async fn audit(files: &[PathBuf]) -> serde_json::Value {
    let output = tokio::process::Command::new(python())
        .arg(harness::workspace_root().join("scripts/audit-policies.py"))
        .args(files)
        .output()
        .await
        .expect("python runs");
    assert!(output.status.success(), "parliament failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("findings as JSON")
}

#[tokio::test]
async fn parliament_finds_no_escalation_no_star_and_no_mismatch() {
    let app = TestApp::start().await;
    app.deploy().await;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();

    let deployer = app
        .run_with(
            &["deployer-policy", "--account", "123456789012"],
            &[("SENDER_EMAIL", SENDER), ("RECIPIENT_EMAIL", RECIPIENT)],
        )
        .await;
    assert!(deployer.ok, "{}", deployer.stderr);
    let path = dir.path().join("deployer.json");
    std::fs::write(&path, &deployer.stdout).unwrap();
    files.push(path);

    // Each function role's policy and the boundary, as deployed.
    let iam = aws_sdk_iam::Client::new(&app.sdk);
    for role in ["getStudentData-us-east-1", "insertStudentData-us-east-1", "BackupDynamoDBAndSendEmail-us-east-1"] {
        let policy = iam.get_role_policy().role_name(role).policy_name("least-privilege").send().await.unwrap();
        let path = dir.path().join(format!("{role}.json"));
        std::fs::write(&path, policy.policy_document()).unwrap();
        files.push(path);
    }
    let boundary = app.run(&["deployer-policy", "--account", "123456789012", "--boundary"]).await;
    assert!(boundary.ok, "{}", boundary.stderr);
    let path = dir.path().join("boundary.json");
    std::fs::write(&path, &boundary.stdout).unwrap();
    files.push(path);

    let findings = audit(&files).await;
    let mut forbidden = Vec::new();
    for (file, list) in findings.as_object().unwrap() {
        for finding in list.as_array().unwrap() {
            if FORBIDDEN.contains(&finding["issue"].as_str().unwrap()) {
                forbidden.push(format!("{file}: {finding}"));
            }
        }
    }
    assert!(forbidden.is_empty(), "parliament:\n{}", forbidden.join("\n"));
    assert_eq!(findings.as_object().unwrap().len(), 5, "every policy was audited");
}

/// The auditor is not asleep: the policy this project used to document (CreateRole, PutRolePolicy
/// and PassRole on any `*-role`, Lambda code updates, CloudFront on `*`) is flagged.
#[tokio::test]
async fn parliament_flags_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    let old = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:PassRole"], "Resource": "arn:aws:iam::*:role/*-role"},
        {"Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionCode"], "Resource": "arn:aws:lambda:*:*:function:*getStudentData"},
        {"Effect": "Allow", "Action": ["cloudfront:UpdateDistribution"], "Resource": "*"}
    ]});
    std::fs::write(&path, old.to_string()).unwrap();
    let findings = audit(std::slice::from_ref(&path)).await;
    let issues: Vec<&str> =
        findings[path.to_str().unwrap()].as_array().unwrap().iter().filter_map(|f| f["issue"].as_str()).collect();
    assert!(issues.contains(&"PRIVILEGE_ESCALATION") && issues.contains(&"RESOURCE_STAR"), "{issues:?}");
}
