//! One region, resolved once — `--region`, else the SDK's (`AWS_REGION`), else us-east-1 —
//! and used for every client, ARN, URL and output. IAM names are global: each region's roles
//! are its own.

use aws_config::Region;

use crate::app::{RECIPIENT, SENDER, TestApp};

fn outputs(path: &std::path::Path) -> system::Outputs {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The table `name` in `region` of the emulator, if there.
async fn table_in(app: &TestApp, region: &'static str, name: &str) -> bool {
    let sdk = app.sdk.to_builder().region(Region::new(region)).build();
    let tables = aws_sdk_dynamodb::Client::new(&sdk).list_tables().send().await.unwrap();
    tables.table_names().iter().any(|t| t == name)
}

#[tokio::test]
async fn the_region_comes_from_the_environment_or_the_flag_and_is_used_everywhere() {
    let app = TestApp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (eu, ap) = (dir.path().join("eu.json"), dir.path().join("ap.json"));
    let mail = [("SENDER_EMAIL", SENDER), ("RECIPIENT_EMAIL", RECIPIENT)];

    // AWS_REGION alone.
    let env = [mail[0], mail[1], ("AWS_REGION", "eu-west-1")];
    let run =
        app.run_with(&["--prefix", "eu-", "deploy", "--code", "stub", "--outputs", eu.to_str().unwrap()], &env).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let out = outputs(&eu);
    assert_eq!(out.region, "eu-west-1");
    assert!(out.invoke_url.contains(".execute-api.eu-west-1.amazonaws.com/"), "{}", out.invoke_url);
    assert!(out.functions.values().all(|f| f.arn.starts_with("arn:aws:lambda:eu-west-1:")), "{:?}", out.functions);
    assert!(table_in(&app, "eu-west-1", "eu-studentData").await);
    assert!(!table_in(&app, "us-east-1", "eu-studentData").await);
    assert!(run.lines().contains(&"created role eu-getStudentData-eu-west-1"), "{}", run.stdout);

    // --region wins over AWS_REGION.
    let env = [mail[0], mail[1], ("AWS_REGION", "us-east-1")];
    let args = ["--region", "ap-southeast-1", "deploy", "--code", "stub", "--outputs", ap.to_str().unwrap()];
    let run = app.run_with(&args, &env).await;
    assert!(run.ok, "{}{}", run.stdout, run.stderr);
    let out = outputs(&ap);
    assert_eq!(out.region, "ap-southeast-1");
    assert!(out.invoke_url.contains(".execute-api.ap-southeast-1.amazonaws.com/"), "{}", out.invoke_url);
    assert!(table_in(&app, "ap-southeast-1", "studentData").await);
    assert!(!table_in(&app, "us-east-1", "studentData").await);
    let verify = app.run_with(&["--region", "ap-southeast-1", "verify"], &env).await;
    assert!(verify.ok, "{}", verify.stdout);

    // IAM is global: each region's roles are its own, and the first region's still verify.
    let iam = aws_sdk_iam::Client::new(&app.sdk);
    let roles: Vec<String> =
        iam.list_roles().send().await.unwrap().roles().iter().map(|r| r.role_name().to_owned()).collect();
    for role in ["eu-getStudentData-eu-west-1", "getStudentData-ap-southeast-1"] {
        assert!(roles.iter().any(|r| r == role), "{role} in {roles:?}");
    }
    let eu_verify = app.run_with(&["--prefix", "eu-", "verify"], &[("AWS_REGION", "eu-west-1")]).await;
    assert!(eu_verify.ok, "{}", eu_verify.stdout);
}
