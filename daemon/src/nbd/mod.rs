//! Our NBD server, written from the NBD protocol document: fixed newstyle handshake
//! ([`handshake`]), then pipelined requests with out-of-order replies ([`transmission`]), many
//! connections at once, each on its own threads so that one client's faults never reach another.

pub mod handshake;
pub mod proto;
pub mod stop;
pub mod stream;
pub mod transmission;

use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, PoisonError};

pub use handshake::ExportInfo;
pub use stop::StopSignal;
pub use stream::{Endpoint, Listener, Stream};

use crate::store::BlockStore;
use transmission::Connection;

/// Threads per connection, taking turns at reading (see [`transmission`]). One by default: on two
/// busy cores, a second worker cost more than it gained (128 KiB requests at qd8: 85 and 99 us of
/// processor time per read and write against 50 and 72 with one; wake-ups at every turn, and pages
/// stored uncompressed all meeting on one size class's lock).
pub const DEFAULT_WORKERS: usize = 1;

/// Longest wait for a client's next handshake message.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// An NBD server for one export.
pub struct NbdServer {
    listener: Listener,
    export: ExportInfo,
    store: Arc<BlockStore>,
    workers: usize,
    live: Arc<Mutex<HashMap<u64, Arc<Connection>>>>,
    pending: Arc<Mutex<HashMap<u64, Stream>>>,
}

impl NbdServer {
    /// Binds `endpoint` and exports `store` under `name`.
    pub fn bind(endpoint: &Endpoint, name: &str, store: Arc<BlockStore>) -> io::Result<Self> {
        let listener = Listener::bind(endpoint)?;
        Ok(Self {
            listener,
            export: ExportInfo {
                name: name.to_owned(),
                description: format!(
                    "trueno-zram compressed RAM disk ({})",
                    crate::store::algorithm_name(store.algorithm())
                ),
                size: store.size(),
            },
            store,
            workers: DEFAULT_WORKERS,
            live: Arc::default(),
            pending: Arc::default(),
        })
    }

    /// Sets the worker threads per connection.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Where the server listens.
    pub fn endpoint(&self) -> io::Result<Endpoint> {
        self.listener.endpoint()
    }

    /// Accepts and serves clients until `stop` fires; then stops reading requests, answers the ones
    /// in flight, waits for every connection to end and removes the socket file.
    pub fn run(self, stop: &StopSignal) -> io::Result<()> {
        self.listener.set_nonblocking(true)?;
        let mut threads = Vec::new();
        let mut next_id = 0u64;
        loop {
            if !stop.wait_readable(self.listener.as_raw_fd())? {
                break;
            }
            let stream = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => {
                    log::warn!("accept: {e}");
                    continue;
                }
            };
            next_id += 1;
            let id = next_id;
            let ctx = ConnectionContext {
                id,
                export: self.export.clone(),
                store: Arc::clone(&self.store),
                workers: self.workers,
                live: Arc::clone(&self.live),
                pending: Arc::clone(&self.pending),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("nbd-conn-{id}"))
                .spawn(move || ctx.run(stream));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => log::warn!("cannot start a connection thread: {e}"),
            }
            threads.retain(|t| !t.is_finished());
        }
        // Stop taking requests everywhere; requests already read are still answered.
        for stream in self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        for conn in self
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            conn.stop_reading();
        }
        for t in threads {
            let _ = t.join();
        }
        self.listener.remove_file();
        Ok(())
    }
}

/// What a connection thread needs.
struct ConnectionContext {
    id: u64,
    export: ExportInfo,
    store: Arc<BlockStore>,
    workers: usize,
    live: Arc<Mutex<HashMap<u64, Arc<Connection>>>>,
    pending: Arc<Mutex<HashMap<u64, Stream>>>,
}

impl ConnectionContext {
    fn run(self, mut stream: Stream) {
        // Until the handshake ends, a server stop must be able to cut the connection.
        if let Ok(clone) = stream.try_clone() {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(self.id, clone);
        }
        // A client that connects and then says nothing must not hold a thread for ever.
        let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
        let outcome = handshake::negotiate(&mut stream, &self.export);
        let _ = stream.set_read_timeout(None);
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        let structured = match outcome {
            Ok(handshake::Outcome::Transmission { structured }) => structured,
            Ok(handshake::Outcome::Close) => return,
            Err(e) => {
                log::debug!("connection {}: handshake ended: {e}", self.id);
                return;
            }
        };
        let conn = match Connection::new(stream, structured, Arc::clone(&self.store)) {
            Ok(c) => Arc::new(c),
            Err(e) => {
                log::warn!("connection {}: {e}", self.id);
                return;
            }
        };
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(self.id, Arc::clone(&conn));
        conn.serve(self.workers);
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}
