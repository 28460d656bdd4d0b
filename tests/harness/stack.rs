//! The whole local stack, started exactly as scripts start it (`scripts/dev --detach
//! --free-ports`, as `scripts/lib.sh start_stack` does) in a state folder of its own, and
//! stopped with `scripts/dev --stop` (as Ctrl-C would) when dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aws_config::SdkConfig;
use tokio::process::Command;

use crate::workspace_root;

pub struct LocalStack {
    pub dir: PathBuf,
    /// The lines of `stack.env`.
    pub env: HashMap<String, String>,
    pub api_url: String,
    pub gateway_url: String,
    pub api_key: String,
    pub http: reqwest::Client,
    /// Handed over to a restarted stack in the same folder: dropping this one stops nothing.
    handed_over: bool,
}

impl LocalStack {
    /// `scripts/dev --no-web --fresh` with `extra` environment; waits (bounded) for it to be ready.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        Self::start_with(&[], extra).await
    }

    /// ... with more `scripts/dev` arguments (`--allowed-origin ORIGIN`, ...).
    pub async fn start_with(args: &[&str], extra: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("stack-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::launch(dir, &["--fresh"], args, extra).await
    }

    /// Stops the stack as Ctrl-C would (its data saved) and starts it again in the same
    /// folder, as a developer reruns `scripts/dev` (its saved data loaded back).
    pub async fn restart(&mut self) {
        stop(&self.dir);
        let mut restarted = Self::launch(self.dir.clone(), &[], &[], &[]).await;
        std::mem::swap(self, &mut restarted);
        restarted.handed_over = true;
    }

    async fn launch(dir: PathBuf, fresh: &[&str], args: &[&str], extra: &[(&str, &str)]) -> Self {
        crate::logs();
        let mut command = Command::new(workspace_root().join("scripts/dev"));
        command
            .args(["--detach", "--free-ports", "--no-web"])
            .args(fresh)
            .args(args)
            .current_dir(workspace_root())
            .env("STACK_DIR", &dir)
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        // --detach returns once the stack is ready, or fails; it bounds its own wait too.
        let bound = Duration::from_secs(900);
        let started = tokio::time::timeout(bound, command.output()).await;
        let stack = |dir: PathBuf| {
            let env = read_stack_env(&dir.join("stack.env"));
            let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
            Self {
                api_url: env["API_URL"].clone(),
                gateway_url: env["GATEWAY_URL"].clone(),
                api_key: env["API_KEY"].clone(),
                env,
                dir,
                http,
                handed_over: false,
            }
        };
        match started {
            Ok(Ok(output)) if output.status.success() => stack(dir),
            Ok(Ok(output)) => {
                let logs = tail_logs(&dir);
                stop(&dir);
                panic!("scripts/dev --detach failed: {}\n{logs}", String::from_utf8_lossy(&output.stderr));
            }
            Ok(Err(e)) => panic!("scripts/dev did not run: {e}"),
            Err(_) => {
                let logs = tail_logs(&dir);
                stop(&dir);
                panic!("the stack was not ready within {bound:?}\n{logs}");
            }
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

    /// Stops the stack as Ctrl-C would (it saves its data on the way out); dropping it
    /// afterwards only removes its folder.
    pub fn stop(&self) {
        stop(&self.dir);
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
        if self.handed_over {
            return;
        }
        stop(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `scripts/dev --stop` for the stack in `dir`: as Ctrl-C would, then whatever it started.
fn stop(dir: &Path) {
    let _ = std::process::Command::new(workspace_root().join("scripts/dev"))
        .arg("--stop")
        .env("STACK_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
