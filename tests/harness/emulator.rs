//! moto server (the AWS emulator) as a child process on a free port.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use serde_json::Value;
use system::student::KEY;
use tokio::process::{Child, Command};

use crate::{free_port, wait_until, workspace_root};

/// The moto server to run: `$MOTO_SERVER`, else the project's venv, else `moto_server` on PATH.
fn moto_server_program() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return path.into();
    }
    let venv = workspace_root().join(".local/venv/bin/moto_server");
    if venv.exists() { venv } else { "moto_server".into() }
}

/// A running moto server; killed when dropped (unless attached to one started elsewhere).
pub struct Emulator {
    pub endpoint: String,
    pub port: u16,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Emulator {
    pub async fn start() -> Self {
        let program = moto_server_program();
        let port = free_port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {} (run scripts/test, which installs it): {e}", program.display())
            });
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let emulator = Self { endpoint, port, child: Some(child), http };
        let health = format!("{}/moto-api/", emulator.endpoint);
        wait_until("moto server", Duration::from_secs(30), || {
            let (http, health) = (&emulator.http, &health);
            async move { http.get(health).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        emulator
    }

    /// An emulator someone else runs (the local stack's), to read its state.
    pub fn attach(endpoint: &str) -> Self {
        let port = endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Self { endpoint: endpoint.to_owned(), port, child: None, http }
    }

    /// The SDK configuration a function would build from `AWS_ENDPOINT_URL` and friends.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
            .load()
            .await
    }

    /// The environment a function process needs to reach this emulator.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    pub async fn create_table(&self, name: &str) -> aws_sdk_dynamodb::Client {
        let client = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(KeySchemaElement::builder().attribute_name(KEY).key_type(KeyType::Hash).build().unwrap())
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("create table");
        client
    }

    /// The catalog of backups, keyed as infra creates it.
    pub async fn create_backups_table(&self, name: &str) -> aws_sdk_dynamodb::Client {
        use system::backup::catalog::{PARTITION_KEY, SORT_KEY};
        let client = aws_sdk_dynamodb::Client::new(&self.sdk_config().await);
        let key = |name: &str, kind| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
        let text = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
        };
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PARTITION_KEY, KeyType::Hash))
            .key_schema(key(SORT_KEY, KeyType::Range))
            .attribute_definitions(text(PARTITION_KEY))
            .attribute_definitions(text(SORT_KEY))
            .send()
            .await
            .expect("create the backups table");
        client
    }

    pub async fn create_bucket(&self, name: &str) -> aws_sdk_s3::Client {
        let client = aws_sdk_s3::Client::new(&self.sdk_config().await);
        client.create_bucket().bucket(name).send().await.expect("create bucket");
        client
    }

    /// Makes `address` a verified SES identity (moto verifies at once).
    pub async fn verify_sender(&self, address: &str) {
        let client = aws_sdk_sesv2::Client::new(&self.sdk_config().await);
        client.create_email_identity().email_identity(address).send().await.expect("create email identity");
    }

    /// Every email SES accepted, read back from moto's state.
    pub async fn sent_emails(&self) -> Vec<SentEmail> {
        let url = format!("{}/moto-api/data.json", self.endpoint);
        let response = self.http.get(url).send().await.expect("moto answers");
        assert!(response.status().is_success(), "moto's state dump failed: {}", response.status());
        let data: Value = response.json().await.expect("moto's state dump is JSON");
        data["ses"]["Message"].as_array().into_iter().flatten().map(SentEmail::from_moto).collect()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Stops the emulator now (for tests of what happens when AWS is unreachable).
    pub async fn stop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill().await;
        }
    }
}

/// One email as SES received it. moto keeps one body per message: the HTML part when there
/// is one (the text part is then dropped), else the text part.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub source: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

impl SentEmail {
    fn from_moto(m: &Value) -> Self {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Self {
            source: text(&m["source"]),
            to: m["destinations"]["ToAddresses"].as_array().into_iter().flatten().map(text).collect(),
            subject: text(&m["subject"]),
            body: text(&m["body"]),
        }
    }
}
