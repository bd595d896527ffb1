//! A network lab: each simulated person in a network namespace of their own, joined by a link (a veth pair) to
//! the test's isolated namespace, which routes between them and hosts the relay. Each link can be shaped and
//! impaired per direction, at any time: a rate (the kernel's `tbf`), random loss, one-way delay and jitter (an
//! impairer of ours, fed by iptables' `NFQUEUE`: this kernel has no `netem`), and a full outage.
//!
//! Layout, for person `i` (0-based) of a [`Lab`]:
//!
//! ```text
//!   person i's namespace                 the test's namespace (the router)
//!   lo, p{i+1} 10.77.{i+1}.2/24  <-veth->  h{i+1} 10.77.{i+1}.1/24     relay on 0.0.0.0:PORT
//!   default route via 10.77.{i+1}.1        ip_forward=1; iptables guard: nothing but 127/8 and 10.77/16
//! ```
//!
//! - Uplink (what the person sends): `tbf` on `p{i+1}`'s egress inside the person's namespace, then the impairer
//!   on packets coming in from `h{i+1}` (mangle PREROUTING). Downlink: the impairer on packets going out to
//!   `h{i+1}` (mangle POSTROUTING), then `tbf` on `h{i+1}`'s egress. Person to person, a packet crosses the
//!   sender's uplink and the receiver's downlink; person to relay (page, signaling), only the person's link. Each
//!   direction has a mangle chain of its own: empty while unimpaired (packets never leave the kernel then), a jump
//!   to the impairer's queue while there is loss, delay or jitter, a DROP during an outage.
//! - The impairer (`netlab/impairer.rs`) is a thread per direction; it looks at its queue about once a millisecond while
//!   impairing, so delays are that much coarser, and with jitter packets may overtake each other (as with netem).
//!   The token bucket holds what exceeds the rate for up to half a second, then drops (a router's buffer).
//! - The person's browser runs inside their namespace: chromedriver is started there (`nsenter`), one per person,
//!   and reached through a forwarder on the router's loopback (a thread of ours enters the namespace to connect), so
//!   WebDriver traffic never crosses the link: shaping and outages do not slow or cut the test's control of the
//!   browser. The page comes from `http://10.77.{i+1}.1:PORT`, not a secure context, so Chromium is told to treat
//!   that origin as one (`--unsafely-treat-insecure-origin-as-secure`): camera and microphone work as on https.
//!   Its ICE host candidate is the person's address; there is no IPv6 but link-local.
//! - Load pages with [`Lab::relay_url`] (the relay's own [`Relay::url`] says 0.0.0.0, which only the router can
//!   use). [`Lab::udp_socket`] and [`Lab::in_namespace`] make sockets that are a person's, for probes of the lab
//!   itself.
//! - Namespaces are held by a sleeping `unshare --net` process each (not `ip netns add`, which leaves bind mounts
//!   in /run behind a crashed test) and configured with `nsenter --net=/proc/PID/ns/net`. Needs `ip`, `tc`,
//!   `iptables` (the nf_tables one works in namespaces), `nsenter` and the kernel's `nfnetlink_queue`.
//! - A lab only starts inside the harness's isolated namespace ([`Lab::start`] refuses otherwise), and takes
//!   everything down when dropped (links, chains, guard, `ip_forward`), so that the next test finds loopback alone.

mod impairer;
mod namespace;

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::driver::{Driver, Program};
use crate::shaping::Rate;
use crate::tools::run_tool;
use crate::{artifacts, isolation, Browser, BrowserKind, BrowserOptions, Error, Relay, Result};
use impairer::{Impairer, Params};
use namespace::{descendants, Forwarder, Namespace};

/// The most people a lab holds (each gets a /24 of 10.77.0.0/16, numbered from 1).
pub const MAX_PEOPLE: usize = 250;
/// The port chromedriver listens on inside a person's namespace (nothing else listens there).
const DRIVER_PORT: u16 = 9515;
/// The iptables chain (filter table) that keeps every packet inside the lab's addresses.
const GUARD_CHAIN: &str = "huddle-lab-guard";
/// How long a packet may wait in a shaped link's token bucket before it is dropped: long enough that TCP (the page,
/// signaling) does not stall on the drops of a thin link (see `shaping`), short enough that a congested link shows
/// as growing delay to WebRTC's congestion control, as a real router's buffer does.
const QUEUE_LATENCY: &str = "500ms";
/// The most a one-way delay or jitter may be.
const MAX_DELAY: Duration = Duration::from_secs(10);

