//! The local stack's data between runs: the students, the catalog of backups and the bucket's
//! objects, saved to a folder and loaded into a freshly deployed emulator. (The emulator keeps
//! state in memory; replaying its request log would re-create API ids and the key value at
//! random.)

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use system::Student;
use system::backup::catalog;

use crate::context::Ctx;
use crate::error::{InfraError, Result, aws};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InfraError + '_ {
    move |e| InfraError::Io(format!("{}: {e}", path.display()))
}

/// DynamoDB's own JSON form of an attribute value.
pub fn to_json(v: &AttributeValue) -> Value {
    let b64 = |b: &[u8]| json!(base64::engine::general_purpose::STANDARD.encode(b));
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::B(b) => json!({"B": b64(b.as_ref())}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::Bs(v) => json!({"BS": v.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()}),
        AttributeValue::L(v) => json!({"L": v.iter().map(to_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>()}),
        _ => Value::Null,
    }
}

pub fn from_json(v: &Value) -> Option<AttributeValue> {
    let (kind, inner) = v.as_object()?.iter().next()?;
    let strings =
        |v: &Value| v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect::<Vec<_>>());
    let blob = |v: &Value| {
        base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok().map(aws_sdk_dynamodb::primitives::Blob::new)
    };
    Some(match kind.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_owned()),
        "N" => AttributeValue::N(inner.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(inner)?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(inner.as_array()?.iter().filter_map(blob).collect()),
        "L" => AttributeValue::L(inner.as_array()?.iter().filter_map(from_json).collect()),
        "M" => {
            AttributeValue::M(inner.as_object()?.iter().filter_map(|(k, v)| Some((k.clone(), from_json(v)?))).collect())
        }
        _ => return None,
    })
}

/// Writes items into `table` 25 at a time (DynamoDB's limit), retrying what was not processed.
pub async fn write_items(ctx: &Ctx, table: &str, items: Vec<HashMap<String, AttributeValue>>) -> Result<usize> {
    let mut written = 0;
    for chunk in items.chunks(25) {
        let mut requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(PutRequest::builder().set_item(Some(item.clone())).build().expect("item set"))
                    .build()
            })
            .collect();
        for attempt in 0..8u32 {
            let out = ctx
                .aws
                .dynamodb
                .batch_write_item()
                .request_items(table, requests.clone())
                .send()
                .await
                .map_err(|e| aws("dynamodb:BatchWriteItem", table, e))?;
            let left = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
            written += requests.len() - left.len();
            requests = left;
            if requests.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
        }
        if !requests.is_empty() {
            return Err(InfraError::Conflict(format!("{} items stayed unprocessed after retries", requests.len())));
        }
    }
    Ok(written)
}

/// How much a save wrote or a load put back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub students: usize,
    /// Items of the catalog of backups.
    pub backups: usize,
    pub objects: usize,
    /// (key, day) usage counts saved (loading leaves them to the gateway).
    pub usage: usize,
}

/// The file of the students, one DynamoDB JSON item a line.
const STUDENTS_FILE: &str = "table.jsonl";
/// The file of the catalog's items (absent in a folder saved before there was a catalog).
const CATALOG_FILE: &str = "catalog.jsonl";

/// The items of `table` as lines of DynamoDB JSON, but those `skip` names.
async fn save_items(
    ctx: &Ctx,
    table: &str,
    path: &Path,
    skip: impl Fn(&HashMap<String, AttributeValue>) -> bool,
) -> Result<usize> {
    let pages = ctx.aws.dynamodb.scan().table_name(table).into_paginator().items().send();
    let all = pages.try_collect().await.map_err(|e| aws("dynamodb:Scan", table, e))?;
    let mut lines = String::new();
    let mut count = 0;
    for item in all.iter().filter(|item| !skip(item)) {
        let object: Map<String, Value> = item.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
        lines.push_str(&Value::Object(object).to_string());
        lines.push('\n');
        count += 1;
    }
    tokio::fs::write(path, lines).await.map_err(io(path))?;
    Ok(count)
}

