//! The page on CloudFront: a private bucket, origin access control, `config.json` naming the
//! API, CORS for the distribution's origin, invalidation of what changed, and teardown.

use crate::app::TestApp;

fn site(dir: &std::path::Path, script: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.html"), "<!doctype html><title>Students</title><script src=app.js></script>")
        .unwrap();
    std::fs::write(dir.join("app.js"), script).unwrap();
}

#[tokio::test]
async fn the_page_is_published_privately_and_the_api_allows_its_origin() {
    let app = TestApp::start().await;
    let dir = std::env::temp_dir().join(format!("web-{}", app.emulator.port));
    site(&dir, "console.log(1)");
    let web = dir.to_str().unwrap();

    let first = app.run(&["deploy", "--code", "stub", "--web-dir", web]).await;
    assert!(first.ok, "{}{}", first.stdout, first.stderr);
    for line in ["created web-bucket student-web-123456789012-us-east-1", "created origin-access-control student-web"] {
        assert!(first.lines().contains(&line), "{line:?} missing in\n{}", first.stdout);
    }
    let cf = aws_sdk_cloudfront::Client::new(&app.sdk);
    let list = cf.list_distributions().send().await.unwrap();
    let d = &list.distribution_list().unwrap().items()[0];
    let origin = format!("https://{}", d.domain_name());
    assert!(first.stderr.contains(&format!("web page:   {origin}")), "{}", first.stderr);

    // Private: all public access blocked; only this distribution may read, through OAC.
    let s3 = aws_sdk_s3::Client::new(&app.sdk);
    let bucket = "student-web-123456789012-us-east-1";
    let block =
        s3.get_public_access_block().bucket(bucket).send().await.unwrap().public_access_block_configuration.unwrap();
    assert_eq!(block.block_public_policy(), Some(true));
    let policy: serde_json::Value =
        serde_json::from_str(&s3.get_bucket_policy().bucket(bucket).send().await.unwrap().policy.unwrap()).unwrap();
    assert_eq!(policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceArn"], d.arn());
    // (The emulator does not keep an origin's access control id; a unit test checks the
    // distribution's configuration.)

    // config.json names the API; the functions and the preflight allow the page's origin.
    let object = s3.get_object().bucket(bucket).key("config.json").send().await.unwrap();
    let config: serde_json::Value = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    let api = app.api_id().await;
    assert_eq!(config["apiUrl"], format!("https://{api}.execute-api.us-east-1.amazonaws.com/prod"));
    let lambda = aws_sdk_lambda::Client::new(&app.sdk);
    for f in ["getStudentData", "insertStudentData", "BackupDynamoDBAndSendEmail"] {
        let c = lambda.get_function_configuration().function_name(f).send().await.unwrap();
        assert_eq!(c.environment().unwrap().variables().unwrap()["ALLOWED_ORIGIN"], origin, "{f}");
    }
    let verify = app.verify().await;
    assert!(verify.ok, "{}", verify.stdout);
    assert!(verify.lines().iter().any(|l| l.starts_with("PASS the page's config.json names")), "{}", verify.stdout);
    // The emulator has no response-headers policies: said so, not passed off as checked.
    assert!(verify.lines().iter().any(|l| l.starts_with("SKIP the page's answers carry its CSP")), "{}", verify.stdout);
    let tags = cf.list_tags_for_resource().resource(d.arn()).send().await.unwrap();
    let tagged =
        tags.tags().unwrap().items().iter().any(|t| t.key() == "student-records:stack" && t.value() == Some("default"));
    assert!(tagged, "the distribution carries the stack tag");

    // Nothing changed: nothing uploaded, nothing invalidated.
    let again = app.run(&["deploy", "--code", "stub", "--web-dir", web]).await;
    assert_eq!(again.changes(), Vec::<&str>::new(), "{}", again.stdout);
    // One file changed: only it is uploaded and invalidated.
    site(&dir, "console.log(2)");
    let changed = app.run(&["deploy", "--code", "stub", "--web-dir", web]).await;
    assert!(
        changed.lines().contains(&"updated web-files student-web-123456789012-us-east-1 (1 changed)"),
        "{}",
        changed.stdout
    );
    assert!(changed.lines().contains(&"created invalidation /app.js"), "{}", changed.stdout);

    let destroyed = app.run(&["destroy", "--yes"]).await;
    assert!(destroyed.ok, "{}", destroyed.stderr);
    assert!(cf.list_distributions().send().await.unwrap().distribution_list().is_none_or(|l| l.items().is_empty()));
    assert!(s3.head_bucket().bucket(bucket).send().await.is_err(), "the site's bucket is gone");
    let _ = std::fs::remove_dir_all(&dir);
}
