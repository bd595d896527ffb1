//! A thin link on loopback: the kernel's token bucket filter (`tbf`) limits what chosen local ports send, so a page
//! served by the relay arrives at, say, 600 kbit/s, while everything else on loopback (chromedriver talking to
//! Chromium's DevTools, the WebDriver client) stays at full speed.
//!
//! How: `lo` gets an `htb` root qdisc with two classes of practically unlimited rate, a `u32` filter sends packets
//! whose source port is one of the relays' to the first, and that class's leaf is the `tbf` that sets the rate
//! (this kernel has neither `netem` nor `prio`; `htb` and `tbf` are there). Only the relay's downlink is shaped:
//! requests from the browser to the relay, being small, go unshaped. `lo`'s MTU is set to 1500 first, as on a real
//! link: with loopback's 64 KiB packets a token bucket of a few kilobytes could pass nothing. No delay is added (the
//! kernel has no `netem`): the link is thin, not long.
//!
//! Only inside the harness's isolated network: [`Shaper::install`] refuses to touch a `lo` that has company.

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::tools::run_tool;
use crate::{isolation, Error, Result};

/// The MTU `lo` gets while shaped: Ethernet's.
const MTU: &str = "1500";
/// How long a packet may wait in the token bucket before it is dropped: a large buffer, as on a mobile link. With a
/// short one (200 ms) TCP loses enough packets for its retransmission timeouts to stall some downloads at random.
const QUEUE_LATENCY: &str = "1s";
/// How long a check download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// A link rate, in kilobits (1,000 bits) per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate {
    kbit: u32,
}

impl Rate {
    /// A rate of `kbit` kilobits per second.
    pub const fn kbit(kbit: u32) -> Rate {
        Rate { kbit }
    }

    /// Kilobits per second.
    pub fn as_kbit(self) -> u32 {
        self.kbit
    }

    /// Reads `600kbit`, `2mbit`, `2Mbit/s` or a plain number of kbit/s.
    pub fn parse(text: &str) -> std::result::Result<Rate, String> {
        let lower = text.trim().to_ascii_lowercase();
        let lower = lower.strip_suffix("/s").unwrap_or(&lower);
        let (number, factor) = if let Some(number) = lower.strip_suffix("mbit") {
            (number, 1000.0)
        } else {
            (lower.strip_suffix("kbit").unwrap_or(lower), 1.0)
        };
        match number.trim().parse::<f64>() {
            Ok(value) if value * factor >= 8.0 && value * factor <= 10_000_000.0 => {
                Ok(Rate { kbit: (value * factor).round() as u32 })
            }
            _ => Err(format!("`{text}` is not a link rate (e.g. 600kbit, 2mbit; at least 8 kbit)")),
        }
    }

    /// How many bytes per second the rate carries (link-layer bytes, headers included).
    pub fn bytes_per_second(self) -> f64 {
        f64::from(self.kbit) * 1000.0 / 8.0
    }

    /// The rate as `tc` writes it.
    pub(crate) fn tc(self) -> String {
        format!("{}kbit", self.kbit)
    }

    /// The token bucket's size: a few full-size packets, or 20 ms at the rate on faster links.
    pub(crate) fn burst_bytes(self) -> u32 {
        (self.bytes_per_second() / 50.0).max(4096.0) as u32
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kbit % 1000 == 0 {
            write!(f, "{} Mbit/s", self.kbit / 1000)
        } else {
            write!(f, "{} kbit/s", self.kbit)
        }
    }
}

/// The relays' downlink shaped to a rate; loopback is left as it was found when this is dropped.
pub struct Shaper {
    rate: Rate,
    mtu_before: Option<String>,
}

impl Shaper {
    /// Shapes everything sent from 127.0.0.1 by the local `ports` (the relays') to `rate`.
    pub fn install(ports: &[u16], rate: Rate) -> Result<Shaper> {
        isolation::verify().map_err(|why| Error::Check(format!("refusing to shape loopback: {why}")))?;
        // From `ip`, which asks this namespace: /sys/class/net would show the host's loopback.
        let mtu_before = run_tool(None, "ip -o link show dev lo").ok().and_then(|line| link_mtu(&line));
        // Removing a root qdisc that is not there fails; nothing else is left over then.
        let _ = run_tool(None, "tc qdisc del dev lo root");
        let shaper = Shaper { rate, mtu_before };
        run_tool(None, &format!("ip link set dev lo mtu {MTU}"))?;
        shaped_class(rate)?;
        for port in ports {
            run_tool(
                None,
                &format!(
                    "tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport {port} 0xffff flowid 1:1"
                ),
            )?;
        }
        Ok(shaper)
    }

