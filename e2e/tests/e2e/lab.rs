//! The network lab itself (`huddle_e2e::netlab`): people in namespaces of their own, joined through the router,
//! get what the lab says it gives them.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use huddle_e2e::netlab::{Impairment, Lab, LinkShape};
use huddle_e2e::shaping::Rate;
use huddle_e2e::spa::{new_room_id, room_path, selector as sel, Person};
use huddle_e2e::{ensure, wait_for, BrowserOptions, Error, Result, TIMEOUT};

/// Each person's browser runs in their own namespace, loads the SPA from the relay over their link with camera
/// and microphone (the relay's origin is treated as secure), and two people call each other through the router;
/// their media crosses the impaired link: the browsers' own round trip grows by the delay, and media keeps flowing
/// through loss and a rate limit.
pub async fn people_in_their_namespaces_load_the_spa_and_call() -> Result<()> {
    let lab = Lab::start(2).await?;
    let room = room_path(&new_room_id());
    let ada = Person::with_browser("Ada", lab.browser(0, BrowserOptions::new("Ada")).await?);
    let bob = Person::with_browser("Bob", lab.browser(1, BrowserOptions::new("Bob")).await?);
    ensure!(!lab.browser_pids(0).is_empty(), "no browser process found for person 0");

    for (person, who) in [(0, &ada), (1, &bob)] {
        who.open_lobby(&lab.relay_url(person, &room)).await?;
        let secure = who.eval_js("return window.isSecureContext;", Vec::new()).await?;
        ensure!(secure == true, "{}'s page is not a secure context", who.name());
        who.wait_video_playing(sel::PREVIEW).await?;
        // The page came over the person's link, from the router's address on it.
        let seen = who.eval_js("return location.host;", Vec::new()).await?;
        let expected = format!("{}:{}", lab.router_addr(person), lab.relay().addr().port());
        ensure!(seen == expected.as_str(), "{} loaded the page from {seen}, not {expected}", who.name());
    }
    ada.join().await?;
    bob.join().await?;
    let bob_id = ada.wait_tile_named("Bob").await?;
    let ada_id = bob.wait_tile_named("Ada").await?;
    ada.wait_sees_and_hears(&bob_id).await?;
    bob.wait_sees_and_hears(&ada_id).await?;
    let clean = wait_round_trip(&ada, &bob_id, "below 20 ms on a clean link", |rtt| rtt < 0.02).await?;
    print!("\n    Ada's round trip on a clean link: {:.1} ms", clean * 1e3);

    // 25 ms each way on Ada's link: every packet between them crosses it once, so the round trip gains 50 ms.
    let impaired = Impairment {
        rate: Some(Rate::kbit(1000)),
        loss: 0.03,
        delay: Duration::from_millis(25),
        jitter: Duration::from_millis(5),
    };
    lab.shape(0, &LinkShape::both(impaired))?;
    for (who, peer) in [(&ada, &bob_id), (&bob, &ada_id)] {
        let rtt = wait_round_trip(who, peer, "50 ms or more through Ada's delayed link", |rtt| rtt >= 0.045).await?;
        who.wait_media_flowing(peer).await?;
        let name = who.name();
        println!("\n    {name}'s round trip through Ada's link, 25 ms each way and 1 Mbit/s: {:.1} ms", rtt * 1e3);
    }

    // Taken down: the next test finds loopback alone.
    drop((ada, bob));
    drop(lab);
    let interfaces = huddle_e2e::network_interfaces().map_err(|e| huddle_e2e::Error::io("list interfaces", e))?;
    ensure!(interfaces == ["lo"], "the lab left interfaces behind: {interfaces:?}");
    Ok(())
}

