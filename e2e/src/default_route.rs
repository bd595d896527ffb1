//! A default route inside the tests' isolated namespace, for Firefox: in a namespace that has loopback alone, Firefox
//! gathers no ICE candidate at all (it keeps to the address of the default route, and there is none). While a
//! Firefox is open, the namespace also has a veth pair, both ends inside it, with TEST-NET-1 addresses and the
//! default route through it (`../shared/E2E.md`), and an iptables guard that lets nothing through but loopback, the
//! pair's own addresses and a network lab's. Nothing can leave: the pair's other end is in the namespace too. The
//! last Firefox to close takes it all down, so Chromium's tests find loopback alone, as they expect.

use std::sync::{Arc, Mutex, Weak};

use crate::tools::run_tool;
use crate::{isolation, Error, Result};

/// The end of the pair the route goes out of, and the one it goes to.
const LINKS: (&str, &str) = ("ffroute0", "ffroute1");
/// Their addresses (TEST-NET-1, RFC 5737: never routed on the Internet).
const ADDRS: (&str, &str) = ("192.0.2.1", "192.0.2.2");
/// The iptables chain of the guard.
const GUARD_CHAIN: &str = "huddle-firefox-guard";

/// The route, while someone holds it.
pub(crate) struct DefaultRoute(());

static ROUTE: Mutex<Weak<DefaultRoute>> = Mutex::new(Weak::new());

/// The default route, made if nobody holds it yet; it stays until the last holder drops it.
pub(crate) fn default_route() -> Result<Arc<DefaultRoute>> {
    let mut slot = ROUTE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(route) = slot.upgrade() {
        return Ok(route);
    }
    isolation::verify().map_err(|why| Error::Check(format!("refusing to add a default route: {why}")))?;
    // Held before it is made, so that a failure half-way undoes what was done.
    let route = Arc::new(DefaultRoute(()));
    let (out, to) = LINKS;
    let (here, there) = ADDRS;
    for command in [
        format!("ip link add {out} type veth peer name {to}"),
        format!("ip addr add {here}/24 dev {out}"),
        format!("ip addr add {there}/24 dev {to}"),
        format!("ip link set {out} up"),
        format!("ip link set {to} up"),
        format!("ip route add default via {there} dev {out}"),
        format!("iptables -N {GUARD_CHAIN}"),
        format!("iptables -A {GUARD_CHAIN} -d 127.0.0.0/8 -j RETURN"),
        format!("iptables -A {GUARD_CHAIN} -d 192.0.2.0/24 -j RETURN"),
        format!("iptables -A {GUARD_CHAIN} -d 10.77.0.0/16 -j RETURN"),
        format!("iptables -A {GUARD_CHAIN} -j DROP"),
        format!("iptables -I OUTPUT -j {GUARD_CHAIN}"),
    ] {
        run_tool(None, &command)?;
    }
    *slot = Arc::downgrade(&route);
    Ok(route)
}

impl Drop for DefaultRoute {
    fn drop(&mut self) {
        for command in [
            format!("iptables -D OUTPUT -j {GUARD_CHAIN}"),
            format!("iptables -F {GUARD_CHAIN}"),
            format!("iptables -X {GUARD_CHAIN}"),
            // Deleting one end deletes the pair, and the route through it.
            format!("ip link del {}", LINKS.0),
        ] {
            let _ = run_tool(None, &command);
        }
    }
}