/// What is done to one direction of a person's link. `Default`: nothing (full speed, no loss, no delay).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Impairment {
    /// The most the link carries (link-layer bytes); `None`: unlimited.
    pub rate: Option<Rate>,
    /// The share of packets dropped at random, 0 to 1.
    pub loss: f64,
    /// Added to every packet's way in this direction (one way: a round trip crosses both directions).
    pub delay: Duration,
    /// Each packet's delay varies at random by up to this much either way, uniformly (packets may overtake each
    /// other then, as with netem).
    pub jitter: Duration,
}

impl Impairment {
    /// What the impairer does in this direction.
    fn params(&self) -> Params {
        Params { loss: self.loss, delay: self.delay, jitter: self.jitter }
    }

    fn check(&self, what: &str) -> Result<()> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(Error::Check(format!("{what}: loss {} is not a share from 0 to 1", self.loss)));
        }
        if self.delay > MAX_DELAY || self.jitter > MAX_DELAY {
            return Err(Error::Check(format!("{what}: delay and jitter are at most {MAX_DELAY:?}")));
        }
        Ok(())
    }
}

/// Both directions of a person's link. `Default`: unimpaired both ways.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkShape {
    /// What the person sends.
    pub up: Impairment,
    /// What the person receives.
    pub down: Impairment,
}

impl LinkShape {
    /// The same impairment both ways.
    pub fn both(impairment: Impairment) -> LinkShape {
        LinkShape { up: impairment.clone(), down: impairment }
    }
}

/// How to start a [`Lab`]: what its relay serves and with which flags.
#[derive(Clone, Debug, Default)]
pub struct LabOptions {
    /// The directory the relay serves; `None`: the built SPA (`dist/`).
    pub static_dir: Option<PathBuf>,
    /// More relay flags, e.g. `["--room-capacity", "6"]`.
    pub relay_args: Vec<String>,
}

/// A lab of `people` person namespaces around the test's namespace, with a relay; everything is taken down when
/// dropped (a browser that outlives it keeps its chromedriver, and can still be closed).
pub struct Lab {
    relay: Relay,
    network: Network,
}

impl Lab {
    /// Starts a lab of `people` people (1 to [`MAX_PEOPLE`]) and a relay serving the built SPA. Refuses to run
    /// outside the harness's isolated network namespace, and so while another lab is up (its links are there).
    pub async fn start(people: usize) -> Result<Lab> {
        Self::start_with(people, LabOptions::default()).await
    }

