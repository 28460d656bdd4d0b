//! One IAM role per function (least privilege), the functions, and their code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionConfiguration, LogFormat, LoggingConfig, Runtime};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::Change;
use system::Function;

const POLICY_NAME: &str = "least-privilege";
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Where the functions' deployment packages come from.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// `cargo lambda build --release --arm64 --output-format zip` in the workspace.
    Build { workspace: PathBuf },
    /// `<dir>/<binary>/bootstrap.zip`, built earlier.
    Dir(PathBuf),
    /// A tiny stand-in package per function, for emulator tests (the emulator runs no code).
    Stub,
}

/// The zip of each function binary.
pub async fn packages(ctx: &Ctx, source: &CodeSource) -> Result<HashMap<&'static str, Vec<u8>>> {
    let dir = match source {
        CodeSource::Stub => {
            return Ok(ctx.sys.functions.iter().map(|f| (f.binary, stub_zip(f.binary))).collect());
        }
        CodeSource::Dir(dir) => dir.clone(),
        CodeSource::Build { workspace } => build(ctx, workspace).await?,
    };
    let mut out = HashMap::new();
    for f in &ctx.sys.functions {
        let path = dir.join(f.binary).join("bootstrap.zip");
        let bytes = tokio::fs::read(&path).await.map_err(|e| {
            InfraError::Missing(format!(
                "the package {} ({e}); build it with `cargo lambda build --release --arm64 --output-format zip`",
                path.display()
            ))
        })?;
        out.insert(f.binary, bytes);
    }
    Ok(out)
}

