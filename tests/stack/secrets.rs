//! No log shows the API key, at any level: the stack at TRACE everywhere (functions, gateway,
//! infra), every file it wrote searched for the key's value — which is also inside the
//! Secrets Manager secret infra writes, so the secret's value is searched with it. Its files
//! are its owner's alone, and the key is in no service's environment.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::app::TestApp;

/// Every level, and the directives that name the body-printing crates outright: none may
/// bring their TRACE events back.
const TRACE_EVERYWHERE: &str = "trace,lambda_runtime=trace,lambda_runtime_api_client=trace,aws_smithy_runtime=trace";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
    }
    files
}

/// Whether `needle` is in the bytes (the logs reach 100 MB at TRACE: the standard library's
/// substring search, not a loop of ours).
fn contains(haystack: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(haystack).contains(needle)
}

/// The processes of the groups the stack's services run in.
fn stack_processes(dir: &Path) -> Vec<u32> {
    let groups: Vec<u32> =
        std::fs::read_to_string(dir.join("pids")).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // pid (comm) state ppid pgrp ...: the fields after the command's closing parenthesis.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let pgrp: u32 = after.split(' ').nth(2).unwrap().parse().unwrap();
        if groups.contains(&pgrp) {
            pids.push(pid);
        }
    }
    pids
}

#[tokio::test]
async fn at_trace_no_log_shows_the_key_and_only_the_owner_reads_the_stacks_files() {
    let app = TestApp::start_with(
        &["--backup-wait", "5"],
        &[("RUST_LOG", TRACE_EVERYWHERE), ("AWS_LAMBDA_LOG_LEVEL", "TRACE")],
    )
    .await;
    let key = app.api_key.clone();
    // Each function gets an event carrying the key (headers.x-api-key, identity.apiKey).
    let student = json!({"studentid": "SV900", "name": "Tran Thi B", "class": "12A2", "birthdate": "2008-02-03", "email": "b@example.com"});
    assert_eq!(app.call("POST", "/students", Some(&key), Some(&student.to_string())).await.status, 201);
    assert_eq!(app.call("GET", "/students", Some(&key), None).await.status, 200);
    let backup = app.call("POST", "/backup", Some(&key), None).await;
    assert!([200, 202].contains(&backup.status), "{}", backup.body);

    // The key is in no service's environment (only infra deploy, which has ended, got it).
    let processes = stack_processes(&app.dir);
    assert!(processes.len() >= 5, "the stack's processes: {processes:?}");
    for pid in processes {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        assert!(!contains(&environ, &key), "process {pid} has the key in its environment");
    }

    // Stopped as Ctrl-C stops it: the data is saved (infra state save, at TRACE too).
    app.stop();
    let logs = app.dir.join("logs");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&logs), 0o700);
    let mut searched = Vec::new();
    for file in files_under(&app.dir) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(mode(&file) & 0o077, 0, "{} is readable by others", file.display());
        if name == "api-key" || name == "stack.env" {
            continue; // where the key is kept (stack.env is removed when the stack stops)
        }
        let text = std::fs::read(&file).unwrap();
        assert!(!contains(&text, &key), "{} shows the API key", file.display());
        searched.push(name);
    }
    for log in ["deploy.log", "gateway.log", "lambda.log", "state.log", "dev.log"] {
        assert!(searched.iter().any(|s| s == log), "{log} was searched: {searched:?}");
    }
    // TRACE was on: the SDK's and the functions' TRACE events are there, without a body.
    for log in ["deploy.log", "gateway.log", "lambda.log"] {
        let text = std::fs::read(logs.join(log)).unwrap();
        assert!(contains(&text, "TRACE"), "{log} has no TRACE line: the test tested nothing");
    }
}