    /// Starts a lab as [`start`](Self::start) does, its relay as `options` say.
    pub async fn start_with(people: usize, options: LabOptions) -> Result<Lab> {
        let network = Network::build(people)?;
        let static_dir = match options.static_dir {
            Some(dir) => dir,
            None => artifacts::dist_dir()?,
        };
        let args: Vec<&str> = options.relay_args.iter().map(String::as_str).collect();
        let relay = Relay::serving_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), static_dir, &args).await?;
        Ok(Lab { relay, network })
    }

    /// How many people the lab has.
    pub fn people(&self) -> usize {
        self.network.people.len()
    }

    /// The relay (e.g. to restart it).
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// The relay, to stop or restart it.
    pub fn relay_mut(&mut self) -> &mut Relay {
        &mut self.relay
    }

    /// The URL by which person `person` reaches `path` (starting with `/`) on the relay: over their own link.
    pub fn relay_url(&self, person: usize, path: &str) -> String {
        format!("{}{path}", self.relay_origin(person))
    }

    /// `http://10.77.{person+1}.1:PORT`: the relay's origin as person `person` sees it.
    pub fn relay_origin(&self, person: usize) -> String {
        format!("http://{}:{}", router_addr(person), self.relay.addr().port())
    }

    /// Person `person`'s address (`10.77.{person+1}.2`).
    pub fn person_addr(&self, person: usize) -> IpAddr {
        IpAddr::V4(person_addr(person))
    }

    /// The router's address on person `person`'s link (`10.77.{person+1}.1`), where the relay answers them.
    pub fn router_addr(&self, person: usize) -> IpAddr {
        IpAddr::V4(router_addr(person))
    }

    /// `/proc/PID/ns/net` of person `person`'s namespace (for `nsenter --net=`).
    pub fn netns_path(&self, person: usize) -> Result<PathBuf> {
        Ok(self.network.person(person)?.namespace.path())
    }

    /// A browser of person `person`, in their namespace, as `options` describe; it may load pages from
    /// [`relay_url`](Self::relay_url) as from a secure origin (camera and microphone work).
    pub async fn browser(&self, person: usize, mut options: BrowserOptions) -> Result<Browser> {
        if options.kind != BrowserKind::Chromium {
            return Err(Error::Check(format!("{}: a lab's browsers are Chromium for now", options.label)));
        }
        let driver = self.network.person(person)?.driver()?;
        options.trusted_origin = Some(self.relay_origin(person));
        Browser::launch_on(driver, options).await
    }

    /// Shapes person `person`'s link as `shape` says, both directions, replacing what was set before (an outage
    /// stays on until [`outage`](Self::outage) ends it). Takes effect at once, for packets already under way too
    /// where they are held.
    pub fn shape(&self, person: usize, shape: &LinkShape) -> Result<()> {
        shape.up.check("uplink")?;
        shape.down.check("downlink")?;
        self.network.person(person)?.shape(shape)
    }

    /// Cuts person `person`'s link both ways (every packet dropped, to and from the relay too) while `on`; their
    /// browser stays drivable.
    pub fn outage(&self, person: usize, on: bool) -> Result<()> {
        self.network.person(person)?.outage(on)
    }

    /// The processes of person `person`'s browsers (every Chromium process their chromedriver started), e.g. to
    /// read each one's CPU time from `/proc/PID/stat`. Empty before the first [`browser`](Self::browser).
    pub fn browser_pids(&self, person: usize) -> Vec<u32> {
        let Ok(person) = self.network.person(person) else { return Vec::new() };
        person.driver.get().and_then(|driver| driver.as_ref().ok()).map(|d| descendants(d.pid())).unwrap_or_default()
    }

    /// Runs `f` on a thread inside person `person`'s namespace: sockets it makes are the person's (and stay so,
    /// whichever thread then uses them).
    pub fn in_namespace<T: Send>(&self, person: usize, f: impl FnOnce() -> T + Send) -> Result<T> {
        self.network.person(person)?.namespace.run(f)
    }

    /// A UDP socket of person `person`, bound to their address and a free port.
    pub fn udp_socket(&self, person: usize) -> Result<UdpSocket> {
        let addr = person_addr(person);
        self.in_namespace(person, || UdpSocket::bind((addr, 0)))?
            .map_err(|e| Error::io(format!("bind a UDP socket on {addr}"), e))
    }
}

/// The namespaces and links of a lab, and the router's settings; undone when dropped.
struct Network {
    people: Vec<Person>,
    forwarding_before: Option<String>,
    guarded: bool,
}

/// One person's namespace and link.
struct Person {
    index: usize,
    namespace: Namespace,
    /// Their chromedriver, started with their first browser (or why it could not be).
    driver: OnceLock<std::result::Result<Arc<Driver>, String>>,
    /// The impairers of what they send and what they receive.
    up: Impairer,
    down: Impairer,
    /// What is set now: the link's shape, whether it is cut, and which iptables target each direction's chain has.
    state: Mutex<LinkState>,
}

#[derive(Default)]
struct LinkState {
    shape: LinkShape,
    outage: bool,
    up_target: Option<String>,
    down_target: Option<String>,
}

impl Network {
    fn build(people: usize) -> Result<Network> {
        if !(1..=MAX_PEOPLE).contains(&people) {
            return Err(Error::Check(format!("a lab holds 1 to {MAX_PEOPLE} people, not {people}")));
        }
        isolation::verify().map_err(|why| Error::Check(format!("refusing to build a network lab: {why}")))?;
        let mut network = Network { people: Vec::with_capacity(people), forwarding_before: None, guarded: false };
        network.guard()?;
        let forwarding = "/proc/sys/net/ipv4/ip_forward";
        network.forwarding_before = Some(
            std::fs::read_to_string(forwarding)
                .map_err(|e| Error::io(format!("read {forwarding}"), e))?
                .trim()
                .to_owned(),
        );
        std::fs::write(forwarding, "1").map_err(|e| Error::io(format!("write {forwarding}"), e))?;
        for index in 0..people {
            let queue = u16::try_from(index * 2).unwrap_or(u16::MAX - 1);
            let person = Person {
                index,
                namespace: Namespace::new()?,
                driver: OnceLock::new(),
                up: Impairer::start(queue)?,
                down: Impairer::start(queue + 1)?,
                state: Mutex::new(LinkState::default()),
            };
            // Pushed first, so that the link is deleted on drop even if configuring it fails half-way.
            network.people.push(person);
            network.people[index].connect()?;
        }
        Ok(network)
    }

