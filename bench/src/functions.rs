//! The functions' own costs, each beside its ceiling: the backup against the fastest bare read
//! of the same table (one plain scan, DynamoDB's 1 MB pages; the emulator sets the pace), GET and POST
//! against the one DynamoDB call they make, cold start against a minimal `lambda_runtime`
//! binary.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use harness::Emulator;
use harness::events::proxy_event;
use harness::runtime::{FakeRuntime, Outcome};
use students::backup::ScanPlan;
use system::names::{BACKUP_FUNCTION, BACKUPS_TABLE, BUCKET, FUNCTIONS, GET_FUNCTION, INSERT_FUNCTION, TABLE};
use system::{Student, env};

use crate::stats::{Row, ms, percentile};

const SENDER: &str = "registrar@school.example.com";
const RECIPIENT: &str = "admin@school.example.com";

/// An emulator with the table, the bucket and verified addresses.
async fn world() -> (Emulator, aws_sdk_dynamodb::Client) {
    let emulator = Emulator::start().await;
    let db = emulator.create_table(TABLE).await;
    emulator.create_backups_table(BACKUPS_TABLE).await;
    emulator.create_bucket(BUCKET).await;
    emulator.verify_sender(SENDER).await;
    emulator.verify_sender(RECIPIENT).await;
    (emulator, db)
}

fn function_env(emulator: &Emulator) -> Vec<(&'static str, String)> {
    let mut env = emulator.function_env();
    env.extend([
        (env::TABLE_NAME, TABLE.to_owned()),
        (env::S3_BUCKET_NAME, BUCKET.to_owned()),
        (env::SENDER_EMAIL, SENDER.to_owned()),
        (env::RECIPIENT_EMAIL, RECIPIENT.to_owned()),
        // The backup of 50,000 students takes longer than the default 12 s operation bound.
        (env::AWS_OPERATION_TIMEOUT_MS, "120000".to_owned()),
        (env::AWS_ATTEMPT_TIMEOUT_MS, "60000".to_owned()),
    ]);
    env
}

