//! The aya side: the compiled program, its attachment and its maps.

use super::maps::{
    self, C2p6Key, C2p6Val, C2pKey, C2pVal, CpuCounters, P2c6Key, P2c6Val, P2cKey, P2cVal,
};
use super::slots::Slots;
use super::{OffloadError, Route};
use aya::maps::{HashMap, MapData, MapError, PerCpuArray, PerCpuValues};
use aya::programs::{SchedClassifier, TcAttachType};
use aya::{EbpfLoader, include_bytes_aligned};
use relay_proto::Traffic;

/// bpf/offload.c, compiled by build.rs.
static PROGRAM: &[u8] = include_bytes_aligned!(concat!(env!("OUT_DIR"), "/offload.o"));

pub(super) struct Kernel {
    c2p: HashMap<MapData, C2pKey, C2pVal>,
    p2c: HashMap<MapData, P2cKey, P2cVal>,
    c2p6: HashMap<MapData, C2p6Key, C2p6Val>,
    p2c6: HashMap<MapData, P2c6Key, P2c6Val>,
    counters: PerCpuArray<MapData, CpuCounters>,
    cpus: usize,
    // Holds the program and its links: dropping it detaches (TCX links also go when the
    // process dies, so a killed relay leaves nothing attached).
    _ebpf: aya::Ebpf,
}

fn err(what: &str, e: impl std::fmt::Display) -> OffloadError {
    OffloadError(format!(
        "{what}: {e} (the kernel fast path needs root or CAP_BPF and CAP_NET_ADMIN)"
    ))
}

fn take_map(ebpf: &mut aya::Ebpf, name: &str) -> Result<aya::maps::Map, OffloadError> {
    ebpf.take_map(name)
        .ok_or_else(|| OffloadError(format!("map {name} missing from the fast path's object")))
}

impl Kernel {
    pub(super) fn attach(interfaces: &[String]) -> Result<Kernel, OffloadError> {
        // The program reads only the stable __sk_buff context and packet bytes: no CO-RE
        // relocations, so the kernel's own BTF (megabytes to parse) is not loaded.
        let mut ebpf = EbpfLoader::new()
            .btf(None)
            .load(PROGRAM)
            .map_err(|e| err("cannot load the fast path", e))?;
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
        let c2p = HashMap::try_from(take_map(&mut ebpf, "EDGETURN_C2P")?)
            .map_err(|e| err("map EDGETURN_C2P", e))?;
        let p2c = HashMap::try_from(take_map(&mut ebpf, "EDGETURN_P2C")?)
            .map_err(|e| err("map EDGETURN_P2C", e))?;
        let c2p6 = HashMap::try_from(take_map(&mut ebpf, "EDGETURN_C2P6")?)
            .map_err(|e| err("map EDGETURN_C2P6", e))?;
        let p2c6 = HashMap::try_from(take_map(&mut ebpf, "EDGETURN_P2C6")?)
            .map_err(|e| err("map EDGETURN_P2C6", e))?;
        let counters = PerCpuArray::try_from(take_map(&mut ebpf, "EDGETURN_COUNTERS")?)
            .map_err(|e| err("map EDGETURN_COUNTERS", e))?;
        let cpus = aya::util::nr_cpus().map_err(|(_, e)| err("cannot count the CPUs", e))?;
        Ok(Kernel {
            c2p,
            p2c,
            c2p6,
            p2c6,
            counters,
            cpus,
            _ebpf: ebpf,
        })
    }

    /// Adds or updates both directions of a route whose counters are `slot`'s, in the maps
    /// of its family. `local`: (peer, client) are addresses of this host.
    pub(super) fn set(
        &mut self,
        r: &Route,
        local: (bool, bool),
        until_ns: u64,
        slot: u32,
    ) -> Result<(), MapError> {
        if r.client.is_ipv4() {
            insert(&mut self.c2p, &mut self.p2c, r, local, until_ns, slot)
        } else {
            insert(&mut self.c2p6, &mut self.p2c6, r, local, until_ns, slot)
        }
    }

    /// Sets both of `slot`'s counters to zero on every CPU, for a new route.
    pub(super) fn zero(&mut self, slot: u32) -> Result<(), MapError> {
        let (to_peer, to_client) = Slots::entries(slot);
        for entry in [to_peer, to_client] {
            let zeros = PerCpuValues::try_from(vec![[0u64; 2]; self.cpus])?;
            self.counters.set(entry, zeros, 0)?;
        }
        Ok(())
    }

    /// What the route with `slot` carried so far, summed over the CPUs.
    pub(super) fn counters(&self, slot: u32) -> Traffic {
        let (to_peer, to_client) = Slots::entries(slot);
        let read = |entry: u32| {
            self.counters
                .get(&entry, 0)
                .map(|cpus| maps::sum(cpus.iter()))
                .unwrap_or_default()
        };
        Traffic {
            to_peer: read(to_peer),
            to_client: read(to_client),
        }
    }

    /// Removes both directions of a route.
    pub(super) fn clear(&mut self, r: &Route) {
        if r.client.is_ipv4() {
            remove(&mut self.c2p, &mut self.p2c, r);
        } else {
            remove(&mut self.c2p6, &mut self.p2c6, r);
        }
    }
}

/// Both directions of `r` into one family's maps (`A`..`D`: its structs' sizes).
fn insert<const A: usize, const B: usize, const C: usize, const D: usize>(
    c2p: &mut HashMap<MapData, [u8; A], [u8; B]>,
    p2c: &mut HashMap<MapData, [u8; C], [u8; D]>,
    r: &Route,
    local: (bool, bool),
    until_ns: u64,
    slot: u32,
) -> Result<(), MapError> {
    let (to_peer, to_client) = Slots::entries(slot);
    let ck = maps::c2p_key(r.client, r.server.port(), r.channel);
    c2p.insert(
        ck,
        maps::c2p_val(r.relay, r.peer, local.0, until_ns, to_peer),
        0,
    )?;
    let pv = maps::p2c_val(r.client, r.server, r.channel, local.1, until_ns, to_client);
    p2c.insert(maps::p2c_key(r.peer, r.relay), pv, 0)
}

/// Both directions of `r` out of one family's maps.
fn remove<const A: usize, const B: usize, const C: usize, const D: usize>(
    c2p: &mut HashMap<MapData, [u8; A], [u8; B]>,
    p2c: &mut HashMap<MapData, [u8; C], [u8; D]>,
    r: &Route,
) {
    let _ = c2p.remove(&maps::c2p_key(r.client, r.server.port(), r.channel));
    let _ = p2c.remove(&maps::p2c_key::<C>(r.peer, r.relay));
}
