//! The transmission phase of one connection.
//!
//! One thread per connection reads, serves and answers. It reads as many bytes as the socket holds
//! into one reusable buffer, serves every complete request found there in turn (a write's payload
//! is compressed straight out of that buffer; a read decompresses straight into the reply buffer),
//! and sends all their replies with one write before it waits for more. At queue depth 1 a request
//! so costs one read and one write and never a hand-off between threads; at greater depths several
//! requests arrive in one read and their replies leave in one write, which is what the client's
//! side waits on. A large read (`DIRECT_READ` bytes or more) is read into a data buffer of its own,
//! reused and never zeroed again; the replies leave in one `writev` once two 128 KiB reads' data
//! has gathered (`BATCH_DATA`), or when nothing complete is left to serve, so that a client with
//! many large reads queued wakes once for two of them.
//!
//! With more than one worker per connection, the workers take turns at the reading side (the
//! reader lock): the one holding it leads, serving small requests in place as above, until it finds
//! a large one (`LARGE_REQUEST` bytes or more, read or write). It takes that one out (a write's
//! payload into a buffer of its own: the bytes already read are copied, the rest is read straight
//! into it), leaves the reader to the next worker, serves the request and sends its reply. So two
//! large requests are served at once, each by the thread that read it: nothing is handed over,
//! and nobody waits for a thread that is slow to wake (the leader takes the reader again if no
//! other worker has). Replies go out in the order requests finish (out of order), each batch whole
//! under the write lock.
//!
//! A protocol violation (wrong magic, a write over the maximum payload) or a client that goes away
//! ends this connection only: requests already read are served and answered if the client still
//! listens, and the threads exit.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::proto::*;
use super::stream::Stream;
use crate::store::{BlockStore, StoreError};

/// How long a connection thread polls for the next request before it sleeps in `read`.
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(50);

/// Bytes the input buffer holds: many queued requests, or one 128 KiB write with the next headers.
const INPUT_BUFFER: usize = 512 << 10;
/// Replies are sent once this many bytes have gathered, even with more requests waiting, so that the
/// client starts on them while the rest are served.
const FLUSH_AT: usize = 128 << 10;
/// Send buffer asked for: eight 128 KiB read replies and more.
const SEND_BUFFER: usize = 2 << 20;
/// Requests of at least this many bytes are served outside the reader lock, when there are several
/// workers.
const LARGE_REQUEST: u32 = 64 << 10;
/// Reads of at least this many bytes are read into a buffer of their own (see [`Replies`]).
const DIRECT_READ: usize = 64 << 10;
/// Replies are sent once large reads' data of this many bytes has gathered: two 128 KiB reads, so
/// that the client wakes once for both. Measured (128 KiB reads at qd8, daemon processor time per
/// request, two interleaved runs of 7 rounds): 46.5 us against 48.8 sending each large read at once,
/// and 47.7 with four reads per send.
const BATCH_DATA: usize = 256 << 10;
/// Most large reads answered in one send.
const MAX_DATA_CUTS: usize = 8;
/// Buffers bigger than this are not kept between requests (a rare 32 MiB write must not stay
/// resident).
const KEEP_BUFFER: usize = 1 << 20;

/// One request header.
#[derive(Debug, Clone, Copy)]
struct Header {
    flags: u16,
    kind: u16,
    cookie: u64,
    offset: u64,
    len: u32,
}

/// What the bytes at the front of the input buffer hold.
enum Parsed {
    /// A complete request, and the bytes it takes (header and payload).
    Request(Header, usize),
    /// An incomplete request that needs this many bytes in all.
    Incomplete(usize),
    /// `NBD_CMD_DISC`: the client is leaving.
    Disconnect,
}

/// The reading side of a connection, taken in turn by its workers.
struct Reader {
    input: Input,
    /// The stream has ended, broken the protocol or failed: workers exit once they have answered
    /// what they took.
    closed: bool,
}

