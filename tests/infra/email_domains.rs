//! `deploy --student-email-domains`: the insert function's STUDENT_EMAIL_DOMAINS, read back with
//! the SDK and from the outputs `scripts/dev` hands to the functions; `deploy --plan` names a
//! change of it; `verify` expects the deployed list; a malformed list is refused, changing nothing.

use serde_json::Value;

use crate::app::TestApp;

const VARIABLE: &str = "STUDENT_EMAIL_DOMAINS";

/// Each function's value of the variable, in declaration order.
async fn deployed(app: &TestApp) -> Vec<Option<String>> {
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    let mut values = Vec::new();
    for f in ["getStudentData", "insertStudentData", "BackupDynamoDBAndSendEmail"] {
        let c = lambda.get_function_configuration().function_name(f).send().await.unwrap();
        values.push(c.environment().and_then(|e| e.variables()).and_then(|v| v.get(VARIABLE)).cloned());
    }
    values
}

#[tokio::test]
async fn deploy_sets_the_domains_confirmations_may_go_to() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let outputs = dir.path().join("outputs.json");
    let outputs_arg = outputs.to_str().unwrap();

    // Without the option: any domain, and no variable at all.
    app.deploy().await;
    assert_eq!(deployed(&app).await, [None, None, None]);

    let plan = app
        .run(&[
            "deploy",
            "--plan",
            "--code",
            "stub",
            "--student-email-domains",
            "School.example.com, pupils.example.org",
        ])
        .await;
    assert_eq!(plan.code, Some(2), "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.lines().contains(
            &"update function insertStudentData: environment.STUDENT_EMAIL_DOMAINS none → school.example.com,pupils.example.org"
        ),
        "{}",
        plan.stdout
    );
    assert_eq!(deployed(&app).await, [None, None, None], "the plan changed nothing");

    let run = app
        .run(&[
            "deploy",
            "--code",
            "stub",
            "--outputs",
            outputs_arg,
            "--student-email-domains",
            "School.example.com, pupils.example.org",
        ])
        .await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    assert!(run.lines().contains(&"updated function insertStudentData"), "{}", run.stdout);
    let list = "school.example.com,pupils.example.org".to_owned();
    assert_eq!(deployed(&app).await, [None, Some(list.clone()), None], "only the insert function mails students");
    // The outputs carry it: scripts/dev hands exactly these to the functions.
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&outputs).unwrap()).unwrap();
    assert_eq!(written["functions"]["insertStudentData"]["environment"][VARIABLE], list.as_str());

    // verify expects what is deployed, or what it is told.
    assert!(app.verify().await.ok);
    let other = app.run(&["verify", "--student-email-domains", "school.example.com"]).await;
    assert!(!other.ok);
    assert!(
        other.failures().iter().any(|l| l.contains("insertStudentData") && l.contains(VARIABLE)),
        "{}",
        other.stdout
    );

    // The same list again is unchanged; a malformed one is refused before anything is read.
    let again = app.run(&["deploy", "--plan", "--code", "stub", "--student-email-domains", list.as_str()]).await;
    assert_eq!(again.code, Some(0), "{}{}", again.stdout, again.stderr);
    let bad =
        app.run(&["deploy", "--code", "stub", "--student-email-domains", "school.example.com,*.example.org"]).await;
    assert_eq!(bad.code, Some(2), "clap's usage error: {}{}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("\"*.example.org\" is not a domain name"), "{}", bad.stderr);
    assert_eq!(deployed(&app).await[1], Some(list), "the refused list changed nothing");

    // Deploying without the option lifts the limit, and the plan says so first.
    let lift = app.run(&["deploy", "--plan", "--code", "stub"]).await;
    assert!(
        lift.lines().contains(
            &"update function insertStudentData: environment.STUDENT_EMAIL_DOMAINS school.example.com,pupils.example.org → (none)"
        ),
        "{}",
        lift.stdout
    );
}
