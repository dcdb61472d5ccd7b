//! The libublk glue: adds `/dev/ublkbN`, serves each queue's requests from the shared store on
//! its own thread through [`super::io::serve`], and removes the device when stopped (SIGINT,
//! SIGTERM or `trueno-ublk delete`, through the control socket).

use std::sync::{Arc, Mutex};

use libublk::ctrl::{UblkCtrl, UblkCtrlBuilder};
use libublk::helpers::IoBuf;
use libublk::io::{BufDescList, UblkDev, UblkIOCtx, UblkQueue};
use libublk::{BufDesc, UblkFlags, UblkIORes};

use super::io::{IoDesc, serve as serve_request};
use super::kernel::TRUENO_MARK;
use super::params::{DeviceParams, IO_BUF_BYTES, QueueConfig, device_params};
use crate::control::{self, ControlServer};
use crate::nbd::StopSignal;
use crate::state::{DaemonRecord, StateFile};
use crate::store::{BlockStore, StoreConfig};
use crate::swap::SwapNeeds;

/// A ublk device to run.
#[derive(Debug, Clone)]
pub struct UblkConfig {
    /// Its name (control socket name).
    pub name: String,
    /// The store behind it.
    pub store: StoreConfig,
    /// Queues and depth.
    pub queues: QueueConfig,
    /// Serve a swap device: memory locked, I/O flusher, locked I/O buffers.
    pub swap: bool,
}

/// Adds the device, calls `ready` with its block device path, serves until stopped, then
/// removes it.
///
/// Everything that can fail without the kernel is done before the device is added: the swap
/// steps, the store, the signal handlers (a SIGTERM from then on stops the device cleanly) and
/// every queue's I/O buffers.
pub fn run(
    config: &UblkConfig,
    ready: impl FnOnce(&str) + Send + Sync + 'static,
) -> Result<(), String> {
    control::check_name(&config.name)?;
    if config.swap {
        crate::swap::prepare_for_swap(&SwapNeeds::ublk(&config.store, config.queues))?;
    }
    let params = device_params(config.store.size)?;
    let store = Arc::new(BlockStore::new(config.store).map_err(|e| e.to_string())?);
    let stop = Arc::new(StopSignal::new().map_err(|e| e.to_string())?);
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let trigger = stop.trigger().map_err(|e| e.to_string())?;
        signal_hook::low_level::pipe::register(signal, trigger)
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    let buffers = Arc::new(preallocate(config.queues)?);
    let mut dev_flags = UblkFlags::UBLK_DEV_F_ADD_DEV;
    if config.swap {
        // Locked I/O buffers: writing a page out must never fault one of them in.
        dev_flags |= UblkFlags::UBLK_DEV_F_MLOCK_IO_BUFFER;
    }
    let ctrl = UblkCtrlBuilder::default()
        .name("trueno")
        .id(device_id(&config.name))
        .nr_queues(config.queues.queues)
        .depth(config.queues.depth)
        .io_buf_bytes(IO_BUF_BYTES)
        .ctrl_target_flags(TRUENO_MARK)
        .dev_flags(dev_flags)
        .build()
        .map_err(|e| format!("cannot add the ublk device (is ublk_drv loaded?): {e}"))?;
    // From here on the kernel holds a device: every way out below deletes it.
    let bdev = ctrl.get_bdev_path();
    let prepared =
        DaemonRecord::of_this_process(&config.name, "ublk", &bdev, Some(ctrl.dev_info().dev_id))
            .and_then(|record| StateFile::write(&control::run_dir(), &record))
            .and_then(|state| {
                // Bound now, so that a failure comes before the device starts; it answers once started.
                ControlServer::bind(&config.name, "ublk", &bdev, Arc::clone(&store))
                    .map(|control| (state, control))
                    .map_err(|e| {
                        format!(
                            "cannot create the control socket {}: {e}",
                            control::control_path(&config.name).display()
                        )
                    })
            });
    let (served, state) = match prepared {
        Ok((state, control)) => (
            serve(
                &ctrl,
                params,
                config.store.size,
                store,
                buffers,
                control,
                stop,
                ready,
            ),
            Some(state),
        ),
        Err(e) => (Err(e), None),
    };
    let deleted = ctrl
        .del_dev()
        .map(|_| ())
        .map_err(|e| format!("cannot remove the ublk device {bdev}: {e}"));
    // The state file names the device for `list` and `delete` until it is gone.
    if deleted.is_ok() {
        drop(state);
    } else {
        std::mem::forget(state);
    }
    // Last: `delete` returns when this file is gone, and by then the device is removed.
    let _ = std::fs::remove_file(control::control_path(&config.name));
    log::info!("{}: stopped", config.name);
    served.and(deleted)
}

/// Each queue's buffers, taken by its thread when it starts.
type QueueBuffers = Vec<Mutex<Option<Vec<IoBuf<u8>>>>>;