/// A connection in the transmission phase.
pub struct Connection {
    stream: Stream,
    /// Serialises writes of whole reply batches, one worker's at a time.
    write_lock: Mutex<()>,
    /// Held by the worker that reads and parses requests (the leader).
    reader: Mutex<Reader>,
    /// Large requests being served outside the reader lock.
    serving: AtomicUsize,
    structured: bool,
    store: Arc<BlockStore>,
}

impl Connection {
    /// Wraps a negotiated stream.
    pub fn new(stream: Stream, structured: bool, store: Arc<BlockStore>) -> io::Result<Self> {
        if let Err(e) = stream.set_send_buffer(SEND_BUFFER) {
            log::debug!("cannot enlarge the send buffer: {e}");
        }
        Ok(Self {
            stream,
            write_lock: Mutex::new(()),
            reader: Mutex::new(Reader {
                input: Input::new(),
                closed: false,
            }),
            serving: AtomicUsize::new(0),
            structured,
            store,
        })
    }

    /// Serves the connection until the client disconnects, breaks the protocol, or the server
    /// stops; returns when every request read has been answered. `workers` threads serve it: this
    /// one and `workers - 1` more, taking turns at reading (see the module documentation).
    pub fn serve(self: &Arc<Self>, workers: usize) {
        let take_large = workers > 1;
        std::thread::scope(|scope| {
            for i in 1..workers {
                let spawned = std::thread::Builder::new()
                    .name(format!("nbd-worker-{i}"))
                    .spawn_scoped(scope, || self.work(take_large));
                if let Err(e) = spawned {
                    log::warn!("cannot start an NBD worker thread: {e}");
                }
            }
            self.work(take_large);
        });
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Stops reading new requests; those already read are still answered.
    pub fn stop_reading(&self) {
        let _ = self.stream.shutdown(Shutdown::Read);
    }

    /// A worker's loop: lead (read and serve small requests) until a large request turns up when
    /// `take_large`, then serve it outside the reader's lock and answer it; repeat until the
    /// connection ends.
    fn work(&self, take_large: bool) {
        let mut out = Replies::new();
        let mut payload = Payload::default();
        while let Some(header) = self.lead(take_large, &mut out, &mut payload) {
            self.serving.fetch_add(1, Ordering::Relaxed);
            self.serve_one(header, payload.bytes(), &mut out);
            self.serving.fetch_sub(1, Ordering::Relaxed);
            // A failed send shuts the stream: the leader sees the end, and so does this worker at
            // its next turn.
            self.send(&mut out);
            payload.trim();
        }
    }

    /// Reads and serves requests while holding the reader: small ones (all of them unless
    /// `take_large`) are served in place, their replies gathered and sent in batches. Returns a
    /// large request, its payload copied into `payload`, for the caller to serve once the reader is
    /// free for the next worker; `None` once the connection is over.
    fn lead(&self, take_large: bool, out: &mut Replies, payload: &mut Payload) -> Option<Header> {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = if reader.closed {
            None
        } else {
            self.read_requests(&mut reader.input, take_large, out, payload)
        };
        if taken.is_none() {
            reader.closed = true;
        }
        taken
    }

    /// The leader's loop over the input; see [`Connection::lead`].
    fn read_requests(
        &self,
        input: &mut Input,
        take_large: bool,
        out: &mut Replies,
        payload: &mut Payload,
    ) -> Option<Header> {
        loop {
            // Serve every complete request already here.
            let needed = loop {
                match parse(input.pending()) {
                    Ok(Parsed::Request(header, used)) => {
                        let body = input.pending().get(REQUEST_LEN..used).unwrap_or_default();
                        if take_large && is_large(&header) {
                            payload.set(body);
                            input.consume(used);
                            // Replies gathered so far go before this request is served.
                            return self.send(out).then_some(header);
                        }
                        self.serve_one(header, body, out);
                        input.consume(used);
                        if out.is_due() && !self.send(out) {
                            return None;
                        }
                    }
                    Ok(Parsed::Incomplete(needed)) => break needed,
                    Ok(Parsed::Disconnect) => {
                        self.send(out);
                        return None;
                    }
                    Err(e) => {
                        log::warn!("closing connection: {e}");
                        self.send(out);
                        return None;
                    }
                }
            };
            // Nothing complete is left: answer before waiting for more.
            if !self.send(out) {
                return None;
            }
            if take_large && let Some(header) = partial_large_write(input.pending()) {
                // Its payload is read straight into the worker's buffer: the bytes here now are the
                // only ones copied.
                let present = input.pending().get(REQUEST_LEN..).unwrap_or_default();
                payload.set(present);
                input.consume(REQUEST_LEN + present.len());
                return match payload.fill(&self.stream, header.len as usize) {
                    Ok(()) => Some(header),
                    Err(e) => {
                        log::debug!("closing connection in the middle of a write: {e}");
                        None
                    }
                };
            }
            // Poll before sleeping, unless another worker serves a large request (the client is
            // then busy with it, and polling would only take the processor that worker needs).
            // Polling in the middle of a large write's payload too pays now that its pages are
            // stored quickly: 128 KiB writes at qd8, two interleaved runs of 7 rounds, 21.8 us of
            // our processor time per request against 24.6 and 24.4 sleeping at once, 1.00x and
            // 1.03x nbdkit's IOPS against 0.92x and 0.93x (large reads: 46.0 against 46.7 us).
            let poll = self.serving.load(Ordering::Relaxed) == 0;
            match input.fill(&self.stream, needed, poll) {
                Ok(0) => {
                    if !input.pending().is_empty() {
                        log::debug!("client left in the middle of a request");
                    }
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    log::debug!("closing connection: {e}");
                    return None;
                }
            }
        }
    }

    /// Sends and empties `out`; false when the client has gone away.
    fn send(&self, out: &mut Replies) -> bool {
        if out.is_empty() {
            return true;
        }
        let sent = {
            let _turn = self
                .write_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            out.write_to(&self.stream)
        };
        out.clear();
        match sent {
            Ok(()) => true,
            Err(e) => {
                log::debug!("client went away: {e}");
                // Wake whoever waits in read, so that it sees the connection is over.
                let _ = self.stream.shutdown(Shutdown::Both);
                false
            }
        }
    }

    /// Serves one request and appends its reply to `out`.
    fn serve_one(&self, r: Header, payload: &[u8], replies: &mut Replies) {
        let allowed = match r.kind {
            CMD_READ => CMD_FLAG_FUA | CMD_FLAG_DF,
            CMD_WRITE | CMD_TRIM | CMD_FLUSH => CMD_FLAG_FUA,
            CMD_WRITE_ZEROES => CMD_FLAG_FUA | CMD_FLAG_NO_HOLE | CMD_FLAG_FAST_ZERO,
            other => {
                let message = format!("unknown command {other}");
                return self.error(r, EINVAL, &message, &mut replies.bytes);
            }
        };
        if r.flags & !allowed != 0 {
            return self.error(
                r,
                EINVAL,
                &format!("flags {:#x} are not valid for command {}", r.flags, r.kind),
                &mut replies.bytes,
            );
        }
        if r.kind == CMD_READ {
            return self.read(r, replies);
        }
        let out = &mut replies.bytes;
        let len = u64::from(r.len);
        // FUA needs nothing more: a reply goes out only once the store holds the data.
        let result = match r.kind {
            CMD_WRITE => self.store.write(r.offset, payload),
            CMD_TRIM => self.store.discard(r.offset, len),
            CMD_WRITE_ZEROES => self.store.write_zeroes(r.offset, len),
            _ => self.store.flush(),
        };
        match result {
            Ok(()) => simple_reply(out, r.cookie, 0),
            Err(e) => {
                // Writing past the end is ENOSPC by the protocol; trim past the end is EINVAL.
                let code = match (&e, r.kind) {
                    (StoreError::OutOfRange { .. }, CMD_WRITE | CMD_WRITE_ZEROES) => ENOSPC,
                    _ => errno_of(&e),
                };
                self.error(r, code, &e.to_string(), out);
            }
        }
    }

    fn read(&self, r: Header, replies: &mut Replies) {
        let out = &mut replies.bytes;
        if r.len > MAX_PAYLOAD {
            return self.error(
                r,
                EOVERFLOW,
                &format!(
                    "read of {} bytes is over the maximum payload of {MAX_PAYLOAD}",
                    r.len
                ),
                out,
            );
        }
        let len = r.len as usize;
        if self.structured && len == 0 {
            return structured_header(out, r.cookie, REPLY_TYPE_NONE, 0);
        }
        let start = out.len();
        if self.structured {
            structured_header(out, r.cookie, REPLY_TYPE_OFFSET_DATA, r.len + 8);
            out.put_u64(r.offset);
        } else {
            simple_reply(out, r.cookie, 0);
        }
        let result = if len >= DIRECT_READ {
            replies.read_into_data(len, |data| self.store.read(r.offset, data))
        } else {
            let data = out.len();
            out.resize(data + len, 0);
            self.store.read(r.offset, &mut out[data..])
        };
        if let Err(e) = result {
            let out = &mut replies.bytes;
            out.truncate(start);
            self.error(r, errno_of(&e), &e.to_string(), out);
        }
    }

    /// Appends an error reply: a structured error chunk with the message when structured replies
    /// were negotiated (required for reads, preferred for the rest), else a simple reply.
    fn error(&self, r: Header, code: u32, message: &str, out: &mut Vec<u8>) {
        log::debug!(
            "request {} at {} len {}: {message}",
            r.kind,
            r.offset,
            r.len
        );
        if !self.structured {
            return simple_reply(out, r.cookie, code);
        }
        let message = &message.as_bytes()[..message.len().min(4096)];
        // The message is at most 4096 bytes, so both lengths fit.
        #[allow(clippy::cast_possible_truncation)]
        structured_header(out, r.cookie, REPLY_TYPE_ERROR, 6 + message.len() as u32);
        out.put_u32(code);
        #[allow(clippy::cast_possible_truncation)]
        out.put_u16(message.len() as u16);
        out.extend_from_slice(message);
    }
}

/// Replies gathered for one send: their bytes, with the data of large reads between them. A large
/// read's data is read into a buffer of its own so that it is neither zeroed before each read nor
/// copied after (the replies leave in one `writev`, each large read's data after its header).
struct Replies {
    bytes: Vec<u8>,
    /// Reused between reads; only ever grown, so never zeroed again.
    data: Vec<u8>,
    /// Bytes of `data` in use.
    data_len: usize,
    /// Where each large read's data goes: after this many of `bytes`, this many of `data`.
    cuts: Vec<(usize, usize)>,
}

impl Replies {
    fn new() -> Self {
        Self {
            bytes: Vec::with_capacity(FLUSH_AT + SIMPLE_REPLY_LEN),
            data: Vec::new(),
            data_len: 0,
            cuts: Vec::with_capacity(MAX_DATA_CUTS),
        }
    }