    /// Shapes every UDP packet sent on loopback (WebRTC's media, both ways, sharing the one bucket) to `rate`; TCP
    /// (the relay, WebDriver) stays at full speed. `lo`'s MTU is left alone: media packets are smaller than the bucket.
    pub fn install_udp(rate: Rate) -> Result<Shaper> {
        isolation::verify().map_err(|why| Error::Check(format!("refusing to shape loopback: {why}")))?;
        let _ = run_tool(None, "tc qdisc del dev lo root");
        let shaper = Shaper { rate, mtu_before: None };
        shaped_class(rate)?;
        run_tool(None, "tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip protocol 17 0xff flowid 1:1")?;
        Ok(shaper)
    }

    /// The rate it shapes to.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// How the shaper is set up, as `tc` reports it (for the run's log).
    pub fn describe(&self) -> String {
        let run = |command: &str| run_tool(None, command).unwrap_or_else(|error| format!("({error})"));
        format!("{}{}", run("tc qdisc show dev lo"), run("tc filter show dev lo"))
    }

    /// Bytes that have passed through the token bucket so far (`tc -s qdisc`'s "Sent N bytes" of the `tbf`).
    pub fn shaped_bytes(&self) -> Result<u64> {
        let stats = run_tool(None, "tc -s qdisc show dev lo handle 10:")?;
        sent_bytes(&stats).ok_or_else(|| Error::Check(format!("no byte count in `tc -s qdisc`: {stats}")))
    }
}

impl Drop for Shaper {
    fn drop(&mut self) {
        let _ = run_tool(None, "tc qdisc del dev lo root");
        if let Some(mtu) = &self.mtu_before {
            let _ = run_tool(None, &format!("ip link set dev lo mtu {mtu}"));
        }
    }
}

/// UDP packets leaving anything in the test's isolated network dropped, all of them or a share at random, until this
/// is dropped: WebRTC's media and ICE checks both ways, while WebDriver and the relay's signalling (TCP) go on.
pub struct UdpDrop {
    rule: String,
}

impl UdpDrop {
    /// Drops every UDP packet: the path gone.
    pub fn all() -> Result<UdpDrop> {
        UdpDrop::install("OUTPUT -p udp -j DROP".to_owned())
    }

    /// Drops this share (0–1) of the UDP packets, each at random: a lossy link.
    pub fn share(probability: f64) -> Result<UdpDrop> {
        UdpDrop::install(format!("OUTPUT -p udp -m statistic --mode random --probability {probability} -j DROP"))
    }

    fn install(rule: String) -> Result<UdpDrop> {
        isolation::verify().map_err(|why| Error::Check(format!("refusing to drop packets: {why}")))?;
        run_tool(None, &format!("iptables -I {rule}"))?;
        Ok(UdpDrop { rule })
    }
}

impl Drop for UdpDrop {
    fn drop(&mut self) {
        if let Err(error) = run_tool(None, &format!("iptables -D {}", self.rule)) {
            crate::diagnostics::note(format!("could not remove `{}`: {error}", self.rule));
        }
    }
}

/// On `lo`: an htb root whose class 1:1 (what the filters pick) goes through a token bucket of `rate`, and whose
/// class 1:2 (everything else) is left at full speed.
fn shaped_class(rate: Rate) -> Result<()> {
    run_tool(None, "tc qdisc add dev lo root handle 1: htb default 2")?;
    for class in ["1:1", "1:2"] {
        // The quantum: htb's default for a 10 Gbit class is absurdly large (and the kernel says so).
        run_tool(None, &format!("tc class add dev lo parent 1: classid {class} htb rate 10gbit quantum 60000"))?;
    }
    let (tc_rate, burst) = (rate.tc(), rate.burst_bytes());
    run_tool(
        None,
        &format!("tc qdisc add dev lo parent 1:1 handle 10: tbf rate {tc_rate} burst {burst} latency {QUEUE_LATENCY}"),
    )
    .map(drop)
}

/// The `mtu N` of an `ip -o link` line.
fn link_mtu(line: &str) -> Option<String> {
    let mut words = line.split_whitespace();
    words.find(|word| *word == "mtu")?;
    words.next().map(str::to_owned)
}

/// The "Sent N bytes" figure of `tc -s` output.
fn sent_bytes(stats: &str) -> Option<u64> {
    let after = stats.split("Sent ").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

/// One timed download: how many body bytes arrived and how long it took from connecting to the last byte.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Download {
    /// Body bytes received (headers excluded).
    pub bytes: u64,
    /// From connecting to the end of the body.
    pub elapsed: Duration,
}