/// The lab does to packets what it is told, measured with UDP between the two people's namespaces (one-way times
/// on this machine's one clock): person 0's link is shaped, person 1's is left clean, so each direction of the
/// exchange crosses exactly one impaired direction. Bands are generous: this checks the lab, it times nothing.
pub async fn the_lab_delays_drops_limits_and_cuts_as_told() -> Result<()> {
    let lab = Lab::start(2).await?;
    let (ada, bob) = (lab.udp_socket(0)?, lab.udp_socket(1)?);
    let probe = Probe { ada: &ada, bob: &bob, epoch: Instant::now() };

    // Clean: everything arrives, at once.
    let (up, down) = probe.both_ways(Plan::packets(200, 100, Duration::from_millis(2)))?;
    for (what, flow) in [("clean uplink", &up), ("clean downlink", &down)] {
        ensure!(flow.lost() == 0, "{what}: {} of {} packets lost", flow.lost(), flow.sent);
        ensure!(flow.one_way(0.5) < ms(5), "{what}: median one-way time {:?}", flow.one_way(0.5));
    }

    // Delay, and jitter on the way up.
    let uplink = Impairment { delay: ms(60), jitter: ms(10), ..Impairment::default() };
    let downlink = Impairment { delay: ms(25), ..Impairment::default() };
    lab.shape(0, &LinkShape { up: uplink, down: downlink })?;
    let (up, down) = probe.both_ways(Plan::packets(200, 100, Duration::from_millis(5)))?;
    println!("\n    delay 60 ms ± 10 ms up: one-way {}", up.describe_times());
    println!("    delay 25 ms down: one-way {}", down.describe_times());
    ensure!(up.lost() == 0 && down.lost() == 0, "delay alone lost packets: {} up, {} down", up.lost(), down.lost());
    // Lower bounds are what the lab guarantees; upper ones only catch a delay far off what was set (a loaded
    // machine adds its own), so they are loose and on p90 rather than the tail.
    ensure!(up.one_way(0.0) >= ms(48) && up.one_way(0.9) <= ms(110), "uplink one-way times: {}", up.describe_times());
    ensure!(up.one_way(0.5) >= ms(55), "uplink median: {}", up.describe_times());
    ensure!(up.one_way(0.95) - up.one_way(0.05) >= ms(10), "uplink has no jitter: {}", up.describe_times());
    ensure!(down.one_way(0.0) >= ms(24) && down.one_way(0.9) <= ms(65), "downlink: {}", down.describe_times());

    // Loss: 1000 packets each way; the bands are about four standard deviations wide.
    let uplink = Impairment { loss: 0.2, ..Impairment::default() };
    let downlink = Impairment { loss: 0.1, ..Impairment::default() };
    lab.shape(0, &LinkShape { up: uplink, down: downlink })?;
    let (up, down) = probe.both_ways(Plan::packets(1000, 100, Duration::from_millis(1)))?;
    println!(
        "    loss 20 % up: {:.1} % lost; 10 % down: {:.1} % lost",
        up.lost_share() * 100.0,
        down.lost_share() * 100.0
    );
    ensure!((0.15..=0.25).contains(&up.lost_share()), "uplink lost {:.3}, not about 0.2", up.lost_share());
    ensure!((0.06..=0.14).contains(&down.lost_share()), "downlink lost {:.3}, not about 0.1", down.lost_share());

    // Rate: twice as much as the link carries, for two seconds each way.
    let (up_rate, down_rate) = (Rate::kbit(1000), Rate::kbit(500));
    let uplink = Impairment { rate: Some(up_rate), ..Impairment::default() };
    let downlink = Impairment { rate: Some(down_rate), ..Impairment::default() };
    lab.shape(0, &LinkShape { up: uplink, down: downlink })?;
    let up_plan = Plan::flood(up_rate, Duration::from_secs(2));
    let down_plan = Plan::flood(down_rate, Duration::from_secs(2));
    let (up, down) = probe.both_ways_with(up_plan, down_plan)?;
    let (up_kbit, down_kbit) = (up.link_kbit_per_s(), down.link_kbit_per_s());
    println!("    rate {up_rate} up: {up_kbit:.0} kbit/s arrived; {down_rate} down: {down_kbit:.0} kbit/s arrived");
    for (what, rate, measured) in [("uplink", up_rate, up_kbit), ("downlink", down_rate, down_kbit)] {
        let kbit = f64::from(rate.as_kbit());
        ensure!((0.85 * kbit..=1.1 * kbit).contains(&measured), "{what} carried {measured:.0} kbit/s, set to {rate}");
    }

    // Outage: nothing either way while it lasts (the relay included), everything again after.
    lab.shape(0, &LinkShape::default())?;
    lab.outage(0, true)?;
    let relay_port = lab.relay().addr().port();
    let (up, down) =
        probe.both_ways(Plan::packets(100, 100, Duration::from_millis(2)).cut_off(&|| lab.outage(0, false)))?;
    ensure!(
        up.arrivals.is_empty() && down.arrivals.is_empty(),
        "packets crossed the outage: {} up, {} down",
        up.arrivals.len(),
        down.arrivals.len()
    );
    lab.outage(0, true)?;
    let reach_relay = |person| {
        lab.in_namespace(person, || {
            TcpStream::connect_timeout(&SocketAddr::new(lab.router_addr(person), relay_port), ms(300)).is_ok()
        })
    };
    ensure!(!reach_relay(0)?, "the relay answered person 0 during the outage");
    ensure!(reach_relay(1)?, "the outage of person 0 cut person 1 from the relay");
    lab.outage(0, false)?;
    ensure!(reach_relay(0)?, "person 0 cannot reach the relay after the outage");
    let (up, down) = probe.both_ways(Plan::packets(100, 100, Duration::from_millis(2)))?;
    ensure!(up.lost() == 0 && down.lost() == 0, "after the outage: {} lost up, {} down", up.lost(), down.lost());
    Ok(())
}