    /// Whether the batch should be sent now rather than after the next request.
    fn is_due(&self) -> bool {
        self.data_len >= BATCH_DATA
            || self.cuts.len() >= MAX_DATA_CUTS
            || self.bytes.len() >= FLUSH_AT
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.data_len == 0
    }

    /// Fills `len` bytes of data, to follow the bytes gathered so far, with `fill`.
    fn read_into_data<E>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let end = self.data_len + len;
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        fill(&mut self.data[self.data_len..end])?;
        self.cuts.push((self.bytes.len(), len));
        self.data_len = end;
        Ok(())
    }

    /// Writes every reply whole, with as few `writev` calls as the socket allows: one per
    /// [`MAX_DATA_CUTS`] large reads, the replies after the last of them in the last one.
    fn write_to(&self, stream: &Stream) -> io::Result<()> {
        let (mut head, mut data) = (0, 0);
        let groups = self.cuts.chunks(MAX_DATA_CUTS);
        let last = groups.len().saturating_sub(1);
        for (g, group) in groups.enumerate() {
            let mut parts = [io::IoSlice::new(&[]); 2 * MAX_DATA_CUTS + 1];
            let mut count = 0;
            // A group has at most MAX_DATA_CUTS cuts: 2 parts each, and the tail, fit `parts`.
            for &(at, len) in group {
                parts[count] = io::IoSlice::new(self.bytes.get(head..at).unwrap_or_default());
                parts[count + 1] =
                    io::IoSlice::new(self.data.get(data..data + len).unwrap_or_default());
                count += 2;
                (head, data) = (at, data + len);
            }
            if g == last {
                parts[count] = io::IoSlice::new(self.bytes.get(head..).unwrap_or_default());
                count += 1;
            }
            write_all_vectored(stream, &mut parts[..count])?;
        }
        if self.cuts.is_empty() {
            write_all_vectored(stream, &mut [io::IoSlice::new(&self.bytes)])?;
        }
        Ok(())
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.data_len = 0;
        self.cuts.clear();
        if self.bytes.capacity() > KEEP_BUFFER {
            self.bytes.shrink_to(FLUSH_AT);
        }
        if self.data.len() > KEEP_BUFFER {
            self.data = Vec::new();
        }
    }
}

