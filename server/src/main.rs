//! The `huddle-server` binary: parses the configuration, sets up logging, starts the relay ([`huddle_server::start`])
//! and shuts it down cleanly on SIGINT or SIGTERM; `--print-headers` prints a static host's headers instead.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use huddle_server::security_headers::Policy;
use huddle_server::static_host::{HostHeaders, StaticHost};
use huddle_server::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(host) = config.print_headers {
        return print_headers(host, &config);
    }
    // hyper warns of every connection cut by the header-read timeout: anyone could fill the log with those.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,hyper::proto::h1::io=error"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Human => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime starts");
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let serving_spa = config.static_dir.is_some();
    let relay = match huddle_server::start(config).await {
        Ok(relay) => relay,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let addr = relay.local_addr();
    tracing::info!(%addr, "relay listening on ws://{addr}/ws");
    if serving_spa {
        tracing::info!("Huddle is running at http://{addr}");
    }
    let signal = shutdown_signal().await;
    tracing::info!(signal, "shutting down: closing every connection with 1001");
    relay.shut_down(Duration::from_secs(5)).await;
    ExitCode::SUCCESS
}

/// `--print-headers`: the headers of `--static-dir` for a static host, on stdout; what went wrong, on stderr.
fn print_headers(host: StaticHost, config: &Config) -> ExitCode {
    let dir = config.static_dir.as_deref().expect("clap requires --static-dir with --print-headers");
    let headers = Policy::new(config.public_url.as_deref())
        .map_err(|error| error.to_string())
        .and_then(|policy| HostHeaders::read(dir, &policy).map_err(|error| error.to_string()));
    match headers {
        Ok(headers) => {
            let host_name = clap::ValueEnum::to_possible_value(&host).expect("no value is skipped");
            let mut command =
                format!("huddle-server --print-headers {} --static-dir {}", host_name.get_name(), dir.display());
            if let Some(url) = &config.public_url {
                command.push_str(&format!(" --public-url {url}"));
            }
            print!("{}", headers.render(host, &command));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