    fn person(&self, person: usize) -> Result<&Person> {
        self.people
            .get(person)
            .ok_or_else(|| Error::Check(format!("no person {person} in a lab of {} (0-based)", self.people.len())))
    }

    /// Only the lab's own addresses and loopback are reachable from the router or through it: there is no other
    /// interface anyway, this is the belt to those braces.
    fn guard(&mut self) -> Result<()> {
        // A lab that crashed before its drop may have left it (same binary, same namespace).
        remove_guard();
        let rules = [
            format!("iptables -N {GUARD_CHAIN}"),
            format!("iptables -A {GUARD_CHAIN} -d 127.0.0.0/8 -j RETURN"),
            format!("iptables -A {GUARD_CHAIN} -d 10.77.0.0/16 -j RETURN"),
            format!("iptables -A {GUARD_CHAIN} -j DROP"),
        ];
        for rule in &rules {
            run_tool(None, rule)?;
        }
        self.guarded = true;
        run_tool(None, &format!("iptables -I OUTPUT -j {GUARD_CHAIN}"))?;
        run_tool(None, &format!("iptables -I FORWARD -j {GUARD_CHAIN}"))?;
        Ok(())
    }
}

fn remove_guard() {
    for rule in [
        format!("iptables -D OUTPUT -j {GUARD_CHAIN}"),
        format!("iptables -D FORWARD -j {GUARD_CHAIN}"),
        format!("iptables -F {GUARD_CHAIN}"),
        format!("iptables -X {GUARD_CHAIN}"),
    ] {
        let _ = run_tool(None, &rule);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for person in &self.people {
            person.remove_chains();
        }
        for person in &self.people {
            // Deleting one end deletes the pair, at once (a namespace's teardown would do it, but later).
            let _ = run_tool(None, &format!("ip link del {}", person.router_link()));
        }
        // The namespaces go with their holders.
        self.people.clear();
        if let Some(before) = &self.forwarding_before {
            let _ = std::fs::write("/proc/sys/net/ipv4/ip_forward", before);
        }
        if self.guarded {
            remove_guard();
        }
    }
}

impl Person {
    /// The link's end on the router's side.
    fn router_link(&self) -> String {
        format!("h{}", self.index + 1)
    }

    /// The link's end in the person's namespace.
    fn person_link(&self) -> String {
        format!("p{}", self.index + 1)
    }

    /// Makes the link, addresses both ends and routes the person's traffic through the router.
    fn connect(&self) -> Result<()> {
        let (router, link) = (self.router_link(), self.person_link());
        let netns = self.namespace.path();
        let subnet = self.index + 1;
        run_tool(None, &format!("ip link add {router} type veth peer name {link} netns {}", netns.display()))?;
        run_tool(None, &format!("ip addr add {}/24 dev {router}", router_addr(self.index)))?;
        run_tool(None, &format!("ip link set {router} up"))?;
        let inside = [
            "ip link set lo up".to_owned(),
            format!("ip addr add 10.77.{subnet}.2/24 dev {link}"),
            format!("ip link set {link} up"),
            format!("ip route add default via {}", router_addr(self.index)),
        ];
        for command in &inside {
            run_tool(Some(&netns), command)?;
        }
        // Each direction's chain: empty (everything passes), or sending to the impairer, or dropping (an outage).
        self.remove_chains();
        let (up, down) = (self.chain(Direction::Up), self.chain(Direction::Down));
        run_tool(None, &format!("iptables -t mangle -N {up}"))?;
        run_tool(None, &format!("iptables -t mangle -A PREROUTING -i {router} -j {up}"))?;
        run_tool(None, &format!("iptables -t mangle -N {down}"))?;
        run_tool(None, &format!("iptables -t mangle -A POSTROUTING -o {router} -j {down}"))?;
        Ok(())
    }

    /// The mangle chain of one direction of the link.
    fn chain(&self, direction: Direction) -> String {
        let name = match direction {
            Direction::Up => "up",
            Direction::Down => "down",
        };
        format!("huddle-lab-{name}-{}", self.index + 1)
    }

