//! The network benchmark's smoke test: a short run of its whole pipeline (links impaired, both clients, the probe,
//! the figures, the report) — not a measurement.

use huddle_e2e::network::call::{one_call, Network};
use huddle_e2e::network::lab::BenchLab;
use huddle_e2e::network::profile::Profile;
use huddle_e2e::network::report::{Context, Metric, Report, CLIENTS};
use huddle_e2e::{ensure, Error, Result};

/// How long the call is measured.
const SECONDS: u64 = 3;

/// Two people on lossy links, once with Huddle and once with the baseline: every receiver decoded video frames and
/// played audio in the measured window, and the report's table shows those very figures for both clients.
pub async fn a_short_network_run_measures_both_clients() -> Result<()> {
    let profile = Profile::Lossy;
    let network = BenchLab::start(2).await?;
    let mut report = Report {
        context: Context { runs: 1, seconds: SECONDS, network: network.describe(), ..Context::default() },
        ..Report::default()
    };
    for client in CLIENTS {
        report.calls.push(one_call(&network, client, profile, 2, SECONDS).await?);
    }
    for call in &report.calls {
        let label = call.client.label();
        ensure!(call.setup_ms.len() == 2, "{label}: setup times of {:?}", call.setup_ms);
        let windows = &call.phases[0].windows;
        ensure!(windows.len() == 2, "{label}: {} receivers measured, not 2", windows.len());
        for (receiver, window) in windows {
            ensure!(window.frames > 0.0, "{label}: person {} decoded no video from {}", receiver.person, receiver.from);
            ensure!(
                window.audio_samples > 0.0,
                "{label}: person {} played no audio from {}",
                receiver.person,
                receiver.from
            );
        }
    }
    let table = report.table(profile, 2);
    for metric in [Metric::Fps, Metric::Concealed, Metric::Setup] {
        let mut cells = Vec::new();
        for client in CLIENTS {
            let cell = report
                .cell(client, profile, 2, "call", metric)
                .ok_or_else(|| Error::Check(format!("{}: no {}", client.label(), metric.label())))?;
            let (Some(median), Some(worst)) = (cell.median, cell.worst) else {
                return Err(Error::Check(format!("{}: {} has no value", client.label(), metric.label())));
            };
            cells.push(format!("{} | {}", metric.show(median), metric.show(worst)));
        }
        let row = format!("| {} | {} |", metric.label(), cells.join(" | "));
        ensure!(table.contains(&row), "the report lacks the row `{row}`:\n{table}");
    }
    let fps = report.cell(CLIENTS[0], profile, 2, "call", Metric::Fps).and_then(|cell| cell.worst);
    ensure!(fps.is_some_and(|fps| fps > 0.0), "Huddle's worst receiver shows {fps:?} frames per second");
    ensure!(report.markdown().contains(&table), "the report does not hold the table");
    Ok(())
}
