//! The HTTP surface: `/healthz`, `/metrics` and, with a static directory, the SPA and `/config.json` (`/ws` is
//! answered before these routes, by [`crate::upgrade`]).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use huddle_common::ClientConfig;
use warp::filters::BoxedFilter;
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::config::Config;
use crate::relay::Relay;

/// Every route of the relay.
pub fn routes(relay: Arc<Relay>, config: &Config) -> BoxedFilter<(Response,)> {
    let with_relay = {
        let relay = Arc::clone(&relay);
        warp::any().map(move || Arc::clone(&relay))
    };

    // With Redis unreachable the relay keeps its calls but cannot take new ones: 503 tells a load balancer to
    // send newcomers elsewhere.
    let healthz = warp::path!("healthz").and(with_relay.clone()).map(|relay: Arc<Relay>| {
        let metrics = &relay.metrics;
        let mut body = serde_json::json!({
            "status": "ok",
            "connections": metrics.connections.load(Ordering::Relaxed),
            "rooms": metrics.rooms.load(Ordering::Relaxed),
        });
        let mut status = StatusCode::OK;
        if let Some(cluster) = &relay.cluster {
            let healthy = cluster.is_healthy();
            body["redis"] = (if healthy { "ok" } else { "unreachable" }).into();
            body["relay_id"] = cluster.id().into();
            if !healthy {
                body["status"] = "degraded".into();
                status = StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    });

    let metrics = warp::path!("metrics").and(with_relay).map(|relay: Arc<Relay>| {
        let mut text = relay.metrics.render();
        if let Some(cluster) = &relay.cluster {
            text.push_str(&crate::metrics::render_cluster(cluster.is_healthy(), cluster.errors()));
        }
        warp::reply::with_header(text, header::CONTENT_TYPE, "text/plain; version=0.0.4").into_response()
    });

    let api = warp::get().and(healthz.or(metrics).unify());
    match &config.static_dir {
        Some(dir) => api.or(spa(dir.clone(), &config.public_url)).unify().boxed(),
        None => api.boxed(),
    }
}

/// The built SPA: its files, `/config.json`, and `index.html` for any other path without an extension, so a room
/// link like `/r/<room id>` opens the app.
fn spa(dir: PathBuf, public_url: &Option<String>) -> BoxedFilter<(Response,)> {
    let config = ClientConfig { relay_url: public_url.clone() };
    let config_json = warp::path!("config.json").map(move || no_cache(warp::reply::json(&config).into_response()));
    let files = warp::fs::dir(dir.clone()).map(Reply::into_response);
    let index = warp::path::full()
        .and_then(|path: warp::path::FullPath| async move {
            let last = path.as_str().rsplit('/').next().unwrap_or_default();
            if last.contains('.') {
                Err(warp::reject::not_found())
            } else {
                Ok(())
            }
        })
        .untuple_one()
        .and(warp::fs::file(dir.join("index.html")))
        .map(|file: warp::fs::File| no_cache(file.into_response()));
    warp::get().and(config_json.or(files).unify().or(index).unify()).boxed()
}

/// The shell and its configuration must be revalidated so a new deploy is picked up at once.
fn no_cache(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-cache"));
    response
}
