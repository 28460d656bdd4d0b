//! The gateway answers everyone (real gateway process, loopback only, bounded in count and
//! time): clients trickling their headers neither delay a keyed request nor stay connected
//! past the header-read timeout (30 s); a stalled body gets 408 at the body timeout (30 s);
//! a keyless upload announcing 10 MB is refused from its head, and a hundred of them at once
//! leave the gateway's memory bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use crate::app::TestApp;

const TRICKLERS: usize = 50;
const UPLOADS: usize = 100;
const TEN_MB: usize = 10 * 1024 * 1024;

/// `host:port` of the gateway.
fn address(app: &TestApp) -> String {
    app.gateway_url.trim_start_matches("http://").to_owned()
}

fn gateway_pid(app: &TestApp) -> u32 {
    std::fs::read_to_string(app.dir.join("gateway.pid")).unwrap().trim().parse().unwrap()
}

/// A field of /proc/PID/status, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads until the peer closes (or resets) the connection.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buffer[..n]);
    }
    read
}

/// Connects, sends the start of a request head, says so through `begun`, then sends one
/// header byte a second, never ending it; returns how long after connecting the gateway closed
/// the connection (None: not within `bound`).
async fn trickle(address: String, begun: Arc<Barrier>, bound: Duration) -> Option<Duration> {
    let mut stream = TcpStream::connect(&address).await.expect("the gateway accepts");
    let start = Instant::now();
    stream.write_all(b"GET /prod/students HTTP/1.1\r\nhost: gateway\r\nx-slow: ").await.unwrap();
    begun.wait().await;
    let (mut reader, mut writer) = stream.into_split();
    let writing = async {
        while start.elapsed() < bound {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // The writes go on failing once closed; the reader says when.
        std::future::pending::<()>().await;
    };
    let closed = async {
        let mut buffer = [0u8; 256];
        while matches!(reader.read(&mut buffer).await, Ok(n) if n > 0) {}
        start.elapsed()
    };
    tokio::time::timeout(bound, async {
        tokio::select! {
            after = closed => after,
            () = writing => unreachable!(),
        }
    })
    .await
    .ok()
}

#[tokio::test]
async fn clients_trickling_headers_delay_no_one_and_are_dropped_within_40_s() {
    let app = TestApp::start(&[]).await;
    let bound = Duration::from_secs(40);
    let begun = Arc::new(Barrier::new(TRICKLERS + 1));
    let tricklers: Vec<_> =
        (0..TRICKLERS).map(|_| tokio::spawn(trickle(address(&app), begun.clone(), bound))).collect();
    // A keyed POST whose body stalls after 10 of 100 bytes: admitted, then 408 at the body
    // timeout (no function is called).
    let mut stalled = TcpStream::connect(address(&app)).await.unwrap();
    let head = format!(
        "POST /prod/students HTTP/1.1\r\nhost: gateway\r\nx-api-key: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"studen",
        app.api_key
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    let stalled_at = Instant::now();
    // Every trickler has connected and begun its head.
    begun.wait().await;

    let start = Instant::now();
    let answer = app.call("GET", "/students?limit=1", Some(&app.api_key), None).await;
    let keyed = start.elapsed();
    assert_eq!(answer.status, 200);
    assert!(keyed < Duration::from_secs(3), "a keyed request took {keyed:?} beside {TRICKLERS} trickling clients");

    let mut dropped = Vec::new();
    for trickler in tricklers {
        dropped.push(trickler.await.unwrap().expect("a trickling client still connected after 40 s"));
    }
    let (first, last) = (dropped.iter().min().unwrap(), dropped.iter().max().unwrap());
    eprintln!(
        "keyed request beside {TRICKLERS} trickling clients: {:.0} ms; tricklers dropped after {:.1}–{:.1} s",
        keyed.as_secs_f64() * 1000.0,
        first.as_secs_f64(),
        last.as_secs_f64()
    );
    assert!(*first >= Duration::from_secs(25), "dropped before the header-read timeout: {first:?}");

    let answer = tokio::time::timeout(Duration::from_secs(40), until_closed(&mut stalled)).await.expect("answered");
    let answer = String::from_utf8_lossy(&answer);
    eprintln!("stalled body answered after {:.1} s", stalled_at.elapsed().as_secs_f64());
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#"{"message":"Request Timeout"}"#), "{answer}");
}

#[tokio::test]
async fn keyless_uploads_are_refused_from_the_head_and_leave_the_gateways_memory_bounded() {
    let app = TestApp::start(&[]).await;
    // A keyless request announcing 10 MB, of which it sends nothing: its 403 comes at once.
    let mut announced = TcpStream::connect(address(&app)).await.unwrap();
    let head = format!("POST /prod/students HTTP/1.1\r\nhost: gateway\r\ncontent-length: {TEN_MB}\r\n\r\n");
    announced.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let mut answer = vec![0u8; 12];
    tokio::time::timeout(Duration::from_secs(2), announced.read_exact(&mut answer))
        .await
        .expect("the 403 did not wait for the body")
        .unwrap();
    assert_eq!(&answer, b"HTTP/1.1 403", "answered after {:?}", start.elapsed());

    let pid = gateway_pid(&app);
    let before = (status_kib(pid, "VmHWM:"), status_kib(pid, "VmRSS:"));
    let body = bytes::Bytes::from(vec![b'x'; TEN_MB]);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let start = Instant::now();
    let uploads = (0..UPLOADS).map(|_| {
        let request = http.post(format!("{}/students", app.api_url)).body(body.clone());
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    let answers = futures::future::join_all(uploads).await;
    let took = start.elapsed();
    let after = (status_kib(pid, "VmHWM:"), status_kib(pid, "VmRSS:"));
    let forbidden = answers.iter().filter(|a| matches!(a, Ok(403))).count();
    eprintln!(
        "{UPLOADS} keyless 10 MB uploads in {:.1} s: {forbidden} × 403, others {:?}; gateway VmHWM {} → {} KiB, VmRSS {} → {} KiB",
        took.as_secs_f64(),
        answers
            .iter()
            .filter(|a| !matches!(a, Ok(403)))
            .map(|a| a.as_ref().map_err(|e| e.to_string()))
            .collect::<Vec<_>>(),
        before.0,
        after.0,
        before.1,
        after.1
    );
    assert_eq!(forbidden, UPLOADS, "every upload gets its 403");
    // Holding the bodies would take 1,000 MiB; the head is checked first, and what is
    // drained is dropped as it comes.
    let grown = after.0.saturating_sub(before.0);
    assert!(grown < 64 * 1024, "the gateway's peak memory grew by {grown} KiB");
}
