//! What a daemon behind a swap device needs so that it never waits on the memory it is freeing:
//! all of its memory locked (`mlockall(MCL_CURRENT | MCL_FUTURE)`: no page of the daemon is
//! itself swapped out, and every page it maps later is present at once), and the kernel told that
//! it is an I/O flusher (`PR_SET_IO_FLUSHER`: its allocations do not recurse into reclaim through
//! the device).
//!
//! Every step is checked before the device is added ([`check`], a plain function of the needs and
//! the process's limits), and a step that is not permitted refuses `--swap` with one line naming
//! the step and the fix. A swap device that runs without them can deadlock the machine under
//! memory pressure, so there is no "go on anyway".

use std::io;

use crate::store::StoreConfig;
use crate::ublk::params::{IO_BUF_BYTES, QueueConfig};
use crate::units::human_size;

/// `PR_SET_IO_FLUSHER` (Linux 5.6): not in the libc crate for Linux targets yet.
const PR_SET_IO_FLUSHER: libc::c_int = 57;
/// Capability bits, as in `linux/capability.h`.
const CAP_IPC_LOCK: u32 = 14;
const CAP_SYS_RESOURCE: u32 = 24;
/// Room for what the daemon maps after it starts besides buffers and store: thread stacks and
/// the C heap's arenas. A floor, not a bound: the message says "at least".
pub const HEAP_AND_STACKS: u64 = 64 << 20;

/// What a swap daemon will lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwapNeeds {
    /// ublk: the preallocated I/O buffers (queues × depth × bytes each).
    pub io_buffers: Option<(u16, u16, u32)>,
    /// Most memory the store takes: its memory limit, else the device size (pages that do not
    /// compress are kept whole).
    pub store: u64,
    /// Whether `store` is the memory limit.
    pub store_is_limit: bool,
}

impl SwapNeeds {
    /// A ublk daemon.
    pub fn ublk(store: &StoreConfig, queues: QueueConfig) -> Self {
        Self {
            io_buffers: Some((queues.queues, queues.depth, IO_BUF_BYTES)),
            ..Self::nbd(store)
        }
    }

    /// An NBD daemon (its request buffers are per connection and counted in the heap floor).
    pub fn nbd(store: &StoreConfig) -> Self {
        Self {
            io_buffers: None,
            store: store.mem_limit.unwrap_or(store.size),
            store_is_limit: store.mem_limit.is_some(),
        }
    }

    /// Bytes of I/O buffers.
    pub fn io_buffer_bytes(&self) -> u64 {
        self.io_buffers
            .map_or(0, |(q, d, b)| u64::from(q) * u64::from(d) * u64::from(b))
    }

    /// Bytes the daemon locks at least, with `mapped` bytes mapped now.
    pub fn locked_bytes(&self, mapped: u64) -> u64 {
        mapped
            .saturating_add(self.io_buffer_bytes())
            .saturating_add(self.store)
            .saturating_add(HEAP_AND_STACKS)
    }

    /// What `locked_bytes` is made of, for the message.
    fn parts(&self, mapped: u64) -> String {
        let mut parts = vec![format!("{} mapped now", human_size(mapped))];
        if let Some((q, d, b)) = self.io_buffers {
            parts.push(format!(
                "{} of I/O buffers ({q} queues × depth {d} × {})",
                human_size(self.io_buffer_bytes()),
                human_size(u64::from(b))
            ));
        }
        parts.push(format!(
            "{} of store ({})",
            human_size(self.store),
            if self.store_is_limit {
                "--mem-limit"
            } else {
                "the device size; --mem-limit lowers it"
            }
        ));
        parts.push(format!(
            "{} of heap and stacks",
            human_size(HEAP_AND_STACKS)
        ));
        parts.join(" + ")
    }
}

/// What the process may do, as read from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// Effective capabilities (`CapEff`).
    pub capabilities: u64,
    /// `RLIMIT_MEMLOCK`, soft and hard; `None` is unlimited.
    pub memlock_soft: Option<u64>,
    /// The hard limit, up to which the process may raise the soft one.
    pub memlock_hard: Option<u64>,
    /// Bytes mapped now (`VmSize`): `MCL_CURRENT` locks all of it.
    pub mapped: u64,
}

impl ProcessLimits {
    /// This process's.
    pub fn of_this_process() -> Result<Self, String> {
        let status = std::fs::read_to_string("/proc/self/status")
            .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
        let (capabilities, mapped) = parse_status(&status)?;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into the struct we pass and reads nothing else.
        if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &raw mut limit) } != 0 {
            return Err(format!(
                "getrlimit(RLIMIT_MEMLOCK): {}",
                io::Error::last_os_error()
            ));
        }
        let finite = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(v);
        Ok(Self {
            capabilities,
            memlock_soft: finite(limit.rlim_cur),
            memlock_hard: finite(limit.rlim_max),
            mapped,
        })
    }

    fn has(&self, capability: u32) -> bool {
        self.capabilities & (1 << capability) != 0
    }
}