/// The target directory of the cross build: `LAMBDA_TARGET_DIR`, else `CARGO_TARGET_DIR`,
/// else the workspace's. A separate one keeps the release arm64 build from waiting on (and
/// being invalidated by) debug builds.
fn lambda_target_dir(workspace: &Path) -> PathBuf {
    let dir = ["LAMBDA_TARGET_DIR", "CARGO_TARGET_DIR"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    if dir.is_absolute() { dir } else { workspace.join(dir) }
}

async fn build(ctx: &Ctx, workspace: &Path) -> Result<PathBuf> {
    ctx.report.progress(
        "building the functions: cargo lambda build --release --arm64 --output-format zip (minutes on a cold cache)",
    );
    let target = lambda_target_dir(workspace);
    let status = tokio::process::Command::new("cargo")
        .args(["lambda", "build", "--release", "--arm64", "--output-format", "zip", "-p", "student-functions"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(workspace)
        .status()
        .await
        .map_err(|e| InfraError::Missing(format!("cargo ({e})")))?;
    if !status.success() {
        return Err(InfraError::Missing(
            "a successful `cargo lambda build` (it needs cargo-lambda and zig; scripts/deploy installs both, pinned)"
                .into(),
        ));
    }
    Ok(target.join("lambda"))
}

/// A deterministic zip (fixed timestamps) holding a `bootstrap` script, so a re-deploy of
/// the same stand-in is "unchanged".
pub fn stub_zip(binary: &str) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("in memory");
    writeln!(zip, "#!/bin/sh\n# stand-in for {binary}\nexit 1").expect("in memory");
    zip.finish().expect("in memory").into_inner()
}

/// Lambda's CodeSha256: base64 of the package's SHA-256.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

fn policy_document(ctx: &Ctx, f: &Function) -> Value {
    let statements: Vec<Value> = f
        .permissions
        .iter()
        .map(|p| {
            let resources: Vec<String> = p.resources.iter().map(|r| r.arn(&ctx.region, &ctx.account)).collect();
            json!({"Effect": "Allow", "Action": p.actions, "Resource": resources})
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// IAM returns policy documents URL-encoded (the emulator sometimes does not).
fn parse_policy(raw: &str) -> Option<Value> {
    serde_json::from_str(raw).ok().or_else(|| {
        let decoded = percent_encoding::percent_decode_str(raw).decode_utf8().ok()?;
        serde_json::from_str(&decoded).ok()
    })
}

/// The function's role and its inline policy; returns the role ARN.
pub async fn role(ctx: &Ctx, f: &Function) -> Result<String> {
    let iam = &ctx.aws.iam;
    let existing = found(
        iam.get_role().role_name(&f.role).send().await.map_err(|e| aws("iam:GetRole", f.role.clone(), e)),
        &["NoSuchEntity"],
    )?;
    let mut change = Change::Unchanged;
    let arn = match existing.and_then(|o| o.role) {
        Some(role) => {
            if role.assume_role_policy_document().and_then(parse_policy) != parse_policy(TRUST) {
                iam.update_assume_role_policy()
                    .role_name(&f.role)
                    .policy_document(TRUST)
                    .send()
                    .await
                    .map_err(|e| aws("iam:UpdateAssumeRolePolicy", f.role.clone(), e))?;
                change = Change::Updated;
            }
            role.arn().to_owned()
        }
        None => {
            let created = iam
                .create_role()
                .role_name(&f.role)
                .assume_role_policy_document(TRUST)
                .description(format!("Runs the {} Lambda function (student records)", f.name))
                .send()
                .await
                .map_err(|e| aws("iam:CreateRole", f.role.clone(), e))?;
            change = Change::Created;
            created.role().map(|r| r.arn().to_owned()).unwrap_or_default()
        }
    };
    let desired = policy_document(ctx, f);
    let current = found(
        iam.get_role_policy()
            .role_name(&f.role)
            .policy_name(POLICY_NAME)
            .send()
            .await
            .map_err(|e| aws("iam:GetRolePolicy", f.role.clone(), e)),
        &["NoSuchEntity"],
    )?;
    if current.as_ref().and_then(|p| parse_policy(p.policy_document())) != Some(desired.clone()) {
        iam.put_role_policy()
            .role_name(&f.role)
            .policy_name(POLICY_NAME)
            .policy_document(desired.to_string())
            .send()
            .await
            .map_err(|e| aws("iam:PutRolePolicy", f.role.clone(), e))?;
        change = change.or_updated();
    }
    ctx.report.record(change, "role", &f.role);
    Ok(arn)
}

fn environment(f: &Function) -> HashMap<String, String> {
    f.environment_vars().collect()
}

fn config_differs(current: &FunctionConfiguration, f: &Function, role_arn: &str) -> bool {
    let env = current.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    current.role() != Some(role_arn)
        || current.memory_size() != Some(f.memory_mb)
        || current.timeout() != Some(f.timeout_s)
        || current.handler() != Some("bootstrap")
        || current.runtime() != Some(&Runtime::Providedal2023)
        || env != environment(f)
}

/// Creates or updates the function; the code only when the package changed. Returns its ARN.
pub async fn function(ctx: &Ctx, f: &Function, role_arn: &str, zip: &[u8]) -> Result<String> {
    let lambda = &ctx.aws.lambda;
    let existing = found(
        lambda
            .get_function()
            .function_name(&f.name)
            .send()
            .await
            .map_err(|e| aws("lambda:GetFunction", f.name.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    let env = Environment::builder().set_variables(Some(environment(f))).build();
    let logging = LoggingConfig::builder().log_format(LogFormat::Json).build();
    let Some(current) = existing.and_then(|o| o.configuration) else {
        ctx.report.progress(format!("uploading {} ({} KiB)", f.name, zip.len() / 1024));
        // A new role takes a few seconds to be assumable by Lambda: retry, bounded.
        for attempt in 1..=10 {
            let created = lambda
                .create_function()
                .function_name(&f.name)
                .runtime(Runtime::Providedal2023)
                .architectures(Architecture::Arm64)
                .handler("bootstrap")
                .role(role_arn)
                .memory_size(f.memory_mb)
                .timeout(f.timeout_s)
                .environment(env.clone())
                .logging_config(logging.clone())
                .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(Blob::new(zip.to_vec())).build())
                .send()
                .await;
            match created {
                Ok(out) => {
                    ctx.report.record(Change::Created, "function", &f.name);
                    return Ok(out.function_arn().unwrap_or_default().to_owned());
                }
                Err(e) if attempt < 10 && format!("{e:?}").contains("cannot be assumed") => {
                    ctx.report.progress(format!("waiting for role {} to be assumable", f.role));
                    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                }
                Err(e) => return Err(aws("lambda:CreateFunction", f.name.clone(), e)),
            }
        }
        unreachable!("the loop returns");
    };
    let mut change = Change::Unchanged;
    if current.code_sha256() != Some(code_sha256(zip).as_str()) {
        ctx.report.progress(format!("uploading new code for {} ({} KiB)", f.name, zip.len() / 1024));
        lambda
            .update_function_code()
            .function_name(&f.name)
            .zip_file(Blob::new(zip.to_vec()))
            .send()
            .await
            .map_err(|e| aws("lambda:UpdateFunctionCode", f.name.clone(), e))?;
        wait_updated(ctx, &f.name).await?;
        change = Change::Updated;
    }
    if config_differs(&current, f, role_arn) {
        lambda
            .update_function_configuration()
            .function_name(&f.name)
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role_arn)
            .memory_size(f.memory_mb)
            .timeout(f.timeout_s)
            .environment(env)
            .logging_config(logging)
            .send()
            .await
            .map_err(|e| aws("lambda:UpdateFunctionConfiguration", f.name.clone(), e))?;
        wait_updated(ctx, &f.name).await?;
        change = Change::Updated;
    }
    ctx.report.record(change, "function", &f.name);
    Ok(current.function_arn().unwrap_or_default().to_owned())
}

/// Lambda refuses a second update while one is in progress.
async fn wait_updated(ctx: &Ctx, name: &str) -> Result<()> {
    for _ in 0..60 {
        let c = ctx
            .aws
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| aws("lambda:GetFunctionConfiguration", name, e))?;
        if c.last_update_status().is_none_or(|s| s.as_str() != "InProgress") {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    Err(InfraError::Conflict(format!("function {name} is still updating after 2 minutes")))
}

/// The statement letting this API (and only it) invoke the function for one route.
pub async fn invoke_permission(ctx: &Ctx, function: &str, statement_id: &str, source_arn: &str) -> Result<Change> {
    let lambda = &ctx.aws.lambda;
    let policy = found(
        lambda.get_policy().function_name(function).send().await.map_err(|e| aws("lambda:GetPolicy", function, e)),
        &["ResourceNotFoundException"],
    )?;
    let statements: Vec<Value> = policy
        .and_then(|p| p.policy)
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .and_then(|v| v["Statement"].as_array().cloned())
        .unwrap_or_default();
    let current = statements.iter().find(|s| s["Sid"] == statement_id);
    let matches = current.is_some_and(|s| s.to_string().contains(source_arn));
    if matches {
        return Ok(ctx.report.record(Change::Unchanged, "permission", format!("{function} {statement_id}")));
    }
    if current.is_some() {
        lambda
            .remove_permission()
            .function_name(function)
            .statement_id(statement_id)
            .send()
            .await
            .map_err(|e| aws("lambda:RemovePermission", function, e))?;
    }
    lambda
        .add_permission()
        .function_name(function)
        .statement_id(statement_id)
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .source_arn(source_arn)
        .send()
        .await
        .map_err(|e| aws("lambda:AddPermission", function, e))?;
    let change = Change::replacing(current.is_some());
    Ok(ctx.report.record(change, "permission", format!("{function} {statement_id}")))
}