/// Writes `parts` whole, in as few `writev` calls as the socket allows.
fn write_all_vectored(mut stream: &Stream, mut parts: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    while !parts.is_empty() {
        match stream.write_vectored(parts) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the socket took no bytes of a reply",
                ));
            }
            Ok(n) => io::IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The connection thread's input: bytes read from the socket, of which `start..end` are not yet
/// consumed.
struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Input {
    fn new() -> Self {
        Self {
            buf: vec![0; INPUT_BUFFER],
            start: 0,
            end: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // A buffer grown for one huge write goes back to its usual size.
            if self.buf.len() > INPUT_BUFFER {
                self.buf.truncate(INPUT_BUFFER);
                self.buf.shrink_to_fit();
            }
        }
    }

    /// Reads once, waiting if nothing has arrived, with room for at least `needed` pending bytes;
    /// returns the bytes read (0 at the end of the stream).
    fn fill(&mut self, mut stream: &Stream, needed: usize, poll: bool) -> io::Result<usize> {
        if self.start + needed > self.buf.len() {
            // Move the partial request to the front, and grow for a request bigger than the buffer.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if needed > self.buf.len() {
                self.buf.resize(needed, 0);
            }
        }
        // Poll briefly before sleeping: a client at queue depth 1 sends its next request a few
        // microseconds after our reply, and waking a thread whose CPU went idle costs tens of
        // microseconds on a virtual machine, more than the request itself.
        let spin_until = Instant::now()
            + if poll {
                SPIN_BEFORE_SLEEP
            } else {
                Duration::ZERO
            };
        loop {
            match stream.read_now(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < spin_until => {
                    core::hint::spin_loop();
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        loop {
            match stream.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// The header at the front of `bytes`, unchecked; `None` until all of it has arrived.
fn decode_header(bytes: &[u8]) -> Option<(u32, Header)> {
    let mut c = Cursor::new(bytes.get(..REQUEST_LEN)?);
    let magic = c.u32()?;
    let header = Header {
        flags: c.u16()?,
        kind: c.u16()?,
        cookie: c.u64()?,
        offset: c.u64()?,
        len: c.u32()?,
    };
    Some((magic, header))
}

/// Reads the request at the front of `bytes`.
fn parse(bytes: &[u8]) -> io::Result<Parsed> {
    let Some((magic, header)) = decode_header(bytes) else {
        return Ok(Parsed::Incomplete(REQUEST_LEN));
    };
    if magic != REQUEST_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("request magic {magic:#x}, expected {REQUEST_MAGIC:#x}"),
        ));
    }
    if header.kind == CMD_DISC {
        return Ok(Parsed::Disconnect);
    }
    if header.kind != CMD_WRITE {
        return Ok(Parsed::Request(header, REQUEST_LEN));
    }
    if header.len > MAX_PAYLOAD {
        // Skipping that many bytes would let one client tie up a thread; the protocol allows a hard
        // disconnect for a request over the advertised maximum.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "write of {} bytes is over the maximum payload of {MAX_PAYLOAD}",
                header.len
            ),
        ));
    }
    let total = REQUEST_LEN + header.len as usize;
    if bytes.len() < total {
        return Ok(Parsed::Incomplete(total));
    }
    Ok(Parsed::Request(header, total))
}

