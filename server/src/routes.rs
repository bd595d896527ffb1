//! The HTTP surface: `/ws`, `/healthz`, `/metrics` and, with a static directory, the SPA and `/config.json`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use huddle_common::ClientConfig;
use warp::filters::BoxedFilter;
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply};

use crate::config::Config;
use crate::connection;
use crate::metrics::Rejection;
use crate::relay::Relay;

/// Every route of the relay.
pub fn routes(relay: Arc<Relay>, config: &Config) -> BoxedFilter<(Response,)> {
    let allowed_origins: Arc<[String]> =
        config.allowed_origins.iter().map(|o| o.trim_end_matches('/').to_owned()).collect();
    let max_message_bytes = relay.limits.max_message_bytes;
    let with_relay = {
        let relay = Arc::clone(&relay);
        warp::any().map(move || Arc::clone(&relay))
    };

    let ws =
        warp::path!("ws").and(warp::ws()).and(warp::header::optional::<String>("origin")).and(with_relay.clone()).map(
            move |ws: warp::ws::Ws, origin: Option<String>, relay: Arc<Relay>| {
                if let Some(origin) = &origin {
                    if !allowed_origins.is_empty() && !allowed_origins.iter().any(|allowed| allowed == origin) {
                        relay.metrics.reject(Rejection::Origin);
                        return refuse(StatusCode::FORBIDDEN, "origin not allowed");
                    }
                }
                let Some(slot) = relay.admit_connection() else {
                    relay.metrics.reject(Rejection::ConnectionLimit);
                    return refuse(StatusCode::SERVICE_UNAVAILABLE, "too many connections; try again later");
                };
                ws.max_message_size(max_message_bytes)
                    .max_frame_size(max_message_bytes)
                    .on_upgrade(move |socket| connection::serve(socket, relay, slot))
                    .into_response()
            },
        );

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

    let api = warp::get().and(healthz.or(metrics).unify()).or(ws).unify();
    match &config.static_dir {
        Some(dir) => api.or(spa(dir.clone(), &config.public_url)).unify().boxed(),
        None => api.boxed(),
    }
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    warp::reply::with_status(why, status).into_response()
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
