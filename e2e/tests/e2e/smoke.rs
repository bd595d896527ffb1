//! The environment itself: the network is isolated, and the relay serves the built SPA to a real browser.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use huddle_e2e::{ensure, wait_until, Browser, Relay, Result, TIMEOUT};

/// Only loopback exists: a connection to any other address fails at once with "network unreachable".
pub async fn network_is_isolated() -> Result<()> {
    let interfaces = huddle_e2e::network_interfaces().map_err(|e| huddle_e2e::Error::io("list interfaces", e))?;
    // Checked first: with nothing but loopback, the connect below has no route and sends no packet at all.
    ensure!(interfaces == ["lo"], "expected only loopback, found {interfaces:?}");

    let outside = SocketAddr::from(([10, 255, 255, 1], 9));
    let started = Instant::now();
    let outcome = TcpStream::connect_timeout(&outside, Duration::from_secs(2));
    ensure!(
        matches!(&outcome, Err(error) if error.kind() == ErrorKind::NetworkUnreachable),
        "connecting to {outside} should fail with 'network unreachable', got {outcome:?}"
    );
    ensure!(started.elapsed() < Duration::from_millis(500), "the refusal took {:?}", started.elapsed());

    // Loopback itself is up.
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| huddle_e2e::Error::io("bind on loopback", e))?;
    let local = listener.local_addr().map_err(|e| huddle_e2e::Error::io("read the address", e))?;
    TcpStream::connect(local).map_err(|e| huddle_e2e::Error::io(format!("connect to {local}"), e))?;
    Ok(())
}

/// The relay serves the SPA, its `/config.json` and `/healthz`, and falls back to the SPA for room links.
pub async fn relay_serves_the_spa() -> Result<()> {
    let relay = Relay::start().await?;
    let browser = Browser::launch("Ada").await?;

    browser.goto(&relay.url("/")).await?;
    wait_until("the page title mentions Huddle", TIMEOUT, async || Ok(browser.title().await?.contains("Huddle")))
        .await?;

    let (status, config) = browser.fetch("/config.json").await?;
    ensure!(status == 200 && config.is_object(), "/config.json: {status} {config}");
    // No --public-url: the SPA is to connect to /ws on its own origin.
    ensure!(config.get("relay_url").is_none(), "/config.json names a relay: {config}");

    let (status, health) = browser.fetch("/healthz").await?;
    ensure!(status == 200 && health["status"] == "ok", "/healthz: {status} {health}");

    browser.goto(&relay.url("/r/abcdefghijklmnopqrstuvwxya")).await?;
    wait_until("a room link serves the SPA", TIMEOUT, async || Ok(browser.title().await?.contains("Huddle"))).await?;

    let viewport = browser.eval_js("return [innerWidth, innerHeight];", Vec::new()).await?;
    ensure!(viewport == serde_json::json!([1280, 800]), "desktop viewport is {viewport}");
    let phone = Browser::launch_phone("Ada's phone").await?;
    let viewport = phone.eval_js("return [innerWidth, innerHeight];", Vec::new()).await?;
    ensure!(viewport == serde_json::json!([390, 844]), "phone viewport is {viewport}");
    Ok(())
}

/// The harness can take the relay down and bring it back on the same port, as the resilience tests need.
pub async fn relay_restarts_on_the_same_port() -> Result<()> {
    let mut relay = Relay::start().await?;
    let addr = relay.addr();
    let browser = Browser::launch("Ada").await?;
    browser.goto(&relay.url("/")).await?;
    let healthy = async || Ok(browser.fetch("/healthz").await?.0 == 200);

    relay.kill();
    ensure!(browser.fetch("/healthz").await.is_err(), "the killed relay still answers");
    relay.restart().await?;
    ensure!(relay.addr() == addr, "restarted on {}, not {addr}", relay.addr());
    wait_until("the restarted relay answers", TIMEOUT, healthy).await?;

    relay.stop().await?;
    ensure!(browser.fetch("/healthz").await.is_err(), "the stopped relay still answers");
    relay.restart().await?;
    wait_until("the relay answers after a graceful stop and a restart", TIMEOUT, healthy).await
}
