//! Who the client is behind reverse proxies.
//!
//! A proxy such as nginx *appends* the address it saw to `X-Forwarded-For`
//! (or to `Forwarded`); everything to the left of that came from the client
//! and can say anything. So the header is believed only when the TCP peer is
//! a trusted proxy (`limits.trusted_proxies`, CIDRs), and the client is the
//! rightmost entry that is not itself a trusted proxy — the first address
//! no proxy of ours vouches for. `limits.trust_forwarded_for = true` keeps
//! its old meaning of "the peer is a trusted proxy" (one hop).
//!
//! Budgets key IPv6 clients by their /64: one customer line gets a whole
//! /64, and a per-address budget on the full address would give each of
//! its 2^64 addresses a budget of its own.

use crate::config::Limits;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

/// Which header the trusted proxies write the client chain to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Header {
    XForwardedFor,
    Forwarded,
}

/// The trusted proxies and how to read the client address through them.
#[derive(Clone, Debug)]
pub struct Proxies {
    nets: Vec<IpNet>,
    /// Every peer counts as a proxy (`limits.trust_forwarded_for`).
    any_peer: bool,
    header: Header,
}

impl Proxies {
    /// From the config's `limits.trusted_proxies`, `limits.forwarded_header`
    /// and `limits.trust_forwarded_for`; a bad entry says which.
    pub fn new(l: &Limits) -> Result<Self, String> {
        let nets = l
            .trusted_proxies
            .iter()
            .map(|s| parse_net(s))
            .collect::<Result<Vec<_>, _>>()?;
        let header = match l.forwarded_header.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Header::XForwardedFor,
            "forwarded" => Header::Forwarded,
            other => {
                return Err(format!(
                    "limits.forwarded_header {other:?} must be \"x-forwarded-for\" or \"forwarded\""
                ))
            }
        };
        Ok(Self {
            nets,
            any_peer: l.trust_forwarded_for,
            header,
        })
    }

    fn listed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Whether connections from `peer` come through a trusted proxy (they
    /// then carry many clients, and are not capped per address).
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.any_peer || self.listed(peer)
    }

    /// The client's address: `peer` itself, or — when `peer` is a trusted
    /// proxy — the rightmost forwarded address that is not a trusted proxy
    /// (the leftmost when all of them are). A header that does not parse
    /// as a whole is not believed: the client is then the peer.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let Some(chain) = self.chain(headers) else {
            return peer;
        };
        chain
            .iter()
            .rev()
            .find(|ip| !self.listed(**ip))
            .or(chain.first())
            .copied()
            .unwrap_or(peer)
    }

    /// Every address the proxies forwarded, leftmost first, from every
    /// copy of the header; `None` when there is none or any entry is bad.
    fn chain(&self, headers: &HeaderMap) -> Option<Vec<IpAddr>> {
        let name = match self.header {
            Header::XForwardedFor => "x-forwarded-for",
            Header::Forwarded => "forwarded",
        };
        let mut out = Vec::new();
        for value in headers.get_all(name) {
            for entry in value.to_str().ok()?.split(',') {
                let ip = match self.header {
                    Header::XForwardedFor => parse_node(entry.trim())?,
                    Header::Forwarded => forwarded_for(entry)?,
                };
                out.push(canonical(ip));
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// `10.0.0.0/8`, or a bare address meaning just itself.
fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("limits.trusted_proxies: {s:?} is not an address or a CIDR such as 10.0.0.0/8")
        })
}

/// One `X-Forwarded-For` entry or `Forwarded` node: `192.0.2.1`,
/// `192.0.2.1:4711`, `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_node(s: &str) -> Option<IpAddr> {
    let s = s.trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The `for=` of one `Forwarded` element (RFC 7239), such as
/// `for=192.0.2.60;proto=http;by=203.0.113.43`. An element without one,
/// or with an obfuscated or `unknown` node, makes the header unbelievable.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(v.trim()))?
    })
}

/// An IPv4-mapped IPv6 address as the IPv4 one it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The key a per-address budget or cap counts `ip` under: the address for
/// IPv4, its /64 for IPv6.
pub fn budget_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str], header: &str, any: bool) -> Proxies {
        let l = Limits {
            trusted_proxies: nets.iter().map(|s| s.to_string()).collect(),
            forwarded_header: header.into(),
            trust_forwarded_for: any,
            ..Limits::default()
        };
        Proxies::new(&l).unwrap()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_says() {
        let p = proxies(&["10.0.0.0/8"], "x-forwarded-for", false);
        let h = headers("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(p.client(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert!(!p.trusts(ip("203.0.113.9")));
    }

    #[test]
    fn the_client_is_the_rightmost_address_no_proxy_of_ours_vouches_for() {
        let p = proxies(&["10.0.0.0/8", "192.168.1.1"], "x-forwarded-for", false);
        // The client wrote "6.6.6.6"; nginx appended the real 198.51.100.7;
        // an inner proxy appended 10.1.1.1.
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.7", "10.1.1.1"]);
        assert_eq!(p.client(ip("192.168.1.1"), &h), ip("198.51.100.7"));
        // All of them proxies: the leftmost.
        let h = headers("x-forwarded-for", &["10.9.9.9, 10.1.1.1"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.9.9.9"));
        // No header, or a bad entry anywhere: the peer.
        assert_eq!(p.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        let h = headers("x-forwarded-for", &["1.2.3.4, nonsense"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn trust_forwarded_for_trusts_one_hop() {
        let p = proxies(&[], "x-forwarded-for", true);
        let h = headers("x-forwarded-for", &["6.6.6.6, 198.51.100.7"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_is_read_when_configured() {
        let p = proxies(&["10.0.0.0/8"], "forwarded", false);
        let h = headers(
            "forwarded",
            &[
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=10.2.2.2;by=10.0.0.1"#,
            ],
        );
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        // The other header is not read at all.
        let h = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(p.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn nodes_with_ports_and_mapped_addresses_are_read() {
        assert_eq!(parse_node("192.0.2.1:80"), Some(ip("192.0.2.1")));
        assert_eq!(parse_node("[2001:db8::1]:80"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("2001:db8::1"), Some(ip("2001:db8::1")));
        assert_eq!(parse_node("_hidden"), None);
        let p = proxies(&["127.0.0.1"], "x-forwarded-for", false);
        assert!(p.trusts(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn ipv6_budgets_are_kept_per_64() {
        assert_eq!(
            budget_key(ip("2001:db8:1:2:aaaa::1")),
            budget_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            budget_key(ip("2001:db8:1:2::1")),
            budget_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(budget_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(budget_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn bad_config_says_which_entry() {
        let l = Limits {
            trusted_proxies: vec!["10.0.0.0/33".into()],
            ..Limits::default()
        };
        assert!(Proxies::new(&l).unwrap_err().contains("10.0.0.0/33"));
        let l = Limits {
            forwarded_header: "x-real-ip".into(),
            ..Limits::default()
        };
        assert!(Proxies::new(&l).is_err());
    }
}
