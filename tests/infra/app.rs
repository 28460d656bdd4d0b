//! `TestApp`: the `infra` binary run against one test's emulator, as a user runs it.

use std::process::Stdio;

use aws_sdk_apigateway::Client as Gateway;
use harness::Emulator;
use harness::runtime::workspace_binary;

pub const SENDER: &str = "registrar@school.example.com";
pub const RECIPIENT: &str = "admin@school.example.com";

pub struct Run {
    pub ok: bool,
    /// The exit status (`deploy --plan`: 0 nothing to change, 2 changes pending).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// stdout's lines with runs of spaces (column alignment) collapsed.
    normalized: Vec<String>,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.normalized.iter().map(String::as_str).collect()
    }

    /// Lines of `deploy` that say it changed something (not `unchanged`, nor `left` alone).
    pub fn changes(&self) -> Vec<&str> {
        self.lines().into_iter().filter(|l| !l.starts_with("unchanged") && !l.starts_with("left")).collect()
    }

    pub fn failures(&self) -> Vec<&str> {
        self.lines().into_iter().filter(|l| l.starts_with("FAIL")).collect()
    }
}

pub struct TestApp {
    pub emulator: Emulator,
    pub gateway: Gateway,
    pub sdk: aws_config::SdkConfig,
}

impl TestApp {
    pub async fn start() -> Self {
        harness::logs();
        let emulator = Emulator::start().await;
        let sdk = emulator.sdk_config().await;
        Self { gateway: Gateway::new(&sdk), emulator, sdk }
    }

    /// `infra <args>` with the emulator as its AWS and the test's workspace as its home.
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[("SENDER_EMAIL", SENDER), ("RECIPIENT_EMAIL", RECIPIENT)]).await
    }

    pub async fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let home = std::env::temp_dir().join(format!("infra-test-{}", self.emulator.port));
        std::fs::create_dir_all(&home).unwrap();
        self.run_at(&home, args, env, std::time::Duration::from_secs(120)).await
    }

    /// From the workspace, where `deploy` finds the functions to build.
    pub async fn run_in_workspace(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        // A cold arm64 release build of the AWS SDK takes minutes.
        self.run_at(&harness::workspace_root(), args, env, std::time::Duration::from_secs(40 * 60)).await
    }

    /// With nothing but `env`: no credentials, no profile (HOME points nowhere).
    pub async fn run_clean(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let home = std::env::temp_dir().join(format!("infra-test-{}", self.emulator.port));
        std::fs::create_dir_all(&home).unwrap();
        let mut env = env.to_vec();
        env.extend([("HOME", "/nonexistent"), ("AWS_EC2_METADATA_DISABLED", "true")]);
        self.run_env(&home, args, &env, std::time::Duration::from_secs(120)).await
    }

    async fn run_at(
        &self,
        home: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
        bound: std::time::Duration,
    ) -> Run {
        let emulator = self.emulator.function_env();
        let mut full: Vec<(&str, &str)> = emulator.iter().map(|(k, v)| (*k, v.as_str())).collect();
        full.extend(env.iter().copied());
        self.run_env(home, args, &full, bound).await
    }

    async fn run_env(
        &self,
        home: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
        bound: std::time::Duration,
    ) -> Run {
        let mut command = tokio::process::Command::new(workspace_binary("infra"));
        command
            .args(args)
            .current_dir(home)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        let output = tokio::time::timeout(bound, command.output())
            .await
            .unwrap_or_else(|_| panic!("infra did not finish within {bound:?}"))
            .expect("infra runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let normalized = stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        let run = Run {
            ok: output.status.success(),
            code: output.status.code(),
            stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            normalized,
        };
        if std::env::var_os("RUST_LOG").is_some() {
            eprintln!("$ infra {}\n{}{}", args.join(" "), run.stdout, run.stderr);
        }
        run
    }

    pub async fn deploy(&self) -> Run {
        let run = self.run(&["deploy", "--code", "stub"]).await;
        assert!(run.ok, "deploy failed:\n{}{}", run.stdout, run.stderr);
        run
    }

    pub async fn verify(&self) -> Run {
        self.run(&["verify"]).await
    }

    pub async fn api_id(&self) -> String {
        let apis = self.gateway.get_rest_apis().send().await.unwrap();
        let ids: Vec<_> = apis.items().iter().filter(|a| a.name() == Some("student")).collect();
        assert_eq!(ids.len(), 1, "exactly one API named student");
        ids[0].id().unwrap().to_owned()
    }

    pub async fn plan(&self) -> aws_sdk_apigateway::types::UsagePlan {
        let plans = self.gateway.get_usage_plans().send().await.unwrap();
        let mut matching: Vec<_> =
            plans.items().iter().filter(|p| p.name() == Some("StudentUsagePlan")).cloned().collect();
        assert_eq!(matching.len(), 1, "exactly one plan");
        matching.pop().unwrap()
    }

    pub async fn key(&self, name: &str) -> aws_sdk_apigateway::types::ApiKey {
        let keys = self.gateway.get_api_keys().include_values(true).send().await.unwrap();
        let mut matching: Vec<_> = keys.items().iter().filter(|k| k.name() == Some(name)).cloned().collect();
        assert_eq!(matching.len(), 1, "exactly one key named {name}");
        matching.pop().unwrap()
    }

    pub async fn plan_keys(&self, plan: &str) -> Vec<String> {
        let keys = self.gateway.get_usage_plan_keys().usage_plan_id(plan).send().await.unwrap();
        keys.items().iter().filter_map(|k| k.id().map(str::to_owned)).collect()
    }

    pub async fn resource_id(&self, api: &str, path: &str) -> String {
        let resources = self.gateway.get_resources().rest_api_id(api).send().await.unwrap();
        resources.items().iter().find(|r| r.path() == Some(path)).and_then(|r| r.id()).unwrap().to_owned()
    }

    pub async fn deployments(&self, api: &str) -> usize {
        self.gateway.get_deployments().rest_api_id(api).send().await.unwrap().items().len()
    }

    pub async fn secret_value(&self, name: &str) -> serde_json::Value {
        let sm = aws_sdk_secretsmanager::Client::new(&self.sdk);
        let v = sm.get_secret_value().secret_id(name).send().await.unwrap();
        serde_json::from_str(v.secret_string().unwrap()).unwrap()
    }
}
