//! A newcomer's start: the README's promises about a shell that sourced `stack.env`, and a
//! front end served from another origin (`scripts/dev --allowed-origin`).

use std::process::Stdio;

use harness::runtime::workspace_binary;
use harness::workspace_root;

use crate::app::TestApp;

/// A front end on a dev server of its own, as a developer would run one.
const DEV_SERVER: &str = "http://localhost:5173";

/// `script` in bash with nothing but `stack.env` (sourced as the README says), the tools
/// scripts/dev installed and the workspace's binaries on PATH.
async fn in_a_fresh_shell(app: &TestApp, script: &str) -> (bool, String) {
    let venv = workspace_root().join(".local/venv/bin");
    let bin = workspace_binary("infra").parent().unwrap().to_owned();
    let path = format!("{}:{}:{}", bin.display(), venv.display(), std::env::var("PATH").unwrap_or_default());
    let script = format!("set -euo pipefail; set -a; . '{}'; set +a; {script}", app.dir.join("stack.env").display());
    let output = tokio::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(workspace_root())
        .env_clear()
        .env("PATH", path)
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test]
async fn stack_env_is_all_a_shell_needs_and_another_origin_can_call_the_api() {
    let app = TestApp::start_with(&["--allowed-origin", DEV_SERVER], &[]).await;

    // infra, as the README shows it: verify with the smoke test, and the day's usage.
    let (ok, out) = in_a_fresh_shell(&app, "infra verify --smoke && infra usage").await;
    assert!(ok, "{out}");
    assert!(out.contains("PASS  smoke: GET /students with the key is 200"), "{out}");
    assert!(out.contains("date (UTC)"), "{out}");

    // Any AWS SDK finds the emulator and the credentials: here botocore, which the AWS CLI is built on.
    let (ok, out) = in_a_fresh_shell(
        &app,
        "python -c 'import boto3; print(boto3.client(\"dynamodb\").list_tables()[\"TableNames\"])'",
    )
    .await;
    assert!(ok && out.contains(system::names::TABLE), "{out}");

    // A function by hand through cargo lambda, as in "Running a function by hand".
    let (ok, out) = in_a_fresh_shell(
        &app,
        "cargo lambda invoke -A 127.0.0.1 -P \"$LAMBDA_PORT\" getStudentData \
         --data-file functions/getStudentData/events/get-students.json",
    )
    .await;
    assert!(ok && out.contains("\"statusCode\":200"), "{out}");

    // A front end on another origin: its preflight is answered for that origin, and so is
    // every answer of the functions.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/students", app.api_url))
        .header("origin", DEV_SERVER)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-api-key")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], DEV_SERVER);
    let answer = app.call("GET", "/students", Some(&app.api_key), None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), DEV_SERVER);
    assert_eq!(app.env["ALLOWED_ORIGIN"], DEV_SERVER);
}