/// Waits until the round trip `person`'s browser measures on its selected candidate pair to `peer` is `ok`
/// (seconds), described as `what`; returns it.
async fn wait_round_trip(person: &Person, peer: &str, what: &str, ok: impl Fn(f64) -> bool) -> Result<f64> {
    const SELECTED_RTT: &str = r#"
        const [peerId, done] = arguments;
        const pc = window.__huddle_pcs && window.__huddle_pcs.get(peerId);
        if (!pc) return done(null);
        pc.getStats().then((report) => {
          let rtt = null;
          report.forEach((stat) => {
            if (stat.type === 'transport' && stat.selectedCandidatePairId) {
              rtt = report.get(stat.selectedCandidatePairId)?.currentRoundTripTime ?? null;
            }
          });
          done(rtt);
        }, () => done(null));
    "#;
    let description = format!("{}'s round trip to {peer} is {what}", person.name());
    wait_for(description, TIMEOUT, async || {
        let rtt = person.eval_js_async(SELECTED_RTT, vec![serde_json::json!(peer)]).await?.as_f64();
        Ok(rtt.filter(|rtt| ok(*rtt)))
    })
    .await
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// What one side sends: `count` datagrams of `size` bytes, one every `interval`; then end markers until the other
/// side has one. `cut_off`: run between the data and the markers (ends an outage).
struct Plan<'a> {
    count: u32,
    size: usize,
    interval: Duration,
    cut_off: Option<&'a (dyn Fn() -> Result<()> + Sync)>,
}

impl<'a> Plan<'a> {
    fn packets(count: u32, size: usize, interval: Duration) -> Plan<'a> {
        Plan { count, size, interval, cut_off: None }
    }

    /// Twice what `rate` carries, for `length`, in 1200-byte datagrams.
    fn flood(rate: Rate, length: Duration) -> Plan<'a> {
        let size = 1200;
        let per_second = 2.0 * rate.bytes_per_second() / (size + HEADERS) as f64;
        let count = (per_second * length.as_secs_f64()) as u32;
        Plan { count, size, interval: Duration::from_secs_f64(1.0 / per_second), cut_off: None }
    }

    fn cut_off(self, cut_off: &'a (dyn Fn() -> Result<()> + Sync)) -> Plan<'a> {
        Plan { cut_off: Some(cut_off), ..self }
    }
}

