//! Berth's edge: the HTTP listener that routes `<app>.<base domain>` and
//! custom domains to apps. Until apps have running processes to route to,
//! every host gets the "no such app" page.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// How long open connections get to finish once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

const NO_SUCH_APP: &str = include_str!("no_such_app.html");

/// Serves HTTP on `listener` until `shutdown` resolves, then lets open
/// connections finish (bounded by a grace period).
pub async fn serve(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: back off instead of spinning.
                        tracing::warn!(%error, "router: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), hyper::service::service_fn(route))
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%peer, %error, "router: connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("router: connections still open after the grace period were closed");
    }
}

async fn route(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(error_page(StatusCode::NOT_FOUND, NO_SUCH_APP))
}

fn error_page(status: StatusCode, html: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(html.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_hosts_get_no_such_app_and_shutdown_is_graceful() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, async {
            let _ = stopped.await;
        }));

        let response = reqwest::Client::new()
            .get(format!("http://{address}/"))
            .header("Host", "nope.localhost")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.text().await.unwrap().contains("No such app"));

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(15), server)
            .await
            .unwrap()
            .unwrap();
    }
}
