//! The transmission phase of one connection.
//!
//! Several worker threads share the connection: each takes the read lock, reads one request (and a
//! write's payload), lets go, serves the request against the store, then takes the write lock and
//! sends the whole reply in one write. So requests are pipelined, replies go out in the order the
//! requests finish (out of order), and a request never waits on a hand-off between threads.
//!
//! A protocol violation (wrong magic, a write over the maximum payload) or a client that goes away
//! ends this connection only: the other workers finish the requests they hold, answer them if the
//! client still listens, and exit.

use std::io::{self, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::proto::*;
use super::stream::Stream;
use crate::store::{BlockStore, StoreError};

/// One request, its payload read.
#[derive(Debug)]
struct Request {
    flags: u16,
    kind: u16,
    cookie: u64,
    offset: u64,
    len: u32,
    payload: Vec<u8>,
}

/// A connection in the transmission phase.
pub struct Connection {
    reader: Mutex<BufReader<Stream>>,
    writer: Mutex<Stream>,
    control: Stream,
    closing: AtomicBool,
    structured: bool,
    store: Arc<BlockStore>,
}

impl Connection {
    /// Wraps a negotiated stream.
    pub fn new(stream: Stream, structured: bool, store: Arc<BlockStore>) -> io::Result<Self> {
        Ok(Self {
            reader: Mutex::new(BufReader::with_capacity(64 * 1024, stream.try_clone()?)),
            writer: Mutex::new(stream.try_clone()?),
            control: stream,
            closing: AtomicBool::new(false),
            structured,
            store,
        })
    }

    /// Serves the connection with `workers` threads until the client disconnects, breaks the
    /// protocol, or the server stops; returns when every request read has been answered.
    pub fn serve(self: &Arc<Self>, workers: usize) {
        std::thread::scope(|scope| {
            for _ in 0..workers.max(1) {
                scope.spawn(|| self.worker());
            }
        });
        let _ = self.control.shutdown(Shutdown::Both);
    }

    fn worker(&self) {
        // The read lock kept from the last request, when no other request was waiting: at queue
        // depth 1 one thread then reads, serves and answers every request in turn, and the other
        // workers sleep instead of being woken for each request only to wait in `read` again.
        let mut kept: Option<MutexGuard<'_, BufReader<Stream>>> = None;
        loop {
            let mut reader = match kept.take() {
                Some(guard) => guard,
                None => self.reader.lock().unwrap_or_else(PoisonError::into_inner),
            };
            if self.closing.load(Ordering::Acquire) {
                return;
            }
            let request = match read_request(&mut *reader) {
                Ok(Some(request)) => request,
                Ok(None) => {
                    self.closing.store(true, Ordering::Release);
                    return;
                }
                Err(e) => {
                    if e.kind() != io::ErrorKind::UnexpectedEof {
                        log::warn!("closing connection: {e}");
                    }
                    self.closing.store(true, Ordering::Release);
                    return;
                }
            };
            // Another request already waiting: hand the read side to the next worker now, so that
            // it is served while this one is.
            if more_pending(&reader) {
                drop(reader);
            } else {
                kept = Some(reader);
            }
            let reply = self.handle(&request);
            let sent = {
                let mut writer = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
                writer.write_all(&reply)
            };
            if let Err(e) = sent {
                log::debug!("client went away: {e}");
                self.closing.store(true, Ordering::Release);
                // Wake the worker waiting in read so that it sees the connection is over.
                let _ = self.control.shutdown(Shutdown::Both);
                return;
            }
        }
    }

    /// Stops reading new requests; those in flight are still answered.
    pub fn stop_reading(&self) {
        let _ = self.control.shutdown(Shutdown::Read);
    }

    /// Serves one request and returns the reply bytes.
    fn handle(&self, r: &Request) -> Vec<u8> {
        let allowed = match r.kind {
            CMD_READ => CMD_FLAG_FUA | CMD_FLAG_DF,
            CMD_WRITE | CMD_TRIM | CMD_FLUSH => CMD_FLAG_FUA,
            CMD_WRITE_ZEROES => CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO,
            other => return self.error(r, EINVAL, &format!("unknown command {other}")),
        };
        if r.flags & !allowed != 0 {
            return self.error(
                r,
                EINVAL,
                &format!("flags {:#x} are not valid for command {}", r.flags, r.kind),
            );
        }
        let len = u64::from(r.len);
        // FUA needs nothing more: a reply goes out only once the store holds the data.
        let result = match r.kind {
            CMD_READ => return self.read(r),
            CMD_WRITE => self.store.write(r.offset, &r.payload),
            CMD_TRIM => self.store.discard(r.offset, len),
            CMD_WRITE_ZEROES => self.store.write_zeroes(r.offset, len),
            _ => self.store.flush(),
        };
        match result {
            Ok(()) => simple_reply(r.cookie, 0),
            Err(e) => {
                // Writing past the end is ENOSPC by the protocol; trim past the end is EINVAL.
                let code = match (&e, r.kind) {
                    (StoreError::OutOfRange { .. }, CMD_WRITE | CMD_WRITE_ZEROES) => ENOSPC,
                    _ => errno_of(&e),
                };
                self.error(r, code, &e.to_string())
            }
        }
    }

    fn read(&self, r: &Request) -> Vec<u8> {
        if r.len > MAX_PAYLOAD {
            return self.error(
                r,
                EOVERFLOW,
                &format!(
                    "read of {} bytes is over the maximum payload of {MAX_PAYLOAD}",
                    r.len
                ),
            );
        }
        let len = r.len as usize;
        if self.structured && len == 0 {
            return structured_header(r.cookie, REPLY_TYPE_NONE, 0);
        }
        let header = if self.structured {
            STRUCTURED_REPLY_LEN + 8
        } else {
            SIMPLE_REPLY_LEN
        };
        let mut reply = vec![0u8; header + len];
        if let Err(e) = self.store.read(r.offset, &mut reply[header..]) {
            return self.error(r, errno_of(&e), &e.to_string());
        }
        let head = if self.structured {
            let mut h = structured_header(r.cookie, REPLY_TYPE_OFFSET_DATA, r.len + 8);
            h.put_u64(r.offset);
            h
        } else {
            simple_reply(r.cookie, 0)
        };
        reply[..header].copy_from_slice(&head);
        reply
    }

    /// An error reply: a structured error chunk with the message when structured replies were
    /// negotiated (required for reads, preferred for the rest), else a simple reply.
    fn error(&self, r: &Request, code: u32, message: &str) -> Vec<u8> {
        log::debug!(
            "request {} at {} len {}: {message}",
            r.kind,
            r.offset,
            r.len
        );
        if !self.structured {
            return simple_reply(r.cookie, code);
        }
        let message = &message.as_bytes()[..message.len().min(4096)];
        // The message is at most 4096 bytes, so both lengths fit.
        #[allow(clippy::cast_possible_truncation)]
        let mut reply = structured_header(r.cookie, REPLY_TYPE_ERROR, 6 + message.len() as u32);
        reply.put_u32(code);
        #[allow(clippy::cast_possible_truncation)]
        reply.put_u16(message.len() as u16);
        reply.extend_from_slice(message);
        reply
    }
}

fn errno_of(e: &StoreError) -> u32 {
    match e {
        StoreError::OutOfRange { .. } | StoreError::Config(_) => EINVAL,
        StoreError::NoSpace { .. } => ENOSPC,
        StoreError::Codec(_) | StoreError::Pool(_) => EIO,
    }
}

fn simple_reply(cookie: u64, error: u32) -> Vec<u8> {
    let mut reply = Vec::with_capacity(SIMPLE_REPLY_LEN);
    reply.put_u32(SIMPLE_REPLY_MAGIC);
    reply.put_u32(error);
    reply.put_u64(cookie);
    reply
}

fn structured_header(cookie: u64, kind: u16, len: u32) -> Vec<u8> {
    let mut reply = Vec::with_capacity(STRUCTURED_REPLY_LEN + 8);
    reply.put_u32(STRUCTURED_REPLY_MAGIC);
    reply.put_u16(REPLY_FLAG_DONE);
    reply.put_u16(kind);
    reply.put_u64(cookie);
    reply.put_u32(len);
    reply
}

/// Whether more request bytes are already here: in the reader's buffer or in the socket.
fn more_pending(reader: &BufReader<Stream>) -> bool {
    !reader.buffer().is_empty() || super::stop::readable_now(reader.get_ref().as_raw_fd())
}

/// Reads one request; `None` at a clean end (end of stream before a request, or `NBD_CMD_DISC`).
fn read_request<R: Read>(reader: &mut R) -> io::Result<Option<Request>> {
    let mut header = [0u8; REQUEST_LEN];
    if !read_or_eof(reader, &mut header)? {
        return Ok(None);
    }
    let mut c = Cursor::new(&header);
    let magic = c.u32().unwrap_or(0);
    if magic != REQUEST_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("request magic {magic:#x}, expected {REQUEST_MAGIC:#x}"),
        ));
    }
    let flags = c.u16().unwrap_or(0);
    let kind = c.u16().unwrap_or(0);
    let cookie = c.u64().unwrap_or(0);
    let offset = c.u64().unwrap_or(0);
    let len = c.u32().unwrap_or(0);
    if kind == CMD_DISC {
        return Ok(None);
    }
    let mut payload = Vec::new();
    if kind == CMD_WRITE {
        if len > MAX_PAYLOAD {
            // Skipping that many bytes would let one client tie up a worker; the protocol allows a
            // hard disconnect for a request over the advertised maximum.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("write of {len} bytes is over the maximum payload of {MAX_PAYLOAD}"),
            ));
        }
        payload = vec![0u8; len as usize];
        reader.read_exact(&mut payload)?;
    }
    Ok(Some(Request {
        flags,
        kind,
        cookie,
        offset,
        len,
        payload,
    }))
}

/// Fills `buf`; false when the stream ended before its first byte.
fn read_or_eof<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