impl Download {
    /// The goodput: body bits per second over the whole download, in kbit/s.
    pub fn kbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / 1000.0 / self.elapsed.as_secs_f64().max(1e-6)
    }

    /// How long `rate` needs for the body alone, headers not counted.
    pub fn ideal(&self, rate: Rate) -> Duration {
        Duration::from_secs_f64(self.bytes as f64 / rate.bytes_per_second())
    }
}

/// Downloads `path` from the HTTP server at `addr` over a fresh connection, asking for no content encoding (so a
/// relay that compresses sends the file as it is), and times it.
pub fn timed_get(addr: SocketAddr, path: &str) -> Result<Download> {
    let what = format!("download http://{addr}{path}");
    let start = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| Error::io(&what, e))?;
    stream.set_read_timeout(Some(DOWNLOAD_TIMEOUT)).map_err(|e| Error::io(&what, e))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n")
        .map_err(|e| Error::io(&what, e))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|e| Error::io(&what, e))?;
    let elapsed = start.elapsed();
    let head_end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| Error::Check(format!("{what}: no HTTP response")))?;
    let status = String::from_utf8_lossy(&response[..head_end]).lines().next().unwrap_or_default().to_owned();
    if !status.contains(" 200 ") {
        return Err(Error::Check(format!("{what}: {status}")));
    }
    Ok(Download { bytes: (response.len() - head_end - 4) as u64, elapsed })
}

/// Downloads `bytes` bytes from a listener of this process on another loopback port, which no filter matches: how
/// fast traffic that is not the relay's goes (chromedriver's and DevTools' traffic takes the same path).
pub fn unshaped_download(bytes: usize) -> Result<Download> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("listen for the unshaped check", e))?;
    let addr = listener.local_addr().map_err(|e| Error::io("listen for the unshaped check", e))?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        stream.write_all(&vec![0x5a; bytes])
    });
    let start = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| Error::io("connect for the unshaped check", e))?;
    stream.set_read_timeout(Some(DOWNLOAD_TIMEOUT)).map_err(|e| Error::io("unshaped check", e))?;
    let mut received = Vec::with_capacity(bytes);
    stream.read_to_end(&mut received).map_err(|e| Error::io("unshaped check", e))?;
    let elapsed = start.elapsed();
    server
        .join()
        .map_err(|_| Error::Check("the unshaped check's server panicked".to_owned()))?
        .map_err(|e| Error::io("serve the unshaped check", e))?;
    Ok(Download { bytes: received.len() as u64, elapsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_and_print_as_people_write_them() {
        assert_eq!(Rate::parse("600kbit"), Ok(Rate::kbit(600)));
        assert_eq!(Rate::parse("2mbit"), Ok(Rate::kbit(2000)));
        assert_eq!(Rate::parse(" 1.5Mbit/s "), Ok(Rate::kbit(1500)));
        assert_eq!(Rate::parse("256"), Ok(Rate::kbit(256)));
        assert!(Rate::parse("fast").is_err());
        assert!(Rate::parse("1kbit").is_err());
        assert_eq!(Rate::kbit(600).to_string(), "600 kbit/s");
        assert_eq!(Rate::kbit(2000).to_string(), "2 Mbit/s");
        assert_eq!(Rate::kbit(600).tc(), "600kbit");
        assert_eq!(Rate::kbit(600).burst_bytes(), 4096);
        assert_eq!(Rate::kbit(100_000).burst_bytes(), 250_000);
    }

    #[test]
    fn downloads_tell_their_goodput() {
        let download = Download { bytes: 300_000, elapsed: Duration::from_secs(4) };
        assert!((download.kbit_per_s() - 600.0).abs() < 1e-9);
        assert_eq!(download.ideal(Rate::kbit(600)), Duration::from_secs(4));
    }

    #[test]
    fn reads_the_byte_count_of_tc_stats() {
        let stats = "qdisc tbf 10: parent 1:1 rate 600Kbit burst 4Kb lat 200ms \n Sent 314204 bytes 212 pkt \
                     (dropped 378, overlimits 893 requeues 0) \n backlog 0b 0p requeues 0\n";
        assert_eq!(sent_bytes(stats), Some(314_204));
        assert_eq!(sent_bytes("qdisc noqueue 0: root"), None);
        let link = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default";
        assert_eq!(link_mtu(link).as_deref(), Some("65536"));
    }
}
