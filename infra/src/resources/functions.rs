//! The functions, their code and who may invoke them.
//!
//! A function's code (its `bootstrap`) ships as a version of a Lambda layer of its own
//! (`<function>-code`), and the function's own package is a fixed stand-in without one:
//! Lambda's custom runtime runs `/opt/bootstrap` from the layer. A new build publishes a
//! layer version and points the function at it (UpdateFunctionConfiguration). So the deployer
//! never needs `lambda:UpdateFunctionCode`, which IAM auditors flag as privilege escalation
//! whatever its resource; the powers are alike, and what makes them safe here is the boundary
//! every function role carries and PassRole limited to those roles. Layer versions are
//! immutable: the last [`KEEP_CODE_VERSIONS`] are kept, so a rollback is one configuration change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionConfiguration, LayerVersionContentInput, LayerVersionsListItem, LogFormat,
    LoggingConfig, Runtime,
};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use system::Function;

use super::tags;
use crate::context::Ctx;
use crate::error::{InfraError, Result, aws, found};
use crate::report::{Action, Change, FieldChange, compare};
use crate::verify::Check;

const KIND: &str = "function";
const CODE_KIND: &str = "code-version";
pub const PERMISSION_KIND: &str = "permission";
/// Layer versions kept per function (the current one and two to roll back to).
pub const KEEP_CODE_VERSIONS: usize = 3;

/// Where the functions' code comes from.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// `cargo lambda build --release --arm64 --output-format zip` in the workspace.
    Build { workspace: PathBuf },
    /// `<dir>/<binary>/bootstrap.zip`, built earlier.
    Dir(PathBuf),
    /// A tiny stand-in per function, for emulator tests (the emulator runs no code).
    Stub,
}

/// The zip of each function's code (a `bootstrap` at its root), by binary.
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
            "a successful `cargo lambda build` (it needs cargo-lambda and zig; scripts/infra deploy installs both, pinned)"
                .into(),
        ));
    }
    Ok(target.join("lambda"))
}

/// A deterministic zip (fixed timestamps): `name` holding `text`, executable.
fn zip_of(name: &str, text: &str) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    zip.start_file(name, options).expect("in memory");
    zip.write_all(text.as_bytes()).expect("in memory");
    zip.finish().expect("in memory").into_inner()
}

/// A stand-in for a function's code, so a re-deploy of the same stand-in is "unchanged".
pub fn stub_zip(binary: &str) -> Vec<u8> {
    zip_of("bootstrap", &format!("#!/bin/sh\n# stand-in for {binary}\nexit 1\n"))
}

/// Every function's own package: no `bootstrap` (the code layer's runs), so it never changes.
pub fn function_package() -> Vec<u8> {
    zip_of("README", "This function's code is its layer <function>-code: Lambda runs /opt/bootstrap.\n")
}

