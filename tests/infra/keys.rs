//! `infra keys`: more clients, rotation, removal — the linkage kept right throughout.

use crate::cli::Infra;

#[tokio::test]
async fn add_rotate_and_remove_keep_the_linkage() {
    let infra = Infra::start().await;
    infra.deploy().await;
    let plan = infra.plan().await.id().unwrap().to_owned();

    // A new client's key is in the plan at once, its value in its own secret.
    let added = infra.run(&["keys", "add", "mobile-app"]).await;
    assert!(added.ok, "{}", added.stderr);
    let mobile = infra.key("mobile-app").await;
    assert!(infra.plan_keys(&plan).await.contains(&mobile.id().unwrap().to_owned()));
    assert_eq!(infra.secret_value("student/api-key/mobile-app").await["value"], mobile.value().unwrap());
    let again = infra.run(&["keys", "add", "mobile-app"]).await;
    assert!(!again.ok && again.stderr.contains("infra keys rotate mobile-app"), "{}", again.stderr);

    // Rotation: a new key under the name, the old one retired but still working.
    let old = infra.key("StudentApiKey").await;
    let rotated = infra.run(&["keys", "rotate", "StudentApiKey"]).await;
    assert!(rotated.ok, "{}", rotated.stderr);
    let new = infra.key("StudentApiKey").await;
    assert_ne!(new.id(), old.id());
    assert_ne!(new.value(), old.value());
    let keys = infra.plan_keys(&plan).await;
    assert!(keys.contains(&new.id().unwrap().to_owned()) && keys.contains(&old.id().unwrap().to_owned()));
    let retired = infra.gateway.get_api_key().api_key(old.id().unwrap()).send().await.unwrap();
    assert!(retired.enabled(), "the old key keeps working until removed");
    let retired_name = retired.name().unwrap().to_owned();
    assert!(retired_name.starts_with("StudentApiKey-retired-"));
    assert_eq!(infra.secret_value("student/api-key").await["value"], new.value().unwrap());
    assert!(infra.verify().await.ok, "rotation keeps the system verified");

    let list = infra.run(&["keys", "list"]).await;
    assert_eq!(list.lines().len(), 3, "{}", list.stdout);
    assert!(list.lines().iter().all(|l| l.contains("enabled") && l.contains("in plan")), "{}", list.stdout);

    // Removing the retired key takes it out of the plan.
    let removed = infra.run(&["keys", "remove", &retired_name]).await;
    assert!(removed.ok, "{}", removed.stderr);
    assert!(!infra.plan_keys(&plan).await.contains(&old.id().unwrap().to_owned()));

    // --disable-old: the old key stops at once.
    let before = infra.key("mobile-app").await;
    let rotated = infra.run(&["keys", "rotate", "mobile-app", "--disable-old"]).await;
    assert!(rotated.ok, "{}", rotated.stderr);
    let old = infra.gateway.get_api_key().api_key(before.id().unwrap()).send().await.unwrap();
    assert!(!old.enabled());
    assert_eq!(
        infra.secret_value("student/api-key/mobile-app").await["value"],
        infra.key("mobile-app").await.value().unwrap()
    );
}
