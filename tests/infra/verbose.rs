//! `infra -v`: the AWS SDK's calls on stderr, one line each, and never a secret — though the
//! key's value comes back from CreateApiKey, GetApiKeys(includeValues) and GetSecretValue; nor
//! under `RUST_LOG=trace`.

use crate::app::{RECIPIENT, Run, SENDER, TestApp};

/// A key value and a secret access key that must not be printed.
const KEY_VALUE: &str = "known-key-value-Z3q9Xw1Lr7Tt5Yp2";
const SECRET_ACCESS_KEY: &str = "secret-access-key-Hn4Vb8Mk6Jd0";

fn assert_no_secret(what: &str, run: &Run, secrets: &[&str]) {
    assert!(run.ok, "{what} failed:\n{}{}", run.stdout, run.stderr);
    for secret in secrets {
        assert!(!run.stdout.contains(secret), "{what} printed a secret to stdout:\n{}", run.stdout);
        assert!(!run.stderr.contains(secret), "{what} logged a secret:\n{}", run.stderr);
    }
}

#[tokio::test]
async fn verbose_runs_show_each_sdk_call_and_no_secret() {
    let app = TestApp::start().await;
    let env = [("SENDER_EMAIL", SENDER), ("RECIPIENT_EMAIL", RECIPIENT), ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)];
    let secrets = [KEY_VALUE, SECRET_ACCESS_KEY];

    let deploy = app.run_with(&["-v", "deploy", "--code", "stub", "--api-key-value", KEY_VALUE], &env).await;
    assert_no_secret("-v deploy", &deploy, &secrets);
    assert_eq!(app.key("StudentApiKey").await.value(), Some(KEY_VALUE), "the key has the value given");
    for call in ["API Gateway.CreateApiKey", "Secrets Manager.CreateSecret", "DynamoDB.CreateTable"] {
        assert!(deploy.stderr.contains(&format!("{call}{{")), "-v shows {call}:\n{}", deploy.stderr);
    }

    // -v is one line per call: each names its operation, and GetApiKeys (once) appears once.
    let list = app.run_with(&["-v", "keys", "list"], &env).await;
    assert_no_secret("-v keys list", &list, &secrets);
    let lines: Vec<&str> = list.stderr.lines().collect();
    assert!(lines.iter().all(|l| l.contains("rpc.method=") && l.contains(" close ")), "{}", list.stderr);
    assert_eq!(lines.iter().filter(|l| l.contains("API Gateway.GetApiKeys{")).count(), 1, "{}", list.stderr);

    // -vv: the SDK's debug detail, still without a secret — a second deploy reads the secret.
    let again = app.run_with(&["-vv", "deploy", "--code", "stub", "--api-key-value", KEY_VALUE], &env).await;
    assert_no_secret("-vv deploy", &again, &secrets);
    assert!(again.stderr.contains("Secrets Manager.GetSecretValue{"), "{}", again.stderr);
    let json = app.run_with(&["-vv", "keys", "list", "--json"], &env).await;
    assert_no_secret("-vv keys list --json", &json, &secrets);

    // A value the service generates is not logged either.
    let added = app.run_with(&["-vv", "keys", "add", "mobile-app"], &env).await;
    let generated = app.key("mobile-app").await.value().unwrap().to_owned();
    assert_no_secret("-vv keys add", &added, &[KEY_VALUE, SECRET_ACCESS_KEY, &generated]);

    // RUST_LOG=trace, even naming the SDK's orchestrator: its requests and responses (the
    // secret's value in GetSecretValue and PutSecretValue, the key's in GetApiKeys) stay out.
    let mut traced = env.to_vec();
    traced.push(("RUST_LOG", "trace,aws_smithy_runtime=trace"));
    let rotated = app.run_with(&["deploy", "--code", "stub", "--api-key-value", KEY_VALUE], &traced).await;
    assert_no_secret("RUST_LOG=trace deploy", &rotated, &secrets);
    assert!(rotated.stderr.contains("TRACE") && rotated.stderr.contains("GetSecretValue"), "{}", rotated.stderr);
    let listed = app.run_with(&["keys", "list"], &traced).await;
    assert_no_secret("RUST_LOG=trace keys list", &listed, &[KEY_VALUE, SECRET_ACCESS_KEY, &generated]);
    let second = app.run_with(&["keys", "add", "kiosk"], &traced).await;
    let kiosk = app.key("kiosk").await.value().unwrap().to_owned();
    assert_no_secret("RUST_LOG=trace keys add", &second, &[KEY_VALUE, SECRET_ACCESS_KEY, &kiosk]);

    // Asked for, it is shown.
    let shown = app.run_with(&["-v", "deploy", "--code", "stub", "--show-key"], &env).await;
    assert!(shown.stderr.contains(&format!("API key:    {KEY_VALUE}")), "{}", shown.stderr);
}
