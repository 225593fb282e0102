//! IPv4 CIDR blocks and port ranges, as AWS accepts them.
//!
//! Owns [`Cidr`] and [`PortRange`]. Invariants: a `Cidr` has no host bits set (parsing rejects
//! `10.0.1.5/24` and names the network it probably meant); a `PortRange` has `from <= to`.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 network such as `10.0.0.0/16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Cidr {
    network: u32,
    prefix: u8,
}

/// Why text is not a [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CidrError {
    /// Not of the form `a.b.c.d/n` with octets 0-255 and `n` 0-32.
    Malformed,
    /// Well formed, but bits after the prefix are set; `network` is the block with them cleared.
    HostBits { network: Cidr },
}

impl Cidr {
    /// `0.0.0.0/0`: every address.
    pub(crate) const EVERYWHERE: Cidr = Cidr {
        network: 0,
        prefix: 0,
    };

    /// Parses `a.b.c.d/n`.
    pub(crate) fn parse(text: &str) -> Result<Cidr, CidrError> {
        let (address, prefix) = text.split_once('/').ok_or(CidrError::Malformed)?;
        let address: Ipv4Addr = address.parse().map_err(|_| CidrError::Malformed)?;
        let all_digits = !prefix.is_empty() && prefix.len() <= 2;
        if !all_digits || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Malformed);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Malformed)?;
        if prefix > 32 {
            return Err(CidrError::Malformed);
        }
        let bits = u32::from(address);
        let network = bits & mask(prefix);
        let cidr = Cidr { network, prefix };
        if network == bits {
            Ok(cidr)
        } else {
            Err(CidrError::HostBits { network: cidr })
        }
    }

    pub(crate) fn prefix(self) -> u8 {
        self.prefix
    }

    fn last(self) -> u32 {
        self.network | !mask(self.prefix)
    }

    /// Whether every address of `other` lies in `self`.
    pub(crate) fn contains(self, other: Cidr) -> bool {
        self.network <= other.network && other.last() <= self.last()
    }

    /// Whether the two blocks share an address.
    pub(crate) fn overlaps(self, other: Cidr) -> bool {
        self.network <= other.last() && other.network <= self.last()
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// Ports `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl PortRange {
    /// A single port given as an integer.
    pub(crate) fn from_int(port: i64) -> Result<PortRange, String> {
        let port = u16::try_from(port).map_err(|_| format!("`{port}` is not a port (0-65535)"))?;
        Ok(PortRange {
            from: port,
            to: port,
        })
    }

    /// `"443"` or `"1024-2048"`; the error is a label for the offending text.
    pub(crate) fn parse(text: &str) -> Result<PortRange, String> {
        let port = |part: &str| -> Result<u16, String> {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err("expected a port (0-65535) or a range such as `1024-2048`".into());
            }
            part.parse::<u16>()
                .map_err(|_| format!("`{part}` is not a port (0-65535)"))
        };
        let (from, to) = match text.split_once('-') {
            Some((from, to)) => (port(from)?, port(to)?),
            None => {
                let single = port(text)?;
                (single, single)
            }
        };
        if from > to {
            return Err(format!("the range goes backwards: {from} is above {to}"));
        }
        Ok(PortRange { from, to })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.from, self.to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("valid cidr")
    }

    #[test]
    fn parses_networks_and_rejects_host_bits() {
        assert_eq!(cidr("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(
            Cidr::parse("10.0.1.5/24"),
            Err(CidrError::HostBits {
                network: cidr("10.0.1.0/24")
            })
        );
        for bad in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.0/33",
            "10.0.0.256/24",
            "a/b",
            "10.0.0.0/+8",
        ] {
            assert_eq!(Cidr::parse(bad), Err(CidrError::Malformed), "{bad}");
        }
    }

    #[test]
    fn containment_and_overlap() {
        assert!(cidr("10.0.0.0/16").contains(cidr("10.0.1.0/24")));
        assert!(!cidr("10.0.0.0/16").contains(cidr("10.1.0.0/24")));
        assert!(cidr("10.0.1.0/24").overlaps(cidr("10.0.1.128/25")));
        assert!(!cidr("10.0.1.0/24").overlaps(cidr("10.0.2.0/24")));
    }

    #[test]
    fn port_ranges() {
        assert_eq!(
            PortRange::parse("1024-2048"),
            Ok(PortRange {
                from: 1024,
                to: 2048
            })
        );
        assert_eq!(PortRange::parse("443"), PortRange::from_int(443));
        assert!(PortRange::parse("2048-1024").is_err());
        assert!(PortRange::parse("70000").is_err());
        assert!(PortRange::parse("").is_err());
        assert!(PortRange::from_int(-1).is_err());
    }
}
