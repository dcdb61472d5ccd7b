//! What a daemon behind a swap device needs so that it never waits on the memory it is freeing:
//! all of its memory locked (no page of the daemon is itself swapped out), and the kernel told that
//! it is an I/O flusher (its allocations do not recurse into reclaim through the device).

use std::io;

/// `PR_SET_IO_FLUSHER` (Linux 5.6): not in the libc crate for Linux targets yet.
const PR_SET_IO_FLUSHER: libc::c_int = 57;

/// Locks the process's memory, present and future, and marks it as an I/O flusher.
pub fn prepare_for_swap() -> io::Result<()> {
    // SAFETY: mlockall takes only flags and changes no memory the program can see.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "mlockall: {e} (a swap daemon must lock its memory; raise RLIMIT_MEMLOCK or run as root)"
            ),
        ));
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
        // Kernels before 5.6 lack it: locked memory still avoids the worst, so say so and go on.
        log::warn!("PR_SET_IO_FLUSHER: {}", io::Error::last_os_error());
    }
    Ok(())
}