/// Whether a worker takes this request out of the input to serve it beside the leader.
fn is_large(header: &Header) -> bool {
    matches!(header.kind, CMD_READ | CMD_WRITE) && header.len >= LARGE_REQUEST
}

/// The header of a large write at the front of `bytes` whose payload has not all arrived (`parse`
/// has accepted it: right magic, payload within the maximum).
fn partial_large_write(bytes: &[u8]) -> Option<Header> {
    let (magic, header) = decode_header(bytes)?;
    let whole = REQUEST_LEN + header.len as usize;
    (magic == REQUEST_MAGIC && header.kind == CMD_WRITE && is_large(&header) && bytes.len() < whole)
        .then_some(header)
}

/// A large request's payload, taken out of the input by the worker that serves it. The buffer is
/// reused and only ever grown (up to `KEEP_BUFFER`), so it is not zeroed before each request.
#[derive(Default)]
struct Payload {
    buf: Vec<u8>,
    len: usize,
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn room(&mut self, len: usize) {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
    }

    /// Makes the payload `bytes`.
    fn set(&mut self, bytes: &[u8]) {
        self.room(bytes.len());
        self.buf[..bytes.len()].copy_from_slice(bytes);
        self.len = bytes.len();
    }

    /// Reads from `stream` until the payload holds `total` bytes.
    fn fill(&mut self, mut stream: &Stream, total: usize) -> io::Result<()> {
        self.room(total);
        while self.len < total {
            match stream.read(&mut self.buf[self.len..total]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the client left {} bytes into a {total}-byte write",
                            self.len
                        ),
                    ));
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Empties the payload; a buffer grown for a rare huge write is not kept.
    fn trim(&mut self) {
        self.len = 0;
        if self.buf.len() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
    }
}

// The protocol's error values are Linux's errno values, so the store's own mapping
// ([`StoreError::errno`], which ublk answers with too) serves here; checked at compile time.
const _: () = assert!(
    libc::EINVAL as u32 == EINVAL && libc::ENOSPC as u32 == ENOSPC && libc::EIO as u32 == EIO
);

/// The protocol's error value for a store error.
fn errno_of(e: &StoreError) -> u32 {
    u32::try_from(e.errno()).unwrap_or(EIO)
}

fn simple_reply(out: &mut Vec<u8>, cookie: u64, error: u32) {
    out.put_u32(SIMPLE_REPLY_MAGIC);
    out.put_u32(error);
    out.put_u64(cookie);
}

fn structured_header(out: &mut Vec<u8>, cookie: u64, kind: u16, len: u32) {
    out.put_u32(STRUCTURED_REPLY_MAGIC);
    out.put_u16(REPLY_FLAG_DONE);
    out.put_u16(kind);
    out.put_u64(cookie);
    out.put_u32(len);
}
