//! The aya side: the compiled program, its attachment and its two maps.

use aya::maps::{HashMap, MapData};
use aya::programs::{SchedClassifier, TcAttachType};
use aya::{Ebpf, include_bytes_aligned};
use std::net::SocketAddrV4;

use super::maps::{self, C2pKey, C2pVal, P2cKey, P2cVal};
use super::{OffloadError, Relayed, V4Route};

/// bpf/offload.c, compiled by build.rs.
static PROGRAM: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/offload.o"));

pub(super) struct Kernel {
    c2p: HashMap<MapData, C2pKey, C2pVal>,
    p2c: HashMap<MapData, P2cKey, P2cVal>,
    // Holds the program and its links: dropping it detaches (TCX links also go when the
    // process dies, so a killed relay leaves nothing attached).
    _ebpf: Ebpf,
}

fn err(what: &str, e: impl std::fmt::Display) -> OffloadError {
    OffloadError(format!(
        "{what}: {e} (the kernel fast path needs root or CAP_BPF and CAP_NET_ADMIN)"
    ))
}

impl Kernel {
    pub(super) fn attach(interfaces: &[String]) -> Result<Kernel, OffloadError> {
        let mut ebpf = Ebpf::load(PROGRAM).map_err(|e| err("cannot load the fast path", e))?;
        let prog: &mut SchedClassifier = ebpf
            .program_mut("edgeturn_channel_data")
            .ok_or_else(|| {
                OffloadError("the fast path's program is missing from its object".into())
            })?
            .try_into()
            .map_err(|e| err("the fast path is not a TC program", e))?;
        prog.load()
            .map_err(|e| err("the kernel refused the fast path", e))?;
        for iface in interfaces {
            if let Err(first) = prog.attach(iface, TcAttachType::Ingress) {
                // Kernels before 6.6 attach through a clsact qdisc, which may need adding.
                let _ = aya::programs::tc::qdisc_add_clsact(iface);
                prog.attach(iface, TcAttachType::Ingress)
                    .map_err(|_| err(&format!("cannot attach to {iface}"), first))?;
            }
        }
        let c2p = HashMap::try_from(
            ebpf.take_map("EDGETURN_C2P")
                .ok_or_else(|| OffloadError("map EDGETURN_C2P missing".into()))?,
        )
        .map_err(|e| err("map EDGETURN_C2P", e))?;
        let p2c = HashMap::try_from(
            ebpf.take_map("EDGETURN_P2C")
                .ok_or_else(|| OffloadError("map EDGETURN_P2C missing".into()))?,
        )
        .map_err(|e| err("map EDGETURN_P2C", e))?;
        Ok(Kernel {
            c2p,
            p2c,
            _ebpf: ebpf,
        })
    }

    /// Adds or updates both directions, keeping the counters of an entry already there.
    /// `local`: (peer, client) are addresses of this host.
    pub(super) fn set(
        &mut self,
        server: SocketAddrV4,
        r: &V4Route,
        local: (bool, bool),
        until_ns: u64,
    ) -> Result<(), aya::maps::MapError> {
        let ck = maps::c2p_key(r.client, server.port(), r.channel);
        let kept = self
            .c2p
            .get(&ck, 0)
            .map(|v| maps::counters(&v))
            .unwrap_or_default();
        self.c2p.insert(
            ck,
            maps::c2p_val(r.relay, r.peer, local.0, until_ns, kept),
            0,
        )?;
        let pk = maps::p2c_key(r.peer, r.relay);
        let kept = self
            .p2c
            .get(&pk, 0)
            .map(|v| maps::counters(&v))
            .unwrap_or_default();
        self.p2c.insert(
            pk,
            maps::p2c_val(r.client, server, r.channel, local.1, until_ns, kept),
            0,
        )
    }

    /// What the routes still in the maps carried so far.
    pub(super) fn live(&self) -> Relayed {
        let mut r = Relayed::default();
        for v in self.c2p.iter().flatten() {
            r.to_peer += maps::counters(&v.1);
        }
        for v in self.p2c.iter().flatten() {
            r.to_client += maps::counters(&v.1);
        }
        r
    }

    /// Removes both directions; returns what they carried.
    pub(super) fn clear(&mut self, server: SocketAddrV4, r: &V4Route) -> Relayed {
        let ck = maps::c2p_key(r.client, server.port(), r.channel);
        let pk = maps::p2c_key(r.peer, r.relay);
        let to_peer = self
            .c2p
            .get(&ck, 0)
            .map(|v| maps::counters(&v))
            .unwrap_or_default();
        let to_client = self
            .p2c
            .get(&pk, 0)
            .map(|v| maps::counters(&v))
            .unwrap_or_default();
        let _ = self.c2p.remove(&ck);
        let _ = self.p2c.remove(&pk);
        Relayed { to_peer, to_client }
    }
}