/// Lambda's CodeSha256: base64 of the package's SHA-256.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// The versions of a function's code layer (none before its first deploy).
async fn code_versions(ctx: &Ctx, f: &Function) -> Result<Vec<LayerVersionsListItem>> {
    let listed = found(
        ctx.aws
            .lambda
            .list_layer_versions()
            .layer_name(&f.code_layer)
            .send()
            .await
            .map_err(|e| aws("lambda:ListLayerVersions", f.code_layer.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    Ok(listed.and_then(|l| l.layer_versions).unwrap_or_default())
}

/// The newest version of a function's code layer: (version ARN, CodeSha256).
async fn current_code(ctx: &Ctx, f: &Function) -> Result<Option<(String, String)>> {
    let lambda = &ctx.aws.lambda;
    let Some(newest) = code_versions(ctx, f).await?.into_iter().max_by_key(|v| v.version) else {
        return Ok(None);
    };
    let arn = newest.layer_version_arn().unwrap_or_default().to_owned();
    let got = lambda
        .get_layer_version()
        .layer_name(&f.code_layer)
        .version_number(newest.version)
        .send()
        .await
        .map_err(|e| aws("lambda:GetLayerVersion", arn.clone(), e))?;
    let sha = got.content().and_then(|c| c.code_sha256()).unwrap_or_default().to_owned();
    Ok(Some((arn, sha)))
}

/// The layer version carrying `zip`: the newest if it has the same code, else a new one.
pub async fn code(ctx: &Ctx, f: &Function, zip: &[u8]) -> Result<String> {
    let current = current_code(ctx, f).await?;
    let wanted = code_sha256(zip);
    if let Some((arn, sha)) = &current
        && *sha == wanted
    {
        ctx.report.action(&Action::Unchanged, CODE_KIND, &f.code_layer);
        return Ok(arn.clone());
    }
    let action = match &current {
        None => Action::Create,
        Some((_, sha)) => Action::Update(vec![FieldChange::new("codeSha256", sha, &wanted)]),
    };
    if !ctx.applying() {
        ctx.report.action(&action, CODE_KIND, &f.code_layer);
        let placeholder = format!("arn:aws:lambda:{}:{}:layer:{}:(next)", ctx.region, ctx.account, f.code_layer);
        return Ok(placeholder);
    }
    ctx.report.progress(format!("uploading {} ({} KiB)", f.code_layer, zip.len() / 1024));
    let published = ctx
        .aws
        .lambda
        .publish_layer_version()
        .layer_name(&f.code_layer)
        .description(format!("The code of {} (managed by infra)", f.name))
        .content(LayerVersionContentInput::builder().zip_file(Blob::new(zip.to_vec())).build())
        .compatible_runtimes(Runtime::Providedal2023)
        .compatible_architectures(Architecture::Arm64)
        .send()
        .await
        .map_err(|e| aws("lambda:PublishLayerVersion", f.code_layer.clone(), e))?;
    ctx.report.action(&action, CODE_KIND, &f.code_layer);
    Ok(published.layer_version_arn().unwrap_or_default().to_owned())
}

/// Deletes the versions of a function's code layer beyond the newest `keep`.
async fn prune_code(ctx: &Ctx, f: &Function, keep: usize) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    let mut versions: Vec<i64> = code_versions(ctx, f).await?.iter().map(|v| v.version).collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    for version in versions.into_iter().skip(keep) {
        lambda
            .delete_layer_version()
            .layer_name(&f.code_layer)
            .version_number(version)
            .send()
            .await
            .map_err(|e| aws("lambda:DeleteLayerVersion", format!("{}:{version}", f.code_layer), e))?;
    }
    Ok(())
}

fn environment(f: &Function) -> HashMap<String, String> {
    f.environment_vars().collect()
}

/// What differs between a function and the declaration, on `role` with `layer` as its code.
/// A function whose own package carries code (made before code moved to layers) is replaced.
pub fn changes(f: &Function, current: &FunctionConfiguration, role: &str, layer: &str) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    compare(&mut changes, "role", current.role().unwrap_or("none"), role);
    compare(&mut changes, "memorySize", current.memory_size().unwrap_or_default(), f.memory_mb);
    compare(&mut changes, "timeout", current.timeout().unwrap_or_default(), f.timeout_s);
    compare(&mut changes, "handler", current.handler().unwrap_or("none"), "bootstrap");
    compare(
        &mut changes,
        "runtime",
        current.runtime().map_or("none", |r| r.as_str()),
        Runtime::Providedal2023.as_str(),
    );
    compare(
        &mut changes,
        "architecture",
        current.architectures().first().map_or("none", |a| a.as_str()),
        Architecture::Arm64.as_str(),
    );
    let layers: Vec<&str> = current.layers().iter().filter_map(|l| l.arn()).collect();
    if layers != [layer] {
        changes.push(FieldChange::new("layers", format!("{layers:?}"), format!("[{layer:?}]")));
    }
    let env = current.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    let wanted = environment(f);
    let mut differing: Vec<&String> =
        wanted.keys().chain(env.keys()).filter(|k| env.get(*k) != wanted.get(*k)).collect();
    differing.sort();
    differing.dedup();
    for key in differing {
        changes.push(FieldChange::optional(
            format!("environment.{key}"),
            env.get(key),
            wanted.get(key).map_or("(none)", String::as_str),
        ));
    }
    if current.code_sha256() != Some(code_sha256(&function_package()).as_str()) {
        changes.push(FieldChange::new("package", "carries code", "stand-in (code in its layer; replaced)"));
    }
    changes
}

/// JSON logs, to the function's own log group (Lambda's default name, which infra makes first
/// with a retention). Not compared: the emulator keeps no logging configuration.
fn logging() -> LoggingConfig {
    LoggingConfig::builder().log_format(LogFormat::Json).build()
}

async fn read(ctx: &Ctx, f: &Function) -> Result<Option<(FunctionConfiguration, Option<String>)>> {
    let got = found(
        ctx.aws
            .lambda
            .get_function()
            .function_name(&f.name)
            .send()
            .await
            .map_err(|e| aws("lambda:GetFunction", f.name.clone(), e)),
        &["ResourceNotFoundException"],
    )?;
    Ok(got.and_then(|g| {
        let tag = g.tags().and_then(|t| t.get(system::names::STACK_TAG)).cloned();
        g.configuration.map(|c| (c, tag))
    }))
}

/// Creates or updates the function on `layer` (its code); returns its ARN.
pub async fn reconcile(ctx: &Ctx, f: &Function, role: &str, layer: &str) -> Result<String> {
    let live = read(ctx, f).await?;
    let action = match &live {
        None => Action::Create,
        Some((current, tag)) => {
            let mut changes = changes(f, current, role, layer);
            changes.extend(tags::change(ctx, tag.as_deref()));
            Action::update(changes)
        }
    };
    let arn = format!("arn:aws:lambda:{}:{}:function:{}", ctx.region, ctx.account, f.name);
    if !ctx.applying() || action == Action::Unchanged {
        ctx.report.action(&action, KIND, &f.name);
        return Ok(live.and_then(|(c, _)| c.function_arn).unwrap_or(arn));
    }
    let lambda = &ctx.aws.lambda;
    let replace =
        live.as_ref().is_some_and(|(c, _)| c.code_sha256() != Some(code_sha256(&function_package()).as_str()));
    if replace {
        // Only UpdateFunctionCode could swap the package in place; the deployer has no right to it.
        ctx.report.progress(format!("replacing {} (its package carries code; from now on its layer does)", f.name));
        lambda
            .delete_function()
            .function_name(&f.name)
            .send()
            .await
            .map_err(|e| aws("lambda:DeleteFunction", f.name.clone(), e))?;
    }
    let env = Environment::builder().set_variables(Some(environment(f))).build();
    match (&live, replace) {
        (None, _) | (Some(_), true) => create(ctx, f, role, layer, env).await?,
        (Some((current, tag)), false) => {
            if !changes(f, current, role, layer).is_empty() {
                lambda
                    .update_function_configuration()
                    .function_name(&f.name)
                    .runtime(Runtime::Providedal2023)
                    .handler("bootstrap")
                    .role(role)
                    .memory_size(f.memory_mb)
                    .timeout(f.timeout_s)
                    .environment(env)
                    .layers(layer)
                    .logging_config(logging())
                    .send()
                    .await
                    .map_err(|e| aws("lambda:UpdateFunctionConfiguration", f.name.clone(), e))?;
                wait_updated(ctx, &f.name).await?;
            }
            if !tags::ours(ctx, tag.as_deref()) {
                lambda
                    .tag_resource()
                    .resource(&arn)
                    .set_tags(Some(tags::map(ctx)))
                    .send()
                    .await
                    .map_err(|e| aws("lambda:TagResource", f.name.clone(), e))?;
            }
        }
    }
    prune_code(ctx, f, KEEP_CODE_VERSIONS).await?;
    ctx.report.action(&action, KIND, &f.name);
    Ok(arn)
}

async fn create(ctx: &Ctx, f: &Function, role: &str, layer: &str, env: Environment) -> Result<()> {
    let lambda = &ctx.aws.lambda;
    // A new role takes a few seconds to be assumable by Lambda: retry, bounded.
    for attempt in 1..=10 {
        let created = lambda
            .create_function()
            .function_name(&f.name)
            .runtime(Runtime::Providedal2023)
            .architectures(Architecture::Arm64)
            .handler("bootstrap")
            .role(role)
            .memory_size(f.memory_mb)
            .timeout(f.timeout_s)
            .environment(env.clone())
            .layers(layer)
            .logging_config(logging())
            .set_tags(Some(tags::map(ctx)))
            .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(Blob::new(function_package())).build())
            .send()
            .await;
        match created {
            Ok(_) => return Ok(()),
            Err(e)
                if attempt < 10
                    && e.as_service_error().is_some_and(|s| s.is_invalid_parameter_value_exception())
                    && format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&e))
                        .contains("cannot be assumed") =>
            {
                ctx.report.progress(format!("waiting for role {} to be assumable", f.role));
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            Err(e) => return Err(aws("lambda:CreateFunction", f.name.clone(), e)),
        }
    }
    unreachable!("the loop returns");
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