/// Writes students `from..to` (25 a batch, 8 batches at once).
async fn seed(db: &aws_sdk_dynamodb::Client, from: usize, to: usize) {
    let ids: Vec<usize> = (from..to).collect();
    let batches: Vec<Vec<usize>> = ids.chunks(25).map(<[usize]>::to_vec).collect();
    for group in batches.chunks(8) {
        let writes = group.iter().map(|batch| async move {
            let mut requests: Vec<WriteRequest> = batch
                .iter()
                .map(|n| {
                    let item = Student {
                        studentid: format!("B{n:07}"),
                        name: format!("Benchmark Student Number {n}"),
                        class: format!("1{}A{}", n % 3, n % 7),
                        birthdate: format!("20{:02}-{:02}-{:02}", n % 10, 1 + n % 12, 1 + n % 28),
                        email: format!("student{n}@school.example.com"),
                    }
                    .into_item(AttributeValue::S);
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                        .build()
                })
                .collect();
            for _ in 0..10 {
                let out = db.batch_write_item().request_items(TABLE, requests).send().await.expect("batch write");
                requests = out.unprocessed_items.and_then(|mut m| m.remove(TABLE)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
            }
        });
        futures::future::join_all(writes).await;
    }
}

/// A bare paginated scan of the whole table, its segments at once: the ceiling of anything
/// that reads it all. `page_items: None` is DynamoDB's own page size (up to 1 MB).
async fn bare_scan(db: &aws_sdk_dynamodb::Client, segments: i32, page_items: Option<i32>) -> (usize, Duration) {
    let start = Instant::now();
    let scans = (0..segments).map(|segment| {
        let scan = db.scan().table_name(TABLE).set_limit(page_items);
        let scan = if segments > 1 { scan.segment(segment).total_segments(segments) } else { scan };
        scan.into_paginator().items().send().try_collect()
    });
    let segments = futures::future::try_join_all(scans).await.expect("scan");
    (segments.iter().map(Vec::len).sum(), start.elapsed())
}

/// The resolution of a process's CPU time in /proc: USER_HZ is fixed at 100 on Linux.
const CPU_TICK: Duration = Duration::from_millis(10);

/// (user + sys CPU, peak RSS in KiB) of a process so far.
fn usage(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    (CPU_TICK * u32::try_from(ticks).expect("under a year of CPU"), hwm)
}

/// One scheduled backup by a fresh function process with pages of `page_bytes`: its wall
/// time, its CPU time and its peak RSS.
async fn one_backup(emulator: &Emulator, size: usize, page_bytes: u64) -> (Duration, Duration, u64) {
    let runtime = FakeRuntime::start().await;
    let mut env = function_env(emulator);
    env.push((env::BACKUP_PAGE_BYTES, page_bytes.to_string()));
    let mut child = runtime.spawn_function(BACKUP_FUNCTION, &env);
    runtime.first_poll(Duration::from_secs(30)).await;
    let pid = child.id().unwrap();
    let (cpu_before, _) = usage(pid);
    let event = serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
    let start = Instant::now();
    let Outcome::Response(report) = runtime.invoke(event).await else { panic!("the backup failed") };
    let wall = start.elapsed();
    assert_eq!(report["count"], size as u64, "{report}");
    let (cpu_after, rss) = usage(pid);
    let _ = child.kill().await;
    (wall, cpu_after - cpu_before, rss)
}

fn kib(bytes: u64) -> String {
    format!("{} KiB", bytes / 1024)
}

pub async fn backup(sizes: &[usize], page_budgets: &[u64]) -> Vec<Row> {
    let (emulator, db) = world().await;
    let mut rows = Vec::new();
    let mut seeded = 0;
    let mut first_rss = std::collections::HashMap::new();
    for &size in sizes {
        seed(&db, seeded, size).await;
        seeded = size;
        // The ceiling: one plain scan with DynamoDB's own pages, nothing done with the items.
        let (count, scan) = bare_scan(&db, 1, None).await;
        assert_eq!(count, size);
        for &page_bytes in page_budgets {
            let (wall, cpu, rss) = one_backup(&emulator, size, page_bytes).await;
            let pages = kib(page_bytes.min(ScanPlan::MAX_PAGE_BYTES));
            rows.push(Row::versus(format!("backup {size}, {pages} pages: wall (vs bare 1 MB-page scan)"), wall, scan));
            let base = *first_rss.entry(page_bytes).or_insert(rss);
            rows.push(Row {
                what: format!("backup {size}, {pages} pages: peak RSS (vs {} students)", sizes[0]),
                measured: format!("{:.1} MiB", rss as f64 / 1024.0),
                ceiling: format!("{:.1} MiB", base as f64 / 1024.0),
                ratio: format!("{:.2}x", rss as f64 / base as f64),
            });
            if page_bytes == ScanPlan::DEFAULT_PAGE_BYTES {
                // The kernel counts CPU time in 10 ms ticks: less than one tick reads as zero.
                let (cpu_shown, cpu_bound) = if cpu.is_zero() { (CPU_TICK, "< ") } else { (cpu, "") };
                rows.push(Row {
                    what: format!("backup {size}, {pages} pages: function CPU (vs its wall)"),
                    measured: format!("{cpu_bound}{}", ms(cpu_shown)),
                    ceiling: ms(wall),
                    ratio: format!("{cpu_bound}{:.3}x", cpu_shown.as_secs_f64() / wall.as_secs_f64()),
                });
            }
        }
    }
    rows
}

pub async fn requests(requests: usize) -> Vec<Row> {
    let (emulator, db) = world().await;
    seed(&db, 0, 1000).await;
    let env = function_env(&emulator);
    let (get_rt, post_rt) = (FakeRuntime::start().await, FakeRuntime::start().await);
    let _get = get_rt.spawn_function(GET_FUNCTION, &env);
    let _post = post_rt.spawn_function(INSERT_FUNCTION, &env);
    get_rt.first_poll(Duration::from_secs(30)).await;
    post_rt.first_poll(Duration::from_secs(30)).await;
    let page = proxy_event("GET", "/students", &[("limit", "100")], None);
    let (mut get, mut scan, mut post, mut put) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..requests + 10 {
        let t = Instant::now();
        let Outcome::Response(r) = get_rt.invoke(page.clone()).await else { panic!("GET failed") };
        assert_eq!(r["statusCode"], 200);
        let g = t.elapsed();
        let t = Instant::now();
        db.scan().table_name(TABLE).limit(100).send().await.unwrap();
        let s = t.elapsed();
        let body = serde_json::json!({"studentid": format!("P{i:06}"), "name": "Bench Post", "class": "1A", "birthdate": "2010-01-01", "email": "post@example.com"});
        let t = Instant::now();
        let Outcome::Response(r) = post_rt.invoke(proxy_event("POST", "/students", &[], Some(&body.to_string()))).await
        else {
            panic!("POST failed")
        };
        assert_eq!(r["statusCode"], 201);
        let p = t.elapsed();
        let t = Instant::now();
        db.put_item()
            .table_name(TABLE)
            .item(system::student::KEY, AttributeValue::S(format!("Q{i:06}")))
            .item("name", AttributeValue::S("Bench Put".into()))
            .condition_expression("attribute_not_exists(studentid)")
            .send()
            .await
            .unwrap();
        let q = t.elapsed();
        if i >= 10 {
            get.push(g);
            scan.push(s);
            post.push(p);
            put.push(q);
        }
    }
    for v in [&mut get, &mut scan, &mut post, &mut put] {
        v.sort();
    }
    let row = |what: &str, a: &[Duration], b: &[Duration]| Row::versus(what, percentile(a, 50.0), percentile(b, 50.0));
    vec![
        row("GET one page (100) p50 (vs bare Scan limit 100)", &get, &scan),
        row("POST one student p50, email included (vs bare conditional PutItem)", &post, &put),
    ]
}

/// Time from starting the process to its first request for an event.
async fn cold_start(bin: &str, env: &[(&'static str, String)]) -> Duration {
    let runtime = FakeRuntime::start().await;
    let start = Instant::now();
    let mut child = runtime.spawn_function(bin, env);
    let polled = runtime.first_poll(Duration::from_secs(30)).await;
    let _ = child.kill().await;
    polled - start
}

pub async fn cold_starts(runs: usize) -> Vec<Row> {
    let emulator = Emulator::start().await;
    let env = function_env(&emulator);
    let mut rows = Vec::new();
    for bin in FUNCTIONS {
        let (mut ours, mut echo) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(cold_start(bin, &env).await);
            echo.push(cold_start("testEcho", &env).await);
        }
        ours.sort();
        echo.sort();
        let (a, b) = (percentile(&ours, 50.0), percentile(&echo, 50.0));
        rows.push(Row::versus(format!("cold start {bin} p50 (vs minimal lambda_runtime)"), a, b));
    }
    rows
}

/// The arm64 release zips, when `cargo lambda build` has made them.
pub fn zip_sizes(lambda_target: Option<&str>) -> Vec<Row> {
    let Some(dir) = lambda_target else { return Vec::new() };
    FUNCTIONS
        .iter()
        .filter_map(|f| {
            let size = std::fs::metadata(format!("{dir}/lambda/{f}/bootstrap.zip")).ok()?.len();
            Some(Row {
                what: format!("arm64 release zip {f}"),
                measured: format!("{:.2} MiB", size as f64 / 1048576.0),
                ceiling: "50.00 MiB".into(),
                ratio: format!("{:.3}x (Lambda's direct-upload limit)", size as f64 / (50.0 * 1048576.0)),
            })
        })
        .collect()
}