    /// Removes the link's chains and the rules that jump to them, if they are there.
    fn remove_chains(&self) {
        let router = self.router_link();
        let (up, down) = (self.chain(Direction::Up), self.chain(Direction::Down));
        for rule in [
            format!("iptables -t mangle -D PREROUTING -i {router} -j {up}"),
            format!("iptables -t mangle -D POSTROUTING -o {router} -j {down}"),
            format!("iptables -t mangle -F {up}"),
            format!("iptables -t mangle -X {up}"),
            format!("iptables -t mangle -F {down}"),
            format!("iptables -t mangle -X {down}"),
        ] {
            let _ = run_tool(None, &rule);
        }
    }

    fn shape(&self, shape: &LinkShape) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let netns = self.namespace.path();
        if shape.up.rate != state.shape.up.rate {
            set_rate(Some(&netns), &self.person_link(), shape.up.rate)?;
        }
        if shape.down.rate != state.shape.down.rate {
            set_rate(None, &self.router_link(), shape.down.rate)?;
        }
        state.shape = shape.clone();
        // An impairer that starts impairing gets its settings before the rule that sends it packets; one that stops
        // loses the rule first, so that it goes idle only once no more packets come.
        for (direction, impairer, params) in
            [(Direction::Up, &self.up, shape.up.params()), (Direction::Down, &self.down, shape.down.params())]
        {
            if params.impairs() {
                impairer.set(params)?;
                self.route(&mut state, direction)?;
            } else {
                self.route(&mut state, direction)?;
                impairer.set(params)?;
            }
        }
        Ok(())
    }

    fn outage(&self, on: bool) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.outage = on;
        self.route(&mut state, Direction::Up)?;
        self.route(&mut state, Direction::Down)
    }

    /// Points a direction's chain where the state says: nowhere, the impairer, or DROP.
    fn route(&self, state: &mut LinkState, direction: Direction) -> Result<()> {
        let (impairment, queue) = match direction {
            Direction::Up => (&state.shape.up, self.index * 2),
            Direction::Down => (&state.shape.down, self.index * 2 + 1),
        };
        let target = if state.outage {
            Some("DROP".to_owned())
        } else if impairment.params().impairs() {
            Some(format!("NFQUEUE --queue-num {queue}"))
        } else {
            None
        };
        let current = match direction {
            Direction::Up => &mut state.up_target,
            Direction::Down => &mut state.down_target,
        };
        if *current == target {
            return Ok(());
        }
        let chain = self.chain(direction);
        run_tool(None, &format!("iptables -t mangle -F {chain}"))?;
        *current = None;
        if let Some(target) = &target {
            run_tool(None, &format!("iptables -t mangle -A {chain} -j {target}"))?;
        }
        *current = target;
        Ok(())
    }

    /// Their chromedriver, started on first use inside their namespace.
    fn driver(&self) -> Result<Arc<Driver>> {
        self.driver
            .get_or_init(|| self.start_driver().map(Arc::new).map_err(|error| error.to_string()))
            .as_ref()
            .map(Arc::clone)
            .map_err(|why| Error::Check(format!("person {}'s chromedriver: {why}", self.index)))
    }

    fn start_driver(&self) -> Result<Driver> {
        let forwarder: Forwarder = self.namespace.forward(DRIVER_PORT)?;
        let mut nsenter = std::process::Command::new("nsenter");
        nsenter.arg(format!("--net={}", self.namespace.path().display()));
        Driver::launch(Program::Chromedriver, Some(nsenter), DRIVER_PORT, Some((forwarder.port(), Box::new(forwarder))))
    }
}

/// One direction of a person's link.
#[derive(Clone, Copy)]
enum Direction {
    /// What the person sends.
    Up,
    /// What the person receives.
    Down,
}

/// Sets (or with `None` removes) the token bucket on `link`'s egress, in namespace `netns` (`None`: the router's).
fn set_rate(netns: Option<&std::path::Path>, link: &str, rate: Option<Rate>) -> Result<()> {
    match rate {
        Some(rate) => run_tool(
            netns,
            &format!(
                "tc qdisc replace dev {link} root tbf rate {} burst {} latency {QUEUE_LATENCY}",
                rate.tc(),
                rate.burst_bytes()
            ),
        )
        .map(drop),
        None => run_tool(netns, &format!("tc qdisc del dev {link} root")).map(drop),
    }
}

fn person_addr(person: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, subnet(person), 2)
}

fn router_addr(person: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, subnet(person), 1)
}

/// The third octet of person `person`'s subnet (a lab holds at most [`MAX_PEOPLE`], so it fits).
fn subnet(person: usize) -> u8 {
    u8::try_from(person + 1).unwrap_or(u8::MAX)
}
