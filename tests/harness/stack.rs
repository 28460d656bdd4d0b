//! The whole local stack, started exactly as a developer starts it (`scripts/dev`), on free
//! ports and in a state folder of its own; stopped (SIGTERM, as Ctrl-C would) when dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use tokio::process::{Child, Command};

use crate::{free_port, workspace_root};

pub struct LocalStack {
    pub dir: PathBuf,
    /// The lines of `stack.env`.
    pub env: HashMap<String, String>,
    pub api_url: String,
    pub gateway_url: String,
    pub api_key: String,
    pub http: reqwest::Client,
    child: Child,
}

impl LocalStack {
    /// `scripts/dev --no-web --fresh` with `extra` environment; waits (bounded) for it to be ready.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        crate::logs();
        let dir = std::env::temp_dir().join(format!("stack-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new(workspace_root().join("scripts/dev"));
        command.args(["--no-web", "--fresh"]).current_dir(workspace_root()).env("STACK_DIR", &dir);
        for name in ["MOTO_PORT", "MAIL_PORT", "LAMBDA_PORT", "GATEWAY_PORT", "WEB_PORT"] {
            command.env(name, free_port().to_string());
        }
        command.envs(extra.iter().copied()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = command.spawn().expect("scripts/dev starts");
        let started = Instant::now();
        let bound = Duration::from_secs(600);
        while !dir.join("ready").exists() {
            if let Ok(Some(status)) = child.try_wait() {
                let logs = tail_logs(&dir);
                panic!("scripts/dev exited ({status}) before the stack was ready\n{logs}");
            }
            assert!(started.elapsed() < bound, "the stack was not ready within {bound:?}\n{}", tail_logs(&dir));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let env = read_stack_env(&dir.join("stack.env"));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        Self {
            api_url: env["API_URL"].clone(),
            gateway_url: env["GATEWAY_URL"].clone(),
            api_key: env["API_KEY"].clone(),
            env,
            dir,
            http,
            child,
        }
    }

    /// The SDK configuration for the stack's emulator (the control plane and the data).
    pub async fn sdk(&self) -> SdkConfig {
        crate::Emulator::attach(&self.env["AWS_ENDPOINT_URL"]).sdk_config().await
    }

    /// What `infra deploy` wrote for this stack.
    pub fn outputs(&self) -> system::Outputs {
        serde_json::from_str(&std::fs::read_to_string(self.dir.join("outputs.json")).unwrap()).unwrap()
    }

    pub fn mail(&self) -> crate::Emulator {
        crate::Emulator::attach(&self.env["AWS_ENDPOINT_URL_SESV2"])
    }
}

/// The `NAME=value` lines of a stack's `stack.env`.
pub fn read_stack_env(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))).collect()
}

fn tail_logs(dir: &Path) -> String {
    let mut out = String::new();
    for entry in std::fs::read_dir(dir.join("logs")).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        out += &format!("--- {}\n{}\n", entry.path().display(), lines[lines.len().saturating_sub(15)..].join("\n"));
    }
    out
}

/// Sends `signal` to a process (`target` > 0) or a process group (`target` < 0) — through
/// the system call, never the `kill` program: procps' `kill -KILL -11861` reads `-1`,
/// which means every process the user may signal.
pub fn signal(target: i32, signal: i32) {
    assert!(target != 0 && target != -1, "refusing to signal {target}");
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(target, signal);
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        // As Ctrl-C would: scripts/dev stops every process it started.
        if let Some(pid) = self.child.id() {
            signal(pid as i32, libc::SIGTERM);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Safety net: whatever it started and did not stop.
        for group in std::fs::read_to_string(self.dir.join("pids")).unwrap_or_default().lines() {
            if let Ok(group) = group.trim().parse::<i32>()
                && group > 1
            {
                signal(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