/// Effective capabilities and `VmSize` in bytes from `/proc/PID/status`.
pub fn parse_status(text: &str) -> Result<(u64, u64), String> {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
            .ok_or_else(|| format!("/proc/self/status has no {key} line"))
    };
    let caps = field("CapEff:")?;
    let caps = u64::from_str_radix(caps, 16).map_err(|e| format!("CapEff `{caps}`: {e}"))?;
    let vm = field("VmSize:")?;
    let kib: u64 = vm
        .strip_suffix("kB")
        .map(str::trim)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("VmSize `{vm}` is not `N kB`"))?;
    Ok((caps, kib.saturating_mul(1024)))
}

/// How the memory lock will be permitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemlockPlan {
    /// `CAP_IPC_LOCK`, or an unlimited or large enough `RLIMIT_MEMLOCK`.
    Permitted,
    /// The soft limit is too low but the hard one is not: raise the soft limit to it.
    RaiseSoftLimit(Option<u64>),
}

/// Checks every swap-safety step against `limits`; returns how the memory lock is permitted, or
/// one line per step that is not, naming the step and the fix.
pub fn check(needs: &SwapNeeds, limits: &ProcessLimits) -> Result<MemlockPlan, Vec<String>> {
    let mut refusals = Vec::new();
    let need = needs.locked_bytes(limits.mapped);
    let enough = |limit: Option<u64>| limit.is_none_or(|l| l >= need);
    let plan = if limits.has(CAP_IPC_LOCK) || enough(limits.memlock_soft) {
        MemlockPlan::Permitted
    } else if enough(limits.memlock_hard) {
        MemlockPlan::RaiseSoftLimit(limits.memlock_hard)
    } else {
        refusals.push(format!(
            "--swap refused: mlockall (memory and locked I/O buffers): RLIMIT_MEMLOCK is {} (hard {}), \
             but the daemon must lock at least {} ({}): raise LimitMEMLOCK= (or `ulimit -l`), or run as root with CAP_IPC_LOCK",
            limit_text(limits.memlock_soft),
            limit_text(limits.memlock_hard),
            human_size(need),
            needs.parts(limits.mapped)
        ));
        MemlockPlan::Permitted
    };
    if !limits.has(CAP_SYS_RESOURCE) {
        refusals.push(
            "--swap refused: PR_SET_IO_FLUSHER needs CAP_SYS_RESOURCE, which this process lacks: \
             run as root with CAP_SYS_RESOURCE (AmbientCapabilities=CAP_SYS_RESOURCE in a unit)"
                .into(),
        );
    }
    if refusals.is_empty() {
        Ok(plan)
    } else {
        Err(refusals)
    }
}

fn limit_text(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".into(), human_size)
}