/// Saves the students, the catalog and the bucket under `dir` (written beside it, then
/// swapped in whole).
pub async fn save(ctx: &Ctx, dir: &Path) -> Result<Counts> {
    let staging = dir.with_extension("saving");
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(staging.join("bucket")).await.map_err(io(&staging))?;
    let students = save_items(ctx, &ctx.sys.table, &staging.join(STUDENTS_FILE), |_| false).await?;
    // The one-backup-at-a-time lock is left out: loaded after a restart it would refuse every
    // backup until it expired, for a run that died with the emulator.
    let lock = |item: &HashMap<String, AttributeValue>| {
        item.get(catalog::PARTITION_KEY) == Some(&AttributeValue::S(catalog::LOCK_PARTITION.to_owned()))
    };
    let backups = save_items(ctx, &ctx.sys.backups_table, &staging.join(CATALOG_FILE), lock).await?;
    let mut objects = 0;
    let s3 = &ctx.aws.s3;
    let mut pages =
        s3.list_objects_v2().bucket(&ctx.sys.bucket).expected_bucket_owner(&ctx.account).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws("s3:ListBucket", ctx.sys.bucket.clone(), e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.split('/').any(|part| part == ".." || part.is_empty()) {
                continue; // not a path a file can stand for
            }
            let got = s3
                .get_object()
                .bucket(&ctx.sys.bucket)
                .expected_bucket_owner(&ctx.account)
                .key(key)
                .send()
                .await
                .map_err(|e| aws("s3:GetObject", key, e))?;
            let bytes = got.body.collect().await.map_err(|e| InfraError::Io(e.to_string()))?.into_bytes();
            let path = staging.join("bucket").join(key);
            tokio::fs::create_dir_all(path.parent().expect("under bucket/")).await.map_err(io(&path))?;
            tokio::fs::write(&path, &bytes).await.map_err(io(&path))?;
            objects += 1;
        }
    }
    let usage = save_usage(ctx, &staging, dir).await?;
    let _ = tokio::fs::remove_dir_all(dir).await;
    tokio::fs::rename(&staging, dir).await.map_err(io(dir))?;
    Ok(Counts { students, backups, objects, usage })
}

/// What the local gateway has counted per key and day (the emulator counts nothing): read
/// back by the gateway when it starts (`--saved-usage`), so a restart does not hand a key a
/// fresh quota.
pub const USAGE_FILE: &str = "usage.json";

/// The days of a month: the longest quota period.
const USAGE_DAYS: i64 = 31;

/// Writes [`USAGE_FILE`] into `staging` from the gateway's GetUsage, naming plans and keys by
/// name (a restarted emulator gives them new ids). Without a gateway, or when it does not
/// answer, the previous save's file is kept. Returns the (key, day) counts written.
async fn save_usage(ctx: &Ctx, staging: &Path, previous: &Path) -> Result<usize> {
    let target = staging.join(USAGE_FILE);
    let read = match &ctx.gateway {
        Some(url) => read_usage(ctx, url).await.map_err(|e| e.to_string()),
        None => Err("no --gateway-url".to_owned()),
    };
    match read {
        Ok((entries, days)) => {
            let text = serde_json::to_string_pretty(&json!({ "usage": entries })).expect("plain data");
            tokio::fs::write(&target, text).await.map_err(io(&target))?;
            Ok(days)
        }
        Err(why) => {
            let old = previous.join(USAGE_FILE);
            if old.exists() {
                eprintln!("warning: usage counts not read from the gateway ({why}); keeping the last saved ones");
                tokio::fs::copy(&old, &target).await.map_err(io(&old))?;
            }
            Ok(0)
        }
    }
}

async fn read_usage(ctx: &Ctx, gateway: &str) -> Result<(Vec<Value>, usize)> {
    let client = aws_sdk_apigateway::Client::from_conf(
        ctx.aws.apigateway.config().to_builder().endpoint_url(gateway.trim_end_matches('/')).build(),
    );
    let names: HashMap<String, String> =
        crate::resources::api_key::all_keys(ctx).await?.into_iter().filter_map(|k| Some((k.id?, k.name?))).collect();
    let today = time::OffsetDateTime::now_utc().date();
    let start = today - time::Duration::days(USAGE_DAYS - 1);
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = |d: time::Date| d.format(&format).expect("a date formats");
    let (mut entries, mut written) = (Vec::new(), 0);
    for plan in crate::resources::usage_plan::all_plans(ctx).await? {
        let (Some(id), Some(plan_name)) = (plan.id(), plan.name()) else { continue };
        let out = client
            .get_usage()
            .usage_plan_id(id)
            .start_date(date(start))
            .end_date(date(today))
            .send()
            .await
            .map_err(|e| aws("apigateway:GET", format!("/usageplans/{id}/usage"), e))?;
        for (key_id, days) in out.items().into_iter().flatten() {
            let Some(key_name) = names.get(key_id) else { continue };
            let used: Map<String, Value> = days
                .iter()
                .enumerate()
                .filter_map(|(i, pair)| {
                    let n = *pair.first()?;
                    (n > 0).then(|| (date(start + time::Duration::days(i as i64)), json!(n)))
                })
                .collect();
            if !used.is_empty() {
                written += used.len();
                entries.push(json!({"plan": plan_name, "key": key_name, "days": used}));
            }
        }
    }
    Ok((entries, written))
}