/// Who may invoke a function, and for which source: one statement of its resource policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub principal: String,
    pub source_arn: String,
}

impl Grant {
    /// A statement as Lambda's GetPolicy shows it: `Principal` a service (or a bare string),
    /// the source in the `ArnLike` condition on `AWS:SourceArn`.
    fn of(statement: &Value) -> Self {
        let principal = &statement["Principal"];
        let principal = principal["Service"].as_str().or_else(|| principal.as_str()).unwrap_or_default();
        let source = statement["Condition"]
            .as_object()
            .into_iter()
            .flat_map(|operators| operators.values())
            .filter_map(Value::as_object)
            .flat_map(|keys| keys.iter())
            .find(|(key, _)| key.eq_ignore_ascii_case("aws:SourceArn"))
            .and_then(|(_, arn)| arn.as_str())
            .unwrap_or_default();
        Self { principal: principal.to_owned(), source_arn: source.to_owned() }
    }

    /// What differs from `wanted`.
    pub fn changes(&self, wanted: &Grant) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        compare(&mut changes, "principal", self.principal.as_str(), wanted.principal.as_str());
        compare(&mut changes, "sourceArn", self.source_arn.as_str(), wanted.source_arn.as_str());
        changes
    }
}

/// The statement `statement_id` of the function's resource policy; `None` when there is no
/// such statement (or no function).
pub async fn grant(ctx: &Ctx, function: &str, statement_id: &str) -> Result<Option<Grant>> {
    let policy = found(
        ctx.aws
            .lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
            .map_err(|e| aws("lambda:GetPolicy", function, e)),
        &["ResourceNotFoundException"],
    )?;
    let statements: Vec<Value> = policy
        .and_then(|p| p.policy)
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .and_then(|v| v["Statement"].as_array().cloned())
        .unwrap_or_default();
    Ok(statements.iter().find(|s| s["Sid"] == statement_id).map(Grant::of))
}