/// Every queue's buffers, allocated before the device is added (and locked at once under
/// `--swap`, whose `mlockall(MCL_FUTURE)` is already in force): the I/O path allocates nothing.
fn preallocate(queues: QueueConfig) -> Result<QueueBuffers, String> {
    let bytes = usize::try_from(IO_BUF_BYTES).map_err(|e| e.to_string())?;
    (0..queues.queues)
        .map(|_| {
            (0..queues.depth)
                .map(|_| {
                    let buf = IoBuf::<u8>::new(bytes);
                    if buf.as_ptr().is_null() {
                        // Dropping would free a null pointer.
                        std::mem::forget(buf);
                        return Err(format!(
                            "cannot allocate the I/O buffers ({} queues × depth {} × {} bytes)",
                            queues.queues, queues.depth, IO_BUF_BYTES
                        ));
                    }
                    Ok(buf)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|bufs| Mutex::new(Some(bufs)))
        })
        .collect()
}

/// Starts the device and serves it until `stop` fires, then stops it (the queue threads end).
#[allow(clippy::too_many_arguments)] // one call site, each argument a different part
fn serve(
    ctrl: &UblkCtrl,
    params: DeviceParams,
    size: u64,
    store: Arc<BlockStore>,
    buffers: Arc<QueueBuffers>,
    control: ControlServer,
    stop: Arc<StopSignal>,
    ready: impl FnOnce(&str) + Send + Sync + 'static,
) -> Result<(), String> {
    let tgt_init = move |dev: &mut UblkDev| {
        dev.set_default_params(size);
        dev.tgt.params = kernel_params(&params);
        Ok(())
    };
    let queue_store = Arc::clone(&store);
    let compactor = Arc::clone(&store);
    let queue_fn = move |qid: u16, dev: &UblkDev| {
        let bufs = buffers
            .get(usize::from(qid))
            .and_then(|slot| slot.lock().ok()?.take());
        match bufs {
            Some(bufs) => serve_queue(qid, dev, &queue_store, bufs),
            None => log::error!("ublk queue {qid}: no buffers were allocated for it"),
        }
    };
    let on_started = move |ctrl: &UblkCtrl| {
        let bdev = ctrl.get_bdev_path();
        log::info!("serving {bdev}");
        ready(&bdev);
        std::thread::scope(|scope| {
            scope.spawn(|| control.run(&stop));
            // Overwrites and discards fragment the pool as they do under NBD.
            scope.spawn(|| crate::device::compact_while_running(&compactor, &stop));
            while !stop.wait_timeout(std::time::Duration::from_secs(3600)) {}
        });
        // Ends the queue threads: run_target then returns.
        if let Err(e) = ctrl.kill_dev() {
            log::error!("stopping {bdev}: {e}");
        }
    };
    ctrl.run_target(tgt_init, queue_fn, on_started)
        .map(|_| ())
        .map_err(|e| format!("ublk device: {e}"))
}

/// The device id asked of the kernel: N for a device named `ublkN` (so that the systemd
/// generator's `ublkN` is `/dev/ublkbN`), otherwise the first free one (-1).
fn device_id(name: &str) -> i32 {
    fixed_device_id(name)
        .and_then(|id| i32::try_from(id).ok())
        .unwrap_or(-1)
}

/// N for a device named `ublkN`, which gets kernel device N.
pub fn fixed_device_id(name: &str) -> Option<u32> {
    name.strip_prefix("ublk")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i32>().ok())
        .and_then(|n| u32::try_from(n).ok())
}

/// The kernel's parameter block for `params`.
fn kernel_params(params: &DeviceParams) -> libublk::sys::ublk_params {
    libublk::sys::ublk_params {
        types: params.types,
        basic: libublk::sys::ublk_param_basic {
            attrs: params.attrs,
            logical_bs_shift: params.logical_bs_shift,
            physical_bs_shift: params.physical_bs_shift,
            io_opt_shift: params.io_opt_shift,
            io_min_shift: params.io_min_shift,
            max_sectors: params.max_sectors,
            dev_sectors: params.dev_sectors,
            ..Default::default()
        },
        discard: libublk::sys::ublk_param_discard {
            discard_alignment: params.discard_alignment,
            discard_granularity: params.discard_granularity,
            max_discard_sectors: params.max_discard_sectors,
            max_write_zeroes_sectors: params.max_write_zeroes_sectors,
            max_discard_segments: params.max_discard_segments,
            ..Default::default()
        },
        ..Default::default()
    }
}