/// Checks every step, then takes them: raises the soft memory-lock limit where needed, marks the
/// process an I/O flusher and locks its memory. Call it before the device is added and before
/// any thread is started (threads inherit the I/O flusher mark from the thread that starts them).
pub fn prepare_for_swap(needs: &SwapNeeds) -> Result<(), String> {
    let limits = ProcessLimits::of_this_process()?;
    let plan = check(needs, &limits).map_err(|lines| lines.join("\n"))?;
    if let MemlockPlan::RaiseSoftLimit(hard) = plan {
        let limit = libc::rlimit {
            rlim_cur: hard.unwrap_or(libc::RLIM_INFINITY),
            rlim_max: hard.unwrap_or(libc::RLIM_INFINITY),
        };
        // SAFETY: setrlimit reads the struct we pass and changes only this process's limit.
        if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raw const limit) } != 0 {
            return Err(format!(
                "--swap refused: raising RLIMIT_MEMLOCK to its hard limit {}: {}",
                limit_text(hard),
                io::Error::last_os_error()
            ));
        }
    }
    // SAFETY: prctl with PR_SET_IO_FLUSHER reads only its integer arguments.
    if unsafe {
        libc::prctl(
            PR_SET_IO_FLUSHER,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    } != 0
    {
        let e = io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EINVAL) {
            format!(
                "--swap refused: PR_SET_IO_FLUSHER: {e}: the kernel lacks it (Linux >= 5.6 has it)"
            )
        } else {
            format!("--swap refused: PR_SET_IO_FLUSHER: {e}: run as root with CAP_SYS_RESOURCE")
        });
    }
    // SAFETY: mlockall takes only flags and changes no memory the program can see.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        return Err(format!(
            "--swap refused: mlockall: {}: raise LimitMEMLOCK= (or `ulimit -l`), or run as root with CAP_IPC_LOCK",
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_algorithm;

    const MIB: u64 = 1 << 20;

    fn store(size: u64, mem_limit: Option<u64>) -> StoreConfig {
        StoreConfig {
            size,
            algorithm: parse_algorithm("lz4").unwrap_or_else(|e| unreachable!("{e}")),
            mem_limit,
        }
    }

    fn limits(capabilities: u64, soft: Option<u64>, hard: Option<u64>) -> ProcessLimits {
        ProcessLimits {
            capabilities,
            memlock_soft: soft,
            memlock_hard: hard,
            mapped: 40 * MIB,
        }
    }

    const ALL: u64 = (1 << CAP_IPC_LOCK) | (1 << CAP_SYS_RESOURCE);
    const NO_IPC_LOCK: u64 = 1 << CAP_SYS_RESOURCE;

    #[test]
    fn ublk_needs_count_every_queue_buffer() {
        let queues = QueueConfig {
            queues: 4,
            depth: 128,
        };
        let needs = SwapNeeds::ublk(&store(1 << 30, Some(256 * MIB)), queues);
        assert_eq!(needs.io_buffer_bytes(), 4 * 128 * 512 * 1024);
        assert_eq!(
            needs.locked_bytes(40 * MIB),
            40 * MIB + 256 * MIB + 256 * MIB + HEAP_AND_STACKS
        );
        let nbd = SwapNeeds::nbd(&store(1 << 30, None));
        assert_eq!(nbd.io_buffer_bytes(), 0);
        assert_eq!(nbd.store, 1 << 30, "no limit: the device size");
        assert_eq!(
            SwapNeeds::nbd(&store(u64::MAX, None)).locked_bytes(u64::MAX),
            u64::MAX,
            "saturates"
        );
    }

    #[test]
    fn capabilities_decide_first() {
        let needs = SwapNeeds::nbd(&store(1 << 30, None));
        // Root with CAP_IPC_LOCK: the 8 MiB default limit does not apply.
        assert_eq!(
            check(&needs, &limits(ALL, Some(8 * MIB), Some(8 * MIB))),
            Ok(MemlockPlan::Permitted)
        );
        let lines = check(&needs, &limits(1 << CAP_IPC_LOCK, None, None))
            .err()
            .unwrap_or_default();
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].contains("PR_SET_IO_FLUSHER needs CAP_SYS_RESOURCE"),
            "{lines:?}"
        );
    }

    #[test]
    fn the_memlock_limit_must_cover_what_is_locked() {
        let queues = QueueConfig {
            queues: 2,
            depth: 64,
        };
        let needs = SwapNeeds::ublk(&store(1 << 30, Some(128 * MIB)), queues);
        let need = needs.locked_bytes(40 * MIB);
        assert_eq!(
            check(&needs, &limits(NO_IPC_LOCK, None, None)),
            Ok(MemlockPlan::Permitted)
        );
        assert_eq!(
            check(&needs, &limits(NO_IPC_LOCK, Some(need), Some(need))),
            Ok(MemlockPlan::Permitted)
        );
        assert_eq!(
            check(&needs, &limits(NO_IPC_LOCK, Some(8 * MIB), None)),
            Ok(MemlockPlan::RaiseSoftLimit(None))
        );
        assert_eq!(
            check(&needs, &limits(NO_IPC_LOCK, Some(8 * MIB), Some(need))),
            Ok(MemlockPlan::RaiseSoftLimit(Some(need)))
        );
        let lines = check(&needs, &limits(NO_IPC_LOCK, Some(8 * MIB), Some(need - 1)))
            .err()
            .unwrap_or_default();
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        for part in [
            "mlockall",
            "RLIMIT_MEMLOCK is 8.0 MiB",
            "64.0 MiB of I/O buffers (2 queues × depth 64 × 512.0 KiB)",
            "128.0 MiB of store (--mem-limit)",
            "40.0 MiB mapped now",
            "LimitMEMLOCK=",
            "CAP_IPC_LOCK",
        ] {
            assert!(line.contains(part), "`{part}` not in: {line}");
        }
        assert!(!line.contains('\n'));
        // Both steps refused: two lines.
        let both = check(&needs, &limits(0, Some(8 * MIB), Some(8 * MIB)))
            .err()
            .unwrap_or_default();
        assert_eq!(both.len(), 2, "{both:?}");
    }

    #[test]
    fn status_fields_are_read_or_refused() {
        let status = "Name:\tx\nVmSize:\t   12345 kB\nCapEff:\t000001fffeffffff\n";
        assert_eq!(parse_status(status), Ok((0x1fffeffffff, 12345 * 1024)));
        for bad in [
            "",
            "CapEff:\tzz\nVmSize:\t1 kB\n",
            "CapEff:\t0\n",
            "CapEff:\t0\nVmSize:\t1 MB\n",
        ] {
            assert!(parse_status(bad).is_err(), "{bad:?}");
        }
        let me = ProcessLimits::of_this_process().unwrap_or_else(|e| unreachable!("{e}"));
        assert!(me.mapped > 0);
    }
}
