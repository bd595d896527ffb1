//! The HTTP surface: `/healthz`, `/metrics` and, with a static directory, `/config.json` and the SPA's files
//! ([`crate::static_files`]) for every other path (`/ws` is answered before these routes, by [`crate::upgrade`];
//! every response gets its security headers in [`crate::start`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use huddle_common::ClientConfig;
use warp::filters::BoxedFilter;
use warp::http::header::{HeaderMap, HeaderValue};
use warp::http::{header, Method, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::config::Config;
use crate::relay::Relay;
use crate::static_files::{Representation, StaticFiles};

/// Every route of the relay; `files` is the static directory, when there is one.
pub fn routes(relay: Arc<Relay>, config: &Config, files: Option<Arc<StaticFiles>>) -> BoxedFilter<(Response,)> {
    let with_relay = {
        let relay = Arc::clone(&relay);
        warp::any().map(move || Arc::clone(&relay))
    };

    // With Redis unreachable the relay keeps its calls but cannot take new ones: 503 tells a load balancer to
    // send newcomers elsewhere. Public: nothing internal (such as the relay's id, which names its Redis channel).
    let healthz = warp::path!("healthz").and(with_relay.clone()).map(|relay: Arc<Relay>| {
        let metrics = &relay.metrics;
        let mut body = serde_json::json!({
            "status": "ok",
            "connections": metrics.connections.load(Ordering::Relaxed),
            "rooms": metrics.rooms.load(Ordering::Relaxed),
        });
        let mut status = StatusCode::OK;
        if let Some(cluster) = relay.router.cluster_status() {
            body["redis"] = (if cluster.healthy { "ok" } else { "unreachable" }).into();
            if !cluster.healthy {
                body["status"] = "degraded".into();
                status = StatusCode::SERVICE_UNAVAILABLE;
            }
        }
        warp::reply::with_status(warp::reply::json(&body), status).into_response()
    });

    let metrics = warp::path!("metrics").and(with_relay).map(|relay: Arc<Relay>| {
        let mut text = relay.metrics.render();
        if let Some(cluster) = relay.router.cluster_status() {
            text.push_str(&crate::metrics::render_cluster(&cluster));
        }
        warp::reply::with_header(text, header::CONTENT_TYPE, "text/plain; version=0.0.4").into_response()
    });

    // HEAD too, for load balancers that check with it (hyper sends a HEAD response's headers without the body);
    // without it, the SPA's fallback would answer HEAD /healthz with index.html.
    let api = warp::get().or(warp::head()).unify().and(healthz.or(metrics).unify());
    match files {
        Some(files) => api.or(spa(files, &config.public_url)).unify().boxed(),
        None => api.boxed(),
    }
}

/// The built SPA: `/config.json`, made from the flags, and the static directory for every other path.
fn spa(files: Arc<StaticFiles>, public_url: &Option<String>) -> BoxedFilter<(Response,)> {
    let config = ClientConfig { relay_url: public_url.clone() };
    let body = serde_json::to_vec(&config).expect("the client config serializes");
    let config = Arc::new(Representation::generated(body.into(), HeaderValue::from_static("application/json")));
    let request = warp::method().and(warp::header::headers_cloned());
    let config_json = warp::path!("config.json")
        .and(request)
        .map(move |method: Method, headers: HeaderMap| config.respond(&method, &headers));
    let files = warp::path::full().and(request).then(move |path: warp::path::FullPath, method, headers| {
        let files = Arc::clone(&files);
        async move { files.respond(&method, path.as_str(), &headers).await }
    });
    config_json.or(files).unify().boxed()
}