/// The statement letting `wanted.principal` invoke the function, from `wanted.source_arn`
/// only (one API's method and path, one EventBridge rule).
pub async fn invoke_permission(ctx: &Ctx, function: &str, statement_id: &str, wanted: &Grant) -> Result<Change> {
    let current = grant(ctx, function, statement_id).await?;
    let what = format!("{function} {statement_id}");
    let action = match &current {
        None => Action::Create,
        Some(current) => Action::update(current.changes(wanted)),
    };
    if ctx.applying() && action != Action::Unchanged {
        let lambda = &ctx.aws.lambda;
        if current.is_some() {
            remove_permission(ctx, function, statement_id).await?;
        }
        lambda
            .add_permission()
            .function_name(function)
            .statement_id(statement_id)
            .action("lambda:InvokeFunction")
            .principal(&wanted.principal)
            .source_arn(&wanted.source_arn)
            .send()
            .await
            .map_err(|e| aws("lambda:AddPermission", function, e))?;
    }
    Ok(ctx.report.action(&action, PERMISSION_KIND, what))
}

/// Removes one statement from the function's resource policy.
pub async fn remove_permission(ctx: &Ctx, function: &str, statement_id: &str) -> Result<()> {
    ctx.aws
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(statement_id)
        .send()
        .await
        .map_err(|e| aws("lambda:RemovePermission", function, e))?;
    Ok(())
}