/// One queue's thread: its preallocated buffers, then requests until the device stops.
fn serve_queue(qid: u16, dev: &UblkDev, store: &BlockStore, mut bufs: Vec<IoBuf<u8>>) {
    let depth = usize::from(dev.dev_info.queue_depth);
    let bytes = usize::try_from(dev.dev_info.max_io_buf_bytes).unwrap_or(usize::MAX);
    if bufs.len() < depth || bufs.iter().any(|b| b.len() < bytes) {
        log::error!(
            "ublk queue {qid}: the kernel asks for depth {depth} × {bytes} bytes, more than was allocated"
        );
        return;
    }
    let queue = match UblkQueue::new(qid, dev)
        .and_then(|q| q.submit_fetch_commands_unified(BufDescList::Slices(Some(&bufs))))
    {
        Ok(q) => q,
        Err(e) => {
            log::error!("ublk queue {qid}: {e}");
            return;
        }
    };
    let handler = move |q: &UblkQueue, tag: u16, _io: &UblkIOCtx| {
        let iod = q.get_iod(tag);
        let desc = IoDesc {
            op_flags: iod.op_flags,
            nr_sectors: iod.nr_sectors,
            start_sector: iod.start_sector,
        };
        let Some(buf) = bufs.get_mut(usize::from(tag)) else {
            log::error!("ublk queue {qid}: tag {tag} has no buffer");
            return;
        };
        let result = serve_request(store, &desc, buf.as_mut_slice());
        if let Err(e) = q.complete_io_cmd_unified(
            tag,
            BufDesc::Slice(buf.as_slice()),
            Ok(UblkIORes::Result(result)),
        ) {
            log::error!("ublk queue {qid}: completing tag {tag}: {e}");
        }
    };
    queue.wait_and_handle_io(handler);
}

#[cfg(test)]
mod tests {
    use super::device_id;
    use crate::ublk::{io, params};
    use libublk::sys;

    #[test]
    fn our_constants_are_the_kernel_headers() {
        assert_eq!(io::UBLK_IO_OP_READ, sys::UBLK_IO_OP_READ);
        assert_eq!(io::UBLK_IO_OP_WRITE, sys::UBLK_IO_OP_WRITE);
        assert_eq!(io::UBLK_IO_OP_FLUSH, sys::UBLK_IO_OP_FLUSH);
        assert_eq!(io::UBLK_IO_OP_DISCARD, sys::UBLK_IO_OP_DISCARD);
        assert_eq!(io::UBLK_IO_OP_WRITE_SAME, sys::UBLK_IO_OP_WRITE_SAME);
        assert_eq!(io::UBLK_IO_OP_WRITE_ZEROES, sys::UBLK_IO_OP_WRITE_ZEROES);
        assert_eq!(io::UBLK_IO_F_FUA, sys::UBLK_IO_F_FUA);
        assert_eq!(io::UBLK_IO_F_NOUNMAP, sys::UBLK_IO_F_NOUNMAP);
        assert_eq!(
            params::UBLK_ATTR_VOLATILE_CACHE,
            sys::UBLK_ATTR_VOLATILE_CACHE
        );
        assert_eq!(params::UBLK_ATTR_FUA, sys::UBLK_ATTR_FUA);
        assert_eq!(params::UBLK_PARAM_TYPE_BASIC, sys::UBLK_PARAM_TYPE_BASIC);
        assert_eq!(
            params::UBLK_PARAM_TYPE_DISCARD,
            sys::UBLK_PARAM_TYPE_DISCARD
        );
        assert_eq!(
            u32::from(params::MAX_QUEUE_DEPTH),
            sys::UBLK_MAX_QUEUE_DEPTH
        );
        assert_eq!(u32::from(params::MAX_QUEUES), sys::UBLK_MAX_NR_QUEUES);
    }

    #[test]
    fn kernel_params_carry_every_field() {
        let p = params::device_params(1 << 30).unwrap_or_else(|e| unreachable!("{e}"));
        let k = super::kernel_params(&p);
        assert_eq!(k.types, p.types);
        assert_eq!(k.basic.attrs, p.attrs);
        assert_eq!(k.basic.logical_bs_shift, 12);
        assert_eq!(k.basic.physical_bs_shift, 12);
        assert_eq!(k.basic.max_sectors, p.max_sectors);
        assert_eq!(k.basic.dev_sectors, (1u64 << 30) / 512);
        assert_eq!(k.discard.discard_granularity, 4096);
        assert_eq!(k.discard.max_discard_sectors, p.max_discard_sectors);
        assert_eq!(
            k.discard.max_write_zeroes_sectors,
            p.max_write_zeroes_sectors
        );
        assert_eq!(k.discard.max_discard_segments, 1);
    }

    #[test]
    fn ublk_names_ask_for_their_number() {
        assert_eq!(device_id("ublk0"), 0);
        assert_eq!(device_id("ublk77"), 77);
        for other in ["trueno0", "ublk", "ublk-1", "ublk1x", "ublk99999999999"] {
            assert_eq!(device_id(other), -1, "{other}");
        }
    }
}
