//! `infra keys`: more clients, rotation, removal — the linkage kept right throughout.

use crate::app::TestApp;

#[tokio::test]
async fn add_rotate_and_remove_keep_the_linkage() {
    let app = TestApp::start().await;
    app.deploy().await;
    let plan = app.plan().await.id().unwrap().to_owned();

    // A new client's key is in the plan at once, its value in its own secret.
    let added = app.run(&["keys", "add", "mobile-app"]).await;
    assert!(added.ok, "{}", added.stderr);
    let mobile = app.key("mobile-app").await;
    assert!(app.plan_keys(&plan).await.contains(&mobile.id().unwrap().to_owned()));
    assert_eq!(app.secret_value("student/api-key/mobile-app").await["value"], mobile.value().unwrap());
    let again = app.run(&["keys", "add", "mobile-app"]).await;
    assert!(!again.ok && again.stderr.contains("infra keys rotate mobile-app"), "{}", again.stderr);

    // Rotation: a new key under the name, the old one retired but still working.
    let old = app.key("StudentApiKey").await;
    let rotated = app.run(&["keys", "rotate", "StudentApiKey"]).await;
    assert!(rotated.ok, "{}", rotated.stderr);
    let new = app.key("StudentApiKey").await;
    assert_ne!(new.id(), old.id());
    assert_ne!(new.value(), old.value());
    let keys = app.plan_keys(&plan).await;
    assert!(keys.contains(&new.id().unwrap().to_owned()) && keys.contains(&old.id().unwrap().to_owned()));
    let retired = app.gateway.get_api_key().api_key(old.id().unwrap()).send().await.unwrap();
    assert!(retired.enabled(), "the old key keeps working until removed");
    let retired_name = retired.name().unwrap().to_owned();
    assert!(retired_name.starts_with("StudentApiKey-retired-"));
    assert_eq!(app.secret_value("student/api-key").await["value"], new.value().unwrap());
    assert!(app.verify().await.ok, "rotation keeps the system verified");

    let list = app.run(&["keys", "list"]).await;
    assert_eq!(list.lines().len(), 3, "{}", list.stdout);
    assert!(list.lines().iter().all(|l| l.contains("enabled") && l.contains("in plan")), "{}", list.stdout);
    // The same for scripts, as JSON, and never the values.
    let json = app.run(&["keys", "list", "--json"]).await;
    assert!(json.ok, "{}", json.stderr);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).expect("keys list --json prints JSON");
    let names: Vec<&str> = listed.iter().filter_map(|k| k["name"].as_str()).collect();
    assert_eq!(names, ["StudentApiKey", &retired_name, "mobile-app"], "sorted by name, like the table");
    assert_eq!(
        listed[2],
        serde_json::json!({"name": "mobile-app", "id": mobile.id().unwrap(), "enabled": true, "inPlan": true})
    );
    assert!(!json.stdout.contains(mobile.value().unwrap()));

    // Removing the retired key takes it out of the plan.
    let removed = app.run(&["keys", "remove", &retired_name]).await;
    assert!(removed.ok, "{}", removed.stderr);
    assert!(!app.plan_keys(&plan).await.contains(&old.id().unwrap().to_owned()));

    // --disable-old: the old key stops at once.
    let before = app.key("mobile-app").await;
    let rotated = app.run(&["keys", "rotate", "mobile-app", "--disable-old"]).await;
    assert!(rotated.ok, "{}", rotated.stderr);
    let old = app.gateway.get_api_key().api_key(before.id().unwrap()).send().await.unwrap();
    assert!(!old.enabled());
    assert_eq!(
        app.secret_value("student/api-key/mobile-app").await["value"],
        app.key("mobile-app").await.value().unwrap()
    );
}
