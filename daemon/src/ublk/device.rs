//! The libublk glue: adds `/dev/ublkbN`, serves each queue's requests from the shared store on
//! its own thread through [`super::io::serve`], and removes the device when stopped (SIGINT,
//! SIGTERM or `trueno-ublk delete`, through the control socket).

use std::sync::Arc;

use libublk::ctrl::{UblkCtrl, UblkCtrlBuilder};
use libublk::io::{BufDescList, UblkDev, UblkIOCtx, UblkQueue};
use libublk::{BufDesc, UblkFlags, UblkIORes};

use super::io::{IoDesc, serve};
use super::params::{DeviceParams, IO_BUF_BYTES, QueueConfig, device_params};
use crate::control::{self, ControlServer};
use crate::nbd::StopSignal;
use crate::store::{BlockStore, StoreConfig};

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
pub fn run(
    config: &UblkConfig,
    ready: impl FnOnce(&str) + Send + Sync + 'static,
) -> Result<(), String> {
    control::check_name(&config.name)?;
    if config.swap {
        crate::swap::prepare_for_swap().map_err(|e| e.to_string())?;
    }
    let params = device_params(config.store.size)?;
    let store = Arc::new(BlockStore::new(config.store).map_err(|e| e.to_string())?);
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
        .dev_flags(dev_flags)
        .build()
        .map_err(|e| format!("cannot add the ublk device (is ublk_drv loaded?): {e}"))?;
    let stop = Arc::new(StopSignal::new().map_err(|e| e.to_string())?);
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let trigger = stop.trigger().map_err(|e| e.to_string())?;
        signal_hook::low_level::pipe::register(signal, trigger)
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    let size = config.store.size;
    let tgt_init = move |dev: &mut UblkDev| {
        dev.set_default_params(size);
        dev.tgt.params = kernel_params(&params);
        Ok(())
    };
    let queue_store = Arc::clone(&store);
    let queue_fn = move |qid: u16, dev: &UblkDev| serve_queue(qid, dev, &queue_store);
    let name = config.name.clone();
    let device_stop = Arc::clone(&stop);
    let on_started = move |ctrl: &UblkCtrl| {
        let bdev = ctrl.get_bdev_path();
        match ControlServer::bind(&name, "ublk", &bdev, Arc::clone(&store)) {
            Ok(control) => {
                log::info!("{name}: serving {bdev}");
                ready(&bdev);
                std::thread::scope(|scope| {
                    scope.spawn(|| control.run(&device_stop));
                    while !device_stop.wait_timeout(std::time::Duration::from_secs(3600)) {}
                });
            }
            Err(e) => log::error!("{name}: cannot create the control socket: {e}"),
        }
        // Ends the queue threads: run_target then returns.
        if let Err(e) = ctrl.kill_dev() {
            log::error!("{name}: stopping {bdev}: {e}");
        }
    };
    let served = ctrl
        .run_target(tgt_init, queue_fn, on_started)
        .map_err(|e| format!("ublk device: {e}"));
    let deleted = ctrl
        .del_dev()
        .map_err(|e| format!("cannot remove the ublk device: {e}"));
    // Last: `delete` returns when this file is gone, and by then the device is removed.
    let _ = std::fs::remove_file(control::control_path(&config.name));
    log::info!("{}: stopped", config.name);
    served.and(deleted).map(|_| ())
}

/// The device id asked of the kernel: N for a device named `ublkN` (so that the systemd
/// generator's `ublkN` is `/dev/ublkbN`), otherwise the first free one (-1).
fn device_id(name: &str) -> i32 {
    name.strip_prefix("ublk")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(-1)
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

/// One queue's thread: its buffers (allocated once, up front, so the I/O path allocates
/// nothing), then requests until the device stops.
fn serve_queue(qid: u16, dev: &UblkDev, store: &BlockStore) {
    let mut bufs = dev.alloc_queue_io_bufs();
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
        let result = serve(store, &desc, buf.as_mut_slice());
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
