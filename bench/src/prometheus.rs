//! Reading Huddle's `/metrics` (Prometheus text format) over plain HTTP/1.1 on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The value of the unlabelled sample `name` in a Prometheus text exposition.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (metric, value) = line.split_once(' ')?;
        (metric == name).then(|| value.trim().parse().ok()).flatten()
    })
}

/// The body of `GET /metrics` from the relay at `addr`.
pub async fn fetch(addr: SocketAddr) -> std::io::Result<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| std::io::Error::other("/metrics did not answer within 5 s"))??;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| std::io::Error::other("no HTTP body"))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("/metrics answered {}", head.lines().next().unwrap_or(""))));
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_found_by_exact_name() {
        let text = "# HELP huddle_connections WebSocket connections open now.\n# TYPE huddle_connections gauge\n\
                    huddle_connections 3\nhuddle_connections_total 17\n\
                    huddle_rejections_total{reason=\"room_full\"} 2\n";
        assert_eq!(sample(text, "huddle_connections"), Some(3.0));
        assert_eq!(sample(text, "huddle_connections_total"), Some(17.0));
        assert_eq!(sample(text, "huddle_rooms"), None);
    }
}