/// UDP, IPv4 and Ethernet headers: what a token bucket counts besides a datagram's payload.
const HEADERS: usize = 8 + 20 + 14;
/// How long the markers that end a flow keep coming before the flow is declared stuck.
const MARKERS_FOR: Duration = Duration::from_secs(10);
const DATA: u8 = 1;
const MARKER: u8 = 2;

/// A datagram that arrived.
struct Arrival {
    one_way: Duration,
    at: Instant,
    len: usize,
}

/// One direction's datagrams: how many were sent, which arrived.
struct Flow {
    sent: u32,
    arrivals: Vec<Arrival>,
}

impl Flow {
    fn lost(&self) -> usize {
        self.sent as usize - self.arrivals.len()
    }

    fn lost_share(&self) -> f64 {
        self.lost() as f64 / f64::from(self.sent)
    }

    /// The one-way time at quantile `q` (0: least, 1: most).
    fn one_way(&self, q: f64) -> Duration {
        let mut times: Vec<Duration> = self.arrivals.iter().map(|a| a.one_way).collect();
        times.sort_unstable();
        let index = ((times.len().saturating_sub(1)) as f64 * q).round() as usize;
        times.get(index).copied().unwrap_or(Duration::MAX)
    }

    fn describe_times(&self) -> String {
        let q = |q| format!("{:.1}", self.one_way(q).as_secs_f64() * 1000.0);
        format!("min {} p5 {} median {} p95 {} max {} ms", q(0.0), q(0.05), q(0.5), q(0.95), q(1.0))
    }

    /// What arrived once the link was full (after the first half second), in link-layer kbit/s.
    fn link_kbit_per_s(&self) -> f64 {
        let Some(first) = self.arrivals.first() else { return 0.0 };
        let from = first.at + Duration::from_millis(500);
        let counted: Vec<&Arrival> = self.arrivals.iter().filter(|a| a.at > from).collect();
        let (Some(start), Some(end)) = (counted.first(), counted.last()) else { return 0.0 };
        // Each datagram's bytes count from the one before it: the first only marks the start.
        let bytes: usize = counted.iter().skip(1).map(|a| a.len + HEADERS).sum();
        bytes as f64 * 8.0 / 1000.0 / (end.at - start.at).as_secs_f64().max(1e-6)
    }
}

/// Person 0's and person 1's sockets, and the instant one-way times are counted from.
struct Probe<'a> {
    ada: &'a UdpSocket,
    bob: &'a UdpSocket,
    epoch: Instant,
}

impl Probe<'_> {
    /// The same plan up (person 0 to 1) and down (1 to 0) at once.
    fn both_ways(&self, plan: Plan<'_>) -> Result<(Flow, Flow)> {
        let down = Plan { cut_off: None, ..plan };
        self.both_ways_with(plan, down)
    }

    /// `up` from person 0 to 1 and `down` from 1 to 0, at once; the up plan's `cut_off` runs once both sent their
    /// data, before the markers.
    fn both_ways_with(&self, up: Plan<'_>, down: Plan<'_>) -> Result<(Flow, Flow)> {
        let io = |e| Error::io("read a probe socket's address", e);
        let (ada_addr, bob_addr) = (self.ada.local_addr().map_err(io)?, self.bob.local_addr().map_err(io)?);
        let tag = random_tag();
        let (up_tag, down_tag) = (tag, tag.wrapping_add(1));
        let (up_done, down_done, abort) = (AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false));
        let epoch = self.epoch;
        thread::scope(|scope| {
            let up_rx = scope.spawn(|| receive(self.bob, up_tag, epoch, &up_done, &abort));
            let down_rx = scope.spawn(|| receive(self.ada, down_tag, epoch, &down_done, &abort));
            let up_tx = scope.spawn(|| send_data(self.ada, bob_addr, up_tag, epoch, &up));
            let down_tx = scope.spawn(|| send_data(self.bob, ada_addr, down_tag, epoch, &down));
            let sent = join(up_tx).and_then(|()| join(down_tx)).and_then(|()| up.cut_off.map_or(Ok(()), |cut| cut()));
            let ended = sent.and_then(|()| {
                // Packets held with jitter may overtake each other: the markers come after a pause longer than that.
                thread::sleep(MARKER_PAUSE);
                let up_end = scope.spawn(|| send_markers(self.ada, bob_addr, up_tag, &up_done));
                let down_end = scope.spawn(|| send_markers(self.bob, ada_addr, down_tag, &down_done));
                join(up_end).and_then(|()| join(down_end))
            });
            abort.store(true, Ordering::SeqCst);
            let up_arrivals = join(up_rx);
            let down_arrivals = join(down_rx);
            ended?;
            Ok((Flow { sent: up.count, arrivals: up_arrivals? }, Flow { sent: down.count, arrivals: down_arrivals? }))
        })
    }
}

