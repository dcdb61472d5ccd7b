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
    connections: Arc<Mutex<Registry>>,
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
            connections: Arc::default(),
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
                connections: Arc::clone(&self.connections),
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
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop();
        for t in threads {
            let _ = t.join();
        }
        self.listener.remove_file();
        Ok(())
    }
}

/// The connections of a server, in one place behind one lock so that a stop reaches every one:
/// a connection registers under the same lock that the stop takes, and one that registers after
/// the stop learns of it there instead of serving on unseen (the server would wait for it for as
/// long as its client stays).
#[derive(Default)]
struct Registry {
    stopping: bool,
    /// Connections in the handshake: a second handle on each, to cut it.
    handshaking: HashMap<u64, Stream>,
    /// Connections in the transmission phase.
    serving: HashMap<u64, Arc<Connection>>,
}

impl Registry {
    /// Registers a connection entering the handshake, through a second handle on its stream;
    /// false when the server is stopping (the caller closes it). A stream that cannot be cloned
    /// goes unregistered: the handshake timeout still bounds it.
    fn begin_handshake(&mut self, id: u64, stream: &Stream) -> bool {
        if self.stopping {
            return false;
        }
        if let Ok(clone) = stream.try_clone() {
            self.handshaking.insert(id, clone);
        }
        true
    }

    fn end_handshake(&mut self, id: u64) {
        self.handshaking.remove(&id);
    }

    /// Registers a connection entering transmission; false when the server is stopping (the
    /// caller closes it instead of serving it).
    fn begin_serving(&mut self, id: u64, conn: &Arc<Connection>) -> bool {
        if self.stopping {
            return false;
        }
        self.serving.insert(id, Arc::clone(conn));
        true
    }

    fn end_serving(&mut self, id: u64) {
        self.serving.remove(&id);
    }

    /// Cuts every handshake and stops every connection reading; later registrations are refused.
    fn stop(&mut self) {
        self.stopping = true;
        for stream in self.handshaking.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        for conn in self.serving.values() {
            conn.stop_reading();
        }
    }
}

/// What a connection thread needs.
struct ConnectionContext {
    id: u64,
    export: ExportInfo,
    store: Arc<BlockStore>,
    workers: usize,
    connections: Arc<Mutex<Registry>>,
}

impl ConnectionContext {
    fn run(self, mut stream: Stream) {
        // Until the handshake ends, a server stop must be able to cut the connection.
        if !self.registry().begin_handshake(self.id, &stream) {
            return;
        }
        // A client that connects and then says nothing must not hold a thread for ever.
        let _ = stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT));
        let outcome = handshake::negotiate(&mut stream, &self.export);
        let _ = stream.set_read_timeout(None);
        self.registry().end_handshake(self.id);
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
        if !self.registry().begin_serving(self.id, &conn) {
            return;
        }
        conn.serve(self.workers);
        self.registry().end_serving(self.id);
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreConfig, parse_algorithm};
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    fn connection(stream: UnixStream) -> Arc<Connection> {
        let store = BlockStore::new(StoreConfig {
            size: 1 << 20,
            algorithm: parse_algorithm("lz4").unwrap_or_else(|e| unreachable!("{e}")),
            mem_limit: None,
        })
        .unwrap_or_else(|e| unreachable!("{e}"));
        Arc::new(
            Connection::new(Stream::Unix(stream), false, Arc::new(store))
                .unwrap_or_else(|e| unreachable!("{e}")),
        )
    }

    fn pair() -> (UnixStream, UnixStream) {
        UnixStream::pair().unwrap_or_else(|e| unreachable!("{e}"))
    }

    /// Reads from the client's end: 0 bytes once the server side has shut its direction down.
    fn client_sees_end(client: &mut UnixStream) -> bool {
        client
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap_or_else(|e| unreachable!("{e}"));
        matches!(client.read(&mut [0u8; 1]), Ok(0))
    }

    #[test]
    fn a_stop_cuts_handshakes_and_refuses_later_registrations() {
        let mut registry = Registry::default();
        let (server, mut client) = pair();
        let server = Stream::Unix(server);
        assert!(registry.begin_handshake(1, &server));
        registry.stop();
        assert!(client_sees_end(&mut client), "the handshake was not cut");

        // A connection that finishes its handshake (or starts one) after the stop is refused, not
        // served unseen by a server that waits for every connection to end.
        registry.end_handshake(1);
        let (late, _late_client) = pair();
        assert!(!registry.begin_handshake(2, &Stream::Unix(late)));
        let (late, _late_client) = pair();
        assert!(!registry.begin_serving(1, &connection(late)));
        assert!(registry.handshaking.is_empty() && registry.serving.is_empty());
    }

    #[test]
    fn a_stop_ends_the_reading_of_serving_connections() {
        let mut registry = Registry::default();
        let (server, _client) = pair();
        let conn = connection(server);
        assert!(registry.begin_serving(1, &conn));
        registry.stop();
        // The client is still connected and silent: only the stop can end the serving loop.
        let (done, finished) = std::sync::mpsc::channel();
        let serving = Arc::clone(&conn);
        std::thread::spawn(move || {
            serving.serve(1);
            let _ = done.send(());
        });
        assert!(
            finished
                .recv_timeout(std::time::Duration::from_secs(10))
                .is_ok(),
            "the connection kept reading after the stop"
        );
        registry.end_serving(1);
        assert!(registry.serving.is_empty());
    }
}
