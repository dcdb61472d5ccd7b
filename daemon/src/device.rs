//! Running one device in the foreground: the store, its NBD server and its control socket, until
//! SIGINT, SIGTERM or `trueno-ublk delete` stops it. Requests in flight are answered before the
//! sockets close and their files are removed.

use std::sync::Arc;

use crate::control::{self, ControlServer};
use crate::nbd::{Endpoint, NbdServer, StopSignal};
use crate::store::{BlockStore, StoreConfig, algorithm_name};
use crate::units::human_size;

/// A device to run.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// Its name (export name and control socket name).
    pub name: String,
    /// The store behind it.
    pub store: StoreConfig,
    /// Where NBD clients attach.
    pub endpoint: Endpoint,
    /// Worker threads per NBD connection.
    pub workers: usize,
    /// Serve a swap device: lock all memory and run as an I/O flusher.
    pub swap: bool,
}

/// How to attach a client to `endpoint`, for the message printed at start.
pub fn attach_hint(name: &str, endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Unix(path) => format!(
            "attach: nbd-client -unix {p} /dev/nbd0    (or: nbdinfo 'nbd+unix:///{name}?socket={p}')",
            p = path.display()
        ),
        Endpoint::Tcp(addr) => format!(
            "attach: nbd-client {} {} /dev/nbd0 -N {name}    (or: nbdinfo nbd://{addr}/{name})",
            addr.ip(),
            addr.port()
        ),
    }
}

/// Runs the device until it is stopped. `ready` is called once every socket is bound, with the
/// endpoint actually bound.
pub fn run(config: &DeviceConfig, ready: impl FnOnce(&Endpoint)) -> Result<(), String> {
    control::check_name(&config.name)?;
    one_heap_arena();
    if config.swap {
        crate::swap::prepare_for_swap(&crate::swap::SwapNeeds::nbd(&config.store))?;
    }
    let store = Arc::new(BlockStore::new(config.store).map_err(|e| e.to_string())?);
    let server = NbdServer::bind(&config.endpoint, &config.name, Arc::clone(&store))
        .map_err(|e| format!("cannot listen on {}: {e}", config.endpoint))?
        .workers(config.workers);
    let endpoint = server.endpoint().map_err(|e| e.to_string())?;
    // Who serves the device, for `list` to tell a killed daemon's leftovers from a live device.
    let record = crate::state::DaemonRecord::of_this_process(
        &config.name,
        "nbd",
        &endpoint.to_string(),
        None,
    )?;
    let state = crate::state::StateFile::write(&control::run_dir(), &record)?;
    let compactor = Arc::clone(&store);
    let control =
        ControlServer::bind(&config.name, "nbd", &endpoint.to_string(), store).map_err(|e| {
            format!(
                "cannot create the control socket {}: {e}",
                control::control_path(&config.name).display()
            )
        })?;
    let stop = StopSignal::new().map_err(|e| e.to_string())?;
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let trigger = stop.trigger().map_err(|e| e.to_string())?;
        signal_hook::low_level::pipe::register(signal, trigger)
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    log::info!(
        "{}: {} {} device on {endpoint}",
        config.name,
        human_size(config.store.size),
        algorithm_name(config.store.algorithm)
    );
    ready(&endpoint);
    let control_file = control.path().to_path_buf();
    let result = std::thread::scope(|scope| {
        scope.spawn(|| control.run(&stop));
        scope.spawn(|| compact_while_running(&compactor, &stop));
        let served = server.run(&stop);
        // The NBD server ends only on the stop signal or an error; either way stop the control side.
        stop.fire();
        served
    });
    drop(state);
    // Last: `delete` returns when this file is gone.
    let _ = std::fs::remove_file(&control_file);
    log::info!("{}: stopped", config.name);
    result.map_err(|e| format!("NBD server: {e}"))
}

/// How often the pool's fragmentation is looked at.
const COMPACT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Compacts the pool when overwrites and discards have left more than a quarter of its memory (and
/// at least 1 MiB) unused, as zram's compaction does on demand; handles stay valid and requests go on
/// meanwhile (the pool locks one size class at a time). Then gives the C heap's free memory back to
/// the system: request buffers freed by the worker threads otherwise stay in their malloc arenas
/// and count as the daemon's resident memory. Both transports run it beside their requests.
pub(crate) fn compact_while_running(store: &BlockStore, stop: &StopSignal) {
    while !stop.wait_timeout(COMPACT_EVERY) {
        let st = store.stats();
        let slack = st.mem_used_total.saturating_sub(st.compr_data_size);
        if slack > (1 << 20) && slack > st.mem_used_total / 4 {
            let pages = store.compact();
            log::debug!("compaction gave back {pages} pages");
        }
        release_free_heap();
    }
}

/// Keeps every thread on the one C heap arena. Connection threads come and go; each would otherwise
/// get an arena of its own, and the pool's spans, scattered over several arenas, leave more partly
/// used pages behind (resident memory after filling with `memdump.bin`: 0.347x of the corpus with
/// one arena, 0.349x to 0.350x with one per thread). Requests allocate nothing, so they do not meet
/// on the arena's lock.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn one_heap_arena() {
    // SAFETY: mallopt only sets a glibc tuning value, under glibc's own malloc lock.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn one_heap_arena() {}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_heap() {
    // SAFETY: malloc_trim only walks glibc's own heap structures under their locks.
    unsafe { libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}
