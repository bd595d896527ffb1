//! Who a client is, by address: the peer of its TCP connection or, when that peer is a trusted proxy
//! (`--trusted-proxy`), the address the proxy says it saw (`X-Forwarded-For`); and the key under which the
//! per-address limits count it.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use warp::http::HeaderMap;

/// The proxies whose `X-Forwarded-For` is believed; empty (the default) believes none.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Trusts the proxies at these addresses or networks.
    pub fn new(nets: &[IpNet]) -> Self {
        TrustedProxies(nets.iter().map(|net| net.trunc()).collect())
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` itself, unless `peer` is a trusted proxy; then the right-most address of
    /// `X-Forwarded-For` that is not itself a trusted proxy (each proxy appends the address it saw, so entries to
    /// its left are whatever the client chose to send). Without such an entry it is the outermost proxy known.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>();
        for value in hops.into_iter().rev() {
            let Ok(value) = value.to_str() else { return client };
            for hop in value.rsplit(',') {
                let Some(hop) = parse_hop(hop.trim()) else { return client };
                client = hop;
                if !self.contains(hop) {
                    return client;
                }
            }
        }
        client
    }
}

/// One entry of `X-Forwarded-For`: an address, possibly with a port (`203.0.113.7:4711`, `[2001:db8::1]:4711`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<std::net::SocketAddr>().ok().map(|addr| addr.ip()))?;
    Some(ip.to_canonical())
}

/// Parses a `--trusted-proxy` value: an address (`10.0.0.5`) or a network (`10.0.0.0/24`).
pub fn parse_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    text.parse::<IpNet>().map_err(|_| format!("`{text}` is neither an IP address nor a network such as 10.0.0.0/8"))
}

/// What the per-address limits count under: an IPv4 address, or the /64 network of an IPv6 address (one host
/// commonly has a whole /64 to itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AddrKey(IpAddr);

impl From<IpAddr> for AddrKey {
    fn from(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => AddrKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                AddrKey(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

impl fmt::Display for AddrKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => v4.fmt(f),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.7"), &headers(&["198.51.100.1"])), ip("203.0.113.7"));
        let proxies = TrustedProxies::new(&[parse_proxy("10.0.0.5").unwrap()]);
        assert_eq!(proxies.client(ip("10.0.0.6"), &headers(&["198.51.100.1"])), ip("10.0.0.6"));
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers(&["198.51.100.1"])), ip("198.51.100.1"));
    }

    #[test]
    fn the_right_most_address_that_is_not_a_trusted_proxy_is_the_client() {
        let proxies = TrustedProxies::new(&[parse_proxy("10.0.0.0/24").unwrap(), parse_proxy("::1").unwrap()]);
        // What the client wrote itself (the left-most entries) is never believed over what the proxies saw.
        let forged = headers(&["1.2.3.4, 5.6.7.8", "198.51.100.1, 10.0.0.7"]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &forged), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("::1"), &headers(&["[2001:db8::1]:4711"])), ip("2001:db8::1"));
        // Nothing but proxies, or no header at all: the outermost proxy is all that is known.
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers(&["10.0.0.9"])), ip("10.0.0.9"));
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers(&[])), ip("10.0.0.5"));
        // Garbage where the client should be: the proxy that wrote it stands for it.
        assert_eq!(proxies.client(ip("10.0.0.5"), &headers(&["1.2.3.4, unknown"])), ip("10.0.0.5"));
        // An IPv4-mapped peer is the IPv4 proxy.
        assert_eq!(proxies.client(ip("::ffff:10.0.0.5"), &headers(&["198.51.100.1"])), ip("198.51.100.1"));
    }

    #[test]
    fn proxies_are_addresses_or_networks() {
        assert_eq!(parse_proxy("10.0.0.5").unwrap().to_string(), "10.0.0.5/32");
        assert_eq!(parse_proxy("10.1.2.3/8").unwrap().trunc().to_string(), "10.0.0.0/8");
        assert_eq!(parse_proxy("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert!(parse_proxy("proxy.example").unwrap_err().contains("neither an IP address"));
        assert!(parse_proxy("10.0.0.0/33").is_err());
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_prefix() {
        assert_eq!(AddrKey::from(ip("2001:db8::1")), AddrKey::from(ip("2001:db8::ffff:1")));
        assert_ne!(AddrKey::from(ip("2001:db8::1")), AddrKey::from(ip("2001:db8:0:1::1")));
        assert_eq!(AddrKey::from(ip("::ffff:192.0.2.1")), AddrKey::from(ip("192.0.2.1")));
        assert_eq!(AddrKey::from(ip("2001:db8::1")).to_string(), "2001:db8::/64");
    }
}