/// The deployed functions' environment, merged (the first function naming a variable wins),
/// for commands that were not told a value (`verify`'s addresses and backup wait).
pub async fn deployed_environment(ctx: &Ctx) -> Result<HashMap<String, String>> {
    let mut merged = HashMap::new();
    for f in &ctx.sys.functions {
        if let Some((config, _)) = read(ctx, f).await? {
            for (k, v) in config.environment().and_then(|e| e.variables()).cloned().unwrap_or_default() {
                merged.entry(k).or_insert(v);
            }
        }
    }
    Ok(merged)
}

/// Each function's configuration: runtime, architecture, role, environment, its code layer.
pub async fn checks(ctx: &Ctx) -> Result<Vec<Check>> {
    let mut checks = Vec::new();
    for f in &ctx.sys.functions {
        let live = read(ctx, f).await?;
        let code = current_code(ctx, f).await?;
        let changes = match (&live, &code) {
            (Some((current, tag)), Some((layer, _))) => {
                let mut changes = changes(f, current, &ctx.sys.role_arn(&f.role), layer);
                changes.extend(tags::change(ctx, tag.as_deref()));
                changes
            }
            (Some(_), None) => vec![FieldChange::new("code layer", "missing", &f.code_layer)],
            (None, _) => Vec::new(),
        };
        checks.push(Check::declared(
            format!(
                "{KIND} {} runs provided.al2023 on arm64 as {} with its environment and newest code",
                f.name, f.role
            ),
            live.is_some(),
            &changes,
        ));
    }
    Ok(checks)
}

/// Deletes the functions that carry the stack tag, and their code layers' versions. Returns
/// the SES addresses the deleted functions named (so their identities go too).
pub async fn destroy(ctx: &Ctx) -> Result<Vec<String>> {
    let mut addresses = Vec::new();
    for f in &ctx.sys.functions {
        let Some((config, tag)) = read(ctx, f).await? else {
            ctx.report.record(Change::Gone, KIND, &f.name);
            continue;
        };
        if !tags::ours(ctx, tag.as_deref()) {
            tags::left_alone(ctx, KIND, &f.name);
            continue;
        }
        let env = config.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
        addresses.extend(
            [system::env::SENDER_EMAIL, system::env::RECIPIENT_EMAIL].iter().filter_map(|v| env.get(*v).cloned()),
        );
        if !ctx.applying() {
            ctx.report.to_delete(KIND, &f.name);
            continue;
        }
        ctx.aws
            .lambda
            .delete_function()
            .function_name(&f.name)
            .send()
            .await
            .map_err(|e| aws("lambda:DeleteFunction", f.name.clone(), e))?;
        prune_code(ctx, f, 0).await?;
        ctx.report.record(Change::Deleted, KIND, &f.name);
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_reads_as_lambda_shows_it_and_names_what_differs() {
        let statement = serde_json::json!({
            "Sid": "student-daily-backup-invoke",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:us-east-1:1:function:f",
            "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:1:rule/r"}}
        });
        let wanted =
            Grant { principal: "events.amazonaws.com".into(), source_arn: "arn:aws:events:us-east-1:1:rule/r".into() };
        assert_eq!(Grant::of(&statement), wanted);
        assert!(Grant::of(&statement).changes(&wanted).is_empty());
        let other = Grant { source_arn: "arn:aws:events:us-east-1:1:rule/other".into(), ..wanted.clone() };
        let changes: Vec<String> = Grant::of(&statement).changes(&other).iter().map(ToString::to_string).collect();
        assert_eq!(changes, ["sourceArn arn:aws:events:us-east-1:1:rule/r → arn:aws:events:us-east-1:1:rule/other"]);
        let bare = serde_json::json!({"Sid": "s", "Principal": "apigateway.amazonaws.com"});
        assert_eq!(Grant::of(&bare), Grant { principal: "apigateway.amazonaws.com".into(), source_arn: String::new() });
    }
}
