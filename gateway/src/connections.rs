//! How connections are accepted and served, so that slow or idle clients cannot starve the
//! rest: HTTP/1.1 over hyper with a header-read timeout (a connection that has not sent a whole
//! request head within it — a new one, or a kept-alive one between requests — is closed), a cap
//! on open connections (the next is accepted when one closes), and a shutdown that lets
//! requests in flight finish for a bounded time. (`axum::serve` sets no timer and no cap.) The
//! body's own timeout is the API's ([`crate::api`]): it knows when a body is wanted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// What a connection may take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// From the moment a connection waits for a request until its head (request line and
    /// headers) has arrived.
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// How long requests in flight may go on once shutdown is asked for.
    pub shutdown_grace: Duration,
}

/// The defaults: API Gateway's clients get at least this long (the bound is 30 s).
pub const HEADER_READ_TIMEOUT_SECS: u64 = 30;
pub const MAX_CONNECTIONS: usize = 512;
/// The body's timeout ([`crate::server::Config::body_timeout`]): 10 MB within it is 350 KB/s.
pub const BODY_TIMEOUT_SECS: u64 = 30;

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(HEADER_READ_TIMEOUT_SECS),
            max_connections: MAX_CONNECTIONS,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// hyper's read buffer bound per connection: room for API Gateway's 10,240 bytes of headers,
/// while a body streams through in pieces (hyper's default is about 400 KiB, which a few
/// hundred uploads would multiply).
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Serves `router` on `listener` within `limits` until `shutdown` resolves; then stops
/// accepting, lets each connection finish its request (at most `shutdown_grace`) and returns.
pub async fn serve(
    router: axum::Router,
    listener: TcpListener,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(READ_BUFFER_BYTES)
        // The request's header names as the client sent them, for the proxy event.
        .preserve_header_case(true);
    tokio::pin!(shutdown);
    loop {
        // A place first: at the cap, further connections wait in the listen backlog.
        let place = tokio::select! {
            place = places.clone().acquire_owned() => place.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, a connection reset before it was accepted: the
                // listener itself is fine.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    // Out of file descriptors fails again at once: give connections a moment to
                    // close rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Finished connections are collected as we go, so the set stays as large as the cap.
        while connections.try_join_next().is_some() {}
        let service = router.clone().map_request(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request
        });
        let connection = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let _place = place;
            tokio::pin!(connection);
            tokio::select! {
                // A closed or timed-out connection is no news: nothing to log above debug.
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended");
                    }
                }
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(());
    let finished =
        tokio::time::timeout(limits.shutdown_grace, async { while connections.join_next().await.is_some() {} });
    if finished.await.is_err() {
        tracing::warn!(open = connections.len(), "requests still running at shutdown are cut off");
        connections.abort_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    use super::*;

    /// A server of `GET /` → "ok" within `limits`; its address, and the handle that stops it.
    async fn start(
        limits: ConnectionLimits,
    ) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let router = axum::Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/slow", get(|| async { tokio::time::sleep(Duration::from_secs(60)).await }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve(router, listener, limits, async { stopped.await.unwrap_or(()) }).await.unwrap();
        });
        (address, stop, server)
    }

    /// Sends a GET on `stream` and reads its answer (the server closes after it: Connection: close).
    async fn get_on(stream: &mut TcpStream, path: &str) -> String {
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// Reads until the server closes the connection; how long that took.
    async fn closed_after(stream: &mut TcpStream) -> Duration {
        let start = Instant::now();
        let mut buffer = [0u8; 256];
        while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
        start.elapsed()
    }

    #[tokio::test]
    async fn a_head_not_sent_in_time_closes_the_connection_and_others_are_served_meanwhile() {
        let limits = ConnectionLimits { header_read_timeout: Duration::from_secs(1), ..ConnectionLimits::default() };
        let (address, _stop, _server) = start(limits).await;
        // Silent, and half a head: both closed at the timeout.
        let mut silent = TcpStream::connect(address).await.unwrap();
        let mut partial = TcpStream::connect(address).await.unwrap();
        partial.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: a").await.unwrap();
        let mut served = TcpStream::connect(address).await.unwrap();
        assert!(get_on(&mut served, "/").await.starts_with("HTTP/1.1 200"));
        for stream in [&mut silent, &mut partial] {
            let after = tokio::time::timeout(Duration::from_secs(5), closed_after(stream)).await.expect("closed");
            assert!(after < Duration::from_secs(3), "closed after {after:?}");
        }
        // A kept-alive connection idle between requests: the same timeout.
        let mut kept = TcpStream::connect(address).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let idle = tokio::time::timeout(Duration::from_secs(5), closed_after(&mut kept)).await.expect("closed");
        assert!(idle >= Duration::from_millis(900) && idle < Duration::from_secs(3), "{idle:?}");
    }

    #[tokio::test]
    async fn at_the_cap_the_next_connection_waits_for_a_place() {
        let limits = ConnectionLimits { max_connections: 2, ..ConnectionLimits::default() };
        let (address, _stop, _server) = start(limits).await;
        let mut first = TcpStream::connect(address).await.unwrap();
        let second = TcpStream::connect(address).await.unwrap();
        // Both places are taken once the server has accepted them: a request on the first is
        // answered, so the accept loop has moved on.
        first.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut head = [0u8; 12];
        first.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        // The third connects (the kernel's backlog) but is not served while the two are open.
        let mut third = TcpStream::connect(address).await.unwrap();
        third.write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
        let mut byte = [0u8; 1];
        let waiting = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
        assert!(waiting.is_err(), "served beyond the cap");
        drop(second);
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(5), third.read_to_string(&mut answer)).await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test]
    async fn shutdown_lets_requests_finish_for_a_bounded_time() {
        let limits = ConnectionLimits { shutdown_grace: Duration::from_millis(500), ..ConnectionLimits::default() };
        let (address, stop, server) = start(limits).await;
        let mut slow = TcpStream::connect(address).await.unwrap();
        slow.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        // The request is in the handler once the server has read it; a served request on
        // another connection shows the loop is past that accept.
        assert!(get_on(&mut TcpStream::connect(address).await.unwrap(), "/").await.starts_with("HTTP/1.1 200"));
        let start = Instant::now();
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("serve returned").unwrap();
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
        assert!(TcpStream::connect(address).await.is_err(), "no longer listening");
    }
}