/// The pause between a flow's data and its markers.
const MARKER_PAUSE: Duration = Duration::from_millis(50);

fn join<T>(handle: thread::ScopedJoinHandle<'_, Result<T>>) -> Result<T> {
    handle.join().unwrap_or_else(|_| Err(Error::Check("a probe thread panicked".to_owned())))
}

fn random_tag() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now()) as u32
}

/// A datagram: kind, tag, sequence number, send time (nanoseconds since the epoch), padding to `size`.
fn datagram(kind: u8, tag: u32, seq: u32, sent: Duration, size: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(size.max(17));
    bytes.push(kind);
    bytes.extend_from_slice(&tag.to_be_bytes());
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(&(sent.as_nanos() as u64).to_be_bytes());
    bytes.resize(size.max(17), 0);
    bytes
}

fn send_data(socket: &UdpSocket, to: SocketAddr, tag: u32, epoch: Instant, plan: &Plan<'_>) -> Result<()> {
    let start = Instant::now();
    for seq in 0..plan.count {
        // Paced: each datagram at its own time, whatever the ones before cost.
        let due = start + plan.interval * seq;
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let bytes = datagram(DATA, tag, seq, epoch.elapsed(), plan.size);
        socket.send_to(&bytes, to).map_err(|e| Error::io(format!("send to {to}"), e))?;
    }
    Ok(())
}

fn send_markers(socket: &UdpSocket, to: SocketAddr, tag: u32, done: &AtomicBool) -> Result<()> {
    let until = Instant::now() + MARKERS_FOR;
    let mut seq = 0;
    while !done.load(Ordering::SeqCst) {
        if Instant::now() >= until {
            return Err(Error::Check(format!("no end marker reached {to} within {MARKERS_FOR:?}")));
        }
        socket
            .send_to(&datagram(MARKER, tag, seq, Duration::ZERO, 17), to)
            .map_err(|e| Error::io(format!("send to {to}"), e))?;
        seq += 1;
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Collects the data of flow `tag` until one of its markers arrives (or `abort`).
fn receive(
    socket: &UdpSocket,
    tag: u32,
    epoch: Instant,
    done: &AtomicBool,
    abort: &AtomicBool,
) -> Result<Vec<Arrival>> {
    socket.set_read_timeout(Some(Duration::from_millis(20))).map_err(|e| Error::io("set a read timeout", e))?;
    let mut arrivals = Vec::new();
    let mut buffer = [0u8; 2048];
    while !abort.load(Ordering::SeqCst) {
        let len = match socket.recv(&mut buffer) {
            Ok(len) => len,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(error) => return Err(Error::io("receive", error)),
        };
        let at = Instant::now();
        if len < 17 || buffer[1..5] != tag.to_be_bytes() {
            continue;
        }
        if buffer[0] == MARKER {
            done.store(true, Ordering::SeqCst);
            break;
        }
        let sent = u64::from_be_bytes(buffer[9..17].try_into().unwrap_or_default());
        let one_way = (at - epoch).saturating_sub(Duration::from_nanos(sent));
        arrivals.push(Arrival { one_way, at, len });
    }
    Ok(arrivals)
}