/// The items a save wrote to `path`; none when there is no such file.
async fn load_items(ctx: &Ctx, table: &str, path: &Path) -> Result<usize> {
    if !path.exists() {
        return Ok(0);
    }
    let text = tokio::fs::read_to_string(path).await.map_err(io(path))?;
    let mut items = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .map_err(|e| InfraError::Io(format!("{} line {}: {e}", path.display(), n + 1)))?;
        let item = value.as_object().map(|o| o.iter().filter_map(|(k, v)| Some((k.clone(), from_json(v)?))).collect());
        items.push(item.ok_or_else(|| InfraError::Io(format!("{} line {}: not an item", path.display(), n + 1)))?);
    }
    write_items(ctx, table, items).await
}

/// Loads what [`save`] wrote. Absent folder: nothing to load.
pub async fn load(ctx: &Ctx, dir: &Path) -> Result<Counts> {
    if !dir.join(STUDENTS_FILE).exists() {
        return Ok(Counts { students: 0, backups: 0, objects: 0, usage: 0 });
    }
    let students = load_items(ctx, &ctx.sys.table, &dir.join(STUDENTS_FILE)).await?;
    let backups = load_items(ctx, &ctx.sys.backups_table, &dir.join(CATALOG_FILE)).await?;
    let root = dir.join("bucket");
    let mut objects = 0;
    for path in crate::resources::web::files_under(&root) {
        let key = path.strip_prefix(&root).expect("under root").to_string_lossy().replace('\\', "/");
        let body =
            ByteStream::from_path(&path).await.map_err(|e| InfraError::Io(format!("{}: {e}", path.display())))?;
        ctx.aws
            .s3
            .put_object()
            .bucket(&ctx.sys.bucket)
            .expected_bucket_owner(&ctx.account)
            .key(&key)
            .body(body)
            .send()
            .await
            .map_err(|e| aws("s3:PutObject", key.clone(), e))?;
        objects += 1;
    }
    Ok(Counts { students, backups, objects, usage: 0 })
}

/// `count` made-up students (ids `SEED-00001`...), for trying the page with data.
pub fn seed_items(count: usize) -> Vec<HashMap<String, AttributeValue>> {
    seed_students(count).into_iter().map(|s| s.into_item(AttributeValue::S)).collect()
}

pub fn seed_students(count: usize) -> Vec<Student> {
    const FIRST: [&str; 10] = ["An", "Binh", "Chi", "Dung", "Giang", "Hoa", "Khanh", "Linh", "Minh", "Nam"];
    const LAST: [&str; 8] = ["Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui"];
    (1..=count)
        .map(|n| {
            let name = format!("{} {} {}", LAST[n % LAST.len()], FIRST[(n / 3) % FIRST.len()], FIRST[n % FIRST.len()]);
            Student {
                studentid: format!("SEED-{n:05}"),
                name,
                class: format!("{}A{}", 10 + n % 3, 1 + n % 6),
                birthdate: format!("{}-{:02}-{:02}", 2006 + n % 5, 1 + n % 12, 1 + n % 28),
                email: format!("seed{n}@school.example.com"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_round_trip_through_json() {
        let item = AttributeValue::M(HashMap::from([
            ("s".into(), AttributeValue::S("x".into())),
            ("n".into(), AttributeValue::N("1.5".into())),
            ("l".into(), AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)])),
            ("b".into(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![0, 255]))),
            ("ss".into(), AttributeValue::Ss(vec!["a".into(), "b".into()])),
        ]));
        assert_eq!(from_json(&to_json(&item)), Some(item));
    }

    #[test]
    fn seeds_are_valid_students() {
        let items = seed_items(3);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0][system::student::KEY], AttributeValue::S("SEED-00001".into()));
    }
}
