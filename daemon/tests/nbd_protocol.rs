//! The NBD server against a raw client written here: option haggling answers, pipelined requests,
//! and the requests a careless or hostile client sends, which must get the protocol's error or a
//! clean disconnect of that client only, never a crash and never harm to the other connections.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use trueno_ublk::nbd::proto::*;
use trueno_ublk::nbd::{Endpoint, NbdServer, StopSignal};
use trueno_ublk::store::{BlockStore, DEFAULT_ALGORITHM, StoreConfig, parse_algorithm};

const SIZE: u64 = 16 << 20;

struct Server {
    path: PathBuf,
    stop: Arc<StopSignal>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(test: &str, mem_limit: Option<u64>) -> Self {
        Self::start_with_workers(test, mem_limit, 1)
    }

    fn start_with_workers(test: &str, mem_limit: Option<u64>, workers: usize) -> Self {
        let path =
            std::env::temp_dir().join(format!("trueno-proto-{}-{test}.sock", std::process::id()));
        let store = BlockStore::new(StoreConfig {
            size: SIZE,
            algorithm: parse_algorithm(DEFAULT_ALGORITHM).unwrap(),
            mem_limit,
        })
        .unwrap();
        let server = NbdServer::bind(&Endpoint::Unix(path.clone()), "dev", Arc::new(store))
            .unwrap()
            .workers(workers);
        let stop = Arc::new(StopSignal::new().unwrap());
        let s = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run(&s).unwrap());
        Self {
            path,
            stop,
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.stop.fire();
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        assert!(!self.path.exists(), "socket file left behind");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.fire();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Client {
    s: UnixStream,
    structured: bool,
}

#[derive(Debug)]
struct Reply {
    cookie: u64,
    error: u32,
    data: Vec<u8>,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b.try_into().unwrap())
}
fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().unwrap())
}

impl Client {
    /// Connects and reads the greeting; returns before any option.
    fn greet(path: &PathBuf) -> Self {
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut g = [0u8; 18];
        s.read_exact(&mut g).unwrap();
        assert_eq!(be64(&g[..8]), NBDMAGIC);
        assert_eq!(be64(&g[8..16]), IHAVEOPT);
        assert_eq!(
            u16::from_be_bytes([g[16], g[17]]),
            FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES
        );
        s.write_all(&(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES).to_be_bytes())
            .unwrap();
        Self {
            s,
            structured: false,
        }
    }

    fn option(&mut self, option: u32, data: &[u8]) {
        let mut m = Vec::new();
        m.extend_from_slice(&IHAVEOPT.to_be_bytes());
        m.extend_from_slice(&option.to_be_bytes());
        m.extend_from_slice(&(data.len() as u32).to_be_bytes());
        m.extend_from_slice(data);
        self.s.write_all(&m).unwrap();
    }

    /// One option reply: (reply type, data).
    fn option_reply(&mut self, option: u32) -> (u32, Vec<u8>) {
        let mut h = [0u8; 20];
        self.s.read_exact(&mut h).unwrap();
        assert_eq!(be64(&h[..8]), OPTION_REPLY_MAGIC);
        assert_eq!(be32(&h[8..12]), option);
        let mut data = vec![0u8; be32(&h[16..20]) as usize];
        self.s.read_exact(&mut data).unwrap();
        (be32(&h[12..16]), data)
    }

    fn go_data(name: &str, requests: &[u16]) -> Vec<u8> {
        let mut d = (name.len() as u32).to_be_bytes().to_vec();
        d.extend_from_slice(name.as_bytes());
        d.extend_from_slice(&(requests.len() as u16).to_be_bytes());
        for r in requests {
            d.extend_from_slice(&r.to_be_bytes());
        }
        d
    }

    /// A connection in transmission, through NBD_OPT_GO.
    fn connect(path: &PathBuf, structured: bool) -> Self {
        let mut c = Self::greet(path);
        if structured {
            c.option(OPT_STRUCTURED_REPLY, &[]);
            assert_eq!(c.option_reply(OPT_STRUCTURED_REPLY).0, REP_ACK);
            c.structured = true;
        }
        c.option(OPT_GO, &Self::go_data("dev", &[INFO_BLOCK_SIZE]));
        loop {
            let (kind, _) = c.option_reply(OPT_GO);
            if kind == REP_ACK {
                return c;
            }
            assert_eq!(kind, REP_INFO);
        }
    }

    fn send(&mut self, kind: u16, flags: u16, cookie: u64, offset: u64, len: u32, payload: &[u8]) {
        let m = request(kind, flags, cookie, offset, len, payload);
        self.s.write_all(&m).unwrap();
    }

    /// One reply; `read_len` is the length of the read it answers (simple replies carry no length).
    fn recv(&mut self, read_len: impl Fn(u64) -> usize) -> Reply {
        let mut magic = [0u8; 4];
        self.s.read_exact(&mut magic).unwrap();
        match be32(&magic) {
            SIMPLE_REPLY_MAGIC => {
                let mut h = [0u8; 12];
                self.s.read_exact(&mut h).unwrap();
                let (error, cookie) = (be32(&h[..4]), be64(&h[4..]));
                let mut data = vec![0u8; if error == 0 { read_len(cookie) } else { 0 }];
                self.s.read_exact(&mut data).unwrap();
                Reply {
                    cookie,
                    error,
                    data,
                }
            }
            STRUCTURED_REPLY_MAGIC => {
                let mut h = [0u8; 16];
                self.s.read_exact(&mut h).unwrap();
                let flags = u16::from_be_bytes([h[0], h[1]]);
                let kind = u16::from_be_bytes([h[2], h[3]]);
                let cookie = be64(&h[4..12]);
                let mut payload = vec![0u8; be32(&h[12..16]) as usize];
                self.s.read_exact(&mut payload).unwrap();
                assert_eq!(flags, REPLY_FLAG_DONE, "one chunk per reply");
                match kind {
                    REPLY_TYPE_OFFSET_DATA => Reply {
                        cookie,
                        error: 0,
                        data: payload[8..].to_vec(),
                    },
                    REPLY_TYPE_NONE => Reply {
                        cookie,
                        error: 0,
                        data: Vec::new(),
                    },
                    REPLY_TYPE_ERROR => Reply {
                        cookie,
                        error: be32(&payload[..4]),
                        data: Vec::new(),
                    },
                    other => panic!("unexpected chunk type {other}"),
                }
            }
            other => panic!("bad reply magic {other:#x}"),
        }
    }

    fn write(&mut self, cookie: u64, offset: u64, data: &[u8]) -> u32 {
        self.send(CMD_WRITE, 0, cookie, offset, data.len() as u32, data);
        let r = self.recv(|_| 0);
        assert_eq!(r.cookie, cookie);
        r.error
    }

    fn read(&mut self, cookie: u64, offset: u64, len: u32) -> Reply {
        self.send(CMD_READ, 0, cookie, offset, len, &[]);
        let r = self.recv(|_| len as usize);
        assert_eq!(r.cookie, cookie);
        r
    }

    /// True when the server has closed the connection.
    fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.s.read(&mut b), Ok(0) | Err(_))
    }
}

#[test]
fn option_haggling_answers_every_option() {
    let mut server = Server::start("options", None);
    let mut c = Client::greet(&server.path);
    c.option(OPT_LIST, &[]);
    let (kind, data) = c.option_reply(OPT_LIST);
    assert_eq!(kind, REP_SERVER);
    assert_eq!(be32(&data[..4]), 3);
    assert_eq!(&data[4..7], b"dev");
    assert_eq!(c.option_reply(OPT_LIST).0, REP_ACK);
    c.option(OPT_LIST, b"x");
    assert_eq!(c.option_reply(OPT_LIST).0, REP_ERR_INVALID);
    c.option(OPT_STRUCTURED_REPLY, b"x");
    assert_eq!(c.option_reply(OPT_STRUCTURED_REPLY).0, REP_ERR_INVALID);
    c.option(99, b"whatever");
    assert_eq!(c.option_reply(99).0, REP_ERR_UNSUP);
    c.option(OPT_INFO, &Client::go_data("nope", &[]));
    assert_eq!(c.option_reply(OPT_INFO).0, REP_ERR_UNKNOWN);
    c.option(OPT_INFO, &[0, 0, 0, 9, b'a']);
    assert_eq!(c.option_reply(OPT_INFO).0, REP_ERR_INVALID);
    // INFO on the default export: size and flags, block sizes, the name asked for, then ACK.
    c.option(
        OPT_INFO,
        &Client::go_data("", &[INFO_NAME, INFO_BLOCK_SIZE]),
    );
    let mut seen = Vec::new();
    loop {
        let (kind, data) = c.option_reply(OPT_INFO);
        if kind == REP_ACK {
            break;
        }
        assert_eq!(kind, REP_INFO);
        let info = u16::from_be_bytes([data[0], data[1]]);
        match info {
            INFO_EXPORT => {
                assert_eq!(be64(&data[2..10]), SIZE);
                assert_eq!(u16::from_be_bytes([data[10], data[11]]), TRANSMISSION_FLAGS);
            }
            INFO_BLOCK_SIZE => {
                assert_eq!(be32(&data[2..6]), 1);
                assert_eq!(be32(&data[6..10]), 4096);
                assert_eq!(be32(&data[10..14]), MAX_PAYLOAD);
            }
            INFO_NAME => assert_eq!(&data[2..], b"dev"),
            other => panic!("unexpected info {other}"),
        }
        seen.push(info);
    }
    seen.sort_unstable();
    assert_eq!(seen, vec![INFO_EXPORT, INFO_NAME, INFO_BLOCK_SIZE]);
    // EXPORT_NAME (NO_ZEROES negotiated): size and flags, then transmission.
    c.option(OPT_EXPORT_NAME, b"dev");
    let mut h = [0u8; 10];
    c.s.read_exact(&mut h).unwrap();
    assert_eq!(be64(&h[..8]), SIZE);
    assert_eq!(c.write(1, 0, &[7u8; 4096]), 0);
    assert_eq!(c.read(2, 0, 4096).data, vec![7u8; 4096]);

    // ABORT: ACK, then the server closes.
    let mut a = Client::greet(&server.path);
    a.option(OPT_ABORT, &[]);
    assert_eq!(a.option_reply(OPT_ABORT).0, REP_ACK);
    assert!(a.is_closed());
    // EXPORT_NAME of an export we do not have: disconnect.
    let mut e = Client::greet(&server.path);
    e.option(OPT_EXPORT_NAME, b"other");
    assert!(e.is_closed());
    server.stop();
}

#[test]
fn pipelined_requests_are_all_answered_by_cookie() {
    let mut server = Server::start("pipeline", None);
    for structured in [false, true] {
        let mut c = Client::connect(&server.path, structured);
        let n = 128u64;
        // Every write, then every read, sent before reading any reply.
        let mut batch = Vec::new();
        for i in 0..n {
            let data = vec![(i as u8).wrapping_mul(37) | 1; 4096 + (i as usize % 3) * 100];
            batch.push((i, data));
        }
        for (i, data) in &batch {
            c.send(
                CMD_WRITE,
                CMD_FLAG_FUA,
                *i,
                i * 8192,
                data.len() as u32,
                data,
            );
        }
        let mut replies: Vec<Reply> = (0..n).map(|_| c.recv(|_| 0)).collect();
        replies.sort_by_key(|r| r.cookie);
        assert!(
            replies
                .iter()
                .enumerate()
                .all(|(i, r)| r.cookie == i as u64 && r.error == 0)
        );
        for (i, data) in &batch {
            c.send(CMD_READ, 0, 1000 + i, i * 8192, data.len() as u32, &[]);
        }
        let lens: std::collections::HashMap<u64, usize> =
            batch.iter().map(|(i, d)| (1000 + i, d.len())).collect();
        for _ in 0..n {
            let r = c.recv(|cookie| lens[&cookie]);
            assert_eq!(r.error, 0);
            assert_eq!(
                r.data,
                batch[(r.cookie - 1000) as usize].1,
                "read {}",
                r.cookie
            );
        }
        c.send(CMD_DISC, 0, 0, 0, 0, &[]);
        assert!(c.is_closed());
    }
    server.stop();
}

#[test]
fn large_reads_between_small_requests_keep_their_order_on_one_thread() {
    // A large read's data is sent from a buffer of its own right after its header: replies
    // gathered before it must go first, those of later requests after it, and a failed large
    // read must leave only its error. Several large reads share a send (up to 256 KiB of data):
    // each one's data must follow its own header.
    let mut server = Server::start("large-reads", None);
    for structured in [false, true] {
        let mut c = Client::connect(&server.path, structured);
        // No period that divides a page: data read from a wrong offset must differ.
        let big: Vec<u8> = (0..128u32 << 10)
            .map(|j| (j.wrapping_mul(2_654_435_761) >> 16) as u8)
            .collect();
        assert_eq!(c.write(1, 1 << 20, &big), 0);
        assert_eq!(c.write(2, 0, &[7u8; 4096]), 0);
        // Pipelined: small, large, small, large past the end, large, small, large, large, small.
        let requests: [(u64, u64, u32); 9] = [
            (10, 0, 4096),
            (11, 1 << 20, 128 << 10),
            (12, 0, 100),
            (13, SIZE - (64 << 10), 128 << 10),
            (14, (1 << 20) + 4096, 96 << 10),
            (15, 2048, 4096),
            (16, (1 << 20) + 8192, 120 << 10),
            (17, 1 << 20, 128 << 10),
            (18, 0, 100),
        ];
        // In one write, so that the server finds them all at once and batches their replies.
        let all: Vec<u8> = requests
            .iter()
            .flat_map(|&(cookie, offset, len)| request(CMD_READ, 0, cookie, offset, len, &[]))
            .collect();
        c.s.write_all(&all).unwrap();
        let lens: std::collections::HashMap<u64, usize> = requests
            .iter()
            .map(|&(cookie, _, len)| (cookie, if cookie == 13 { 0 } else { len as usize }))
            .collect();
        let mut expected: std::collections::HashMap<u64, Vec<u8>> = Default::default();
        expected.insert(10, vec![7u8; 4096]);
        expected.insert(11, big.clone());
        expected.insert(12, vec![7u8; 100]);
        expected.insert(14, big[4096..4096 + (96 << 10)].to_vec());
        let mut small = vec![7u8; 2048];
        small.extend_from_slice(&[0u8; 2048]);
        expected.insert(15, small);
        expected.insert(16, big[8192..].to_vec());
        expected.insert(17, big.clone());
        expected.insert(18, vec![7u8; 100]);
        for _ in 0..requests.len() {
            let r = c.recv(|cookie| lens[&cookie]);
            if r.cookie == 13 {
                assert_eq!(r.error, EINVAL, "read past the end");
            } else {
                assert_eq!(r.error, 0, "read {}", r.cookie);
                assert_eq!(r.data, expected[&r.cookie], "read {}", r.cookie);
            }
        }
        c.send(CMD_DISC, 0, 0, 0, 0, &[]);
        assert!(c.is_closed());
    }
    server.stop();
}

#[test]
fn large_requests_on_helper_threads_are_answered() {
    // With several workers, requests of 64 KiB and more are served beside the reading worker and
    // answered as they finish; small ones in between are served by the reading worker.
    let mut server = Server::start_with_workers("helpers", None, 3);
    let mut c = Client::connect(&server.path, true);
    let n = 24u64;
    let data = |i: u64| -> Vec<u8> {
        let len = if i % 3 == 2 { 4096 } else { 128 << 10 };
        (0..len)
            .map(|j| (j as u64 * 7 + i * 13) as u8 | 1)
            .collect()
    };
    for i in 0..n {
        let d = data(i);
        c.send(CMD_WRITE, 0, i, i * (256 << 10), d.len() as u32, &d);
    }
    let mut cookies: Vec<u64> = (0..n)
        .map(|_| c.recv(|_| 0))
        .map(|r| {
            assert_eq!(r.error, 0);
            r.cookie
        })
        .collect();
    cookies.sort_unstable();
    assert_eq!(cookies, (0..n).collect::<Vec<_>>());
    for i in 0..n {
        c.send(
            CMD_READ,
            0,
            100 + i,
            i * (256 << 10),
            data(i).len() as u32,
            &[],
        );
    }
    for _ in 0..n {
        let r = c.recv(|cookie| data(cookie - 100).len());
        assert_eq!(r.error, 0);
        assert_eq!(r.data, data(r.cookie - 100), "read {}", r.cookie);
    }
    c.send(CMD_DISC, 0, 0, 0, 0, &[]);
    assert!(c.is_closed());
    server.stop();
}

#[test]
fn large_writes_arriving_in_pieces_are_served_whole_by_workers() {
    // With several workers, a large write whose payload has not all arrived is read straight into
    // the buffer of the worker that takes it; a client leaving in the middle of one must not stop
    // the others.
    let mut server = Server::start_with_workers("pieces", None, 2);
    let mut c = Client::connect(&server.path, false);
    let data: Vec<u8> = (0..128u32 << 10).map(|j| (j * 29 + 3) as u8).collect();
    let mut header = Vec::new();
    header.extend_from_slice(&REQUEST_MAGIC.to_be_bytes());
    header.extend_from_slice(&0u16.to_be_bytes());
    header.extend_from_slice(&CMD_WRITE.to_be_bytes());
    header.extend_from_slice(&7u64.to_be_bytes());
    header.extend_from_slice(&(1u64 << 20).to_be_bytes());
    header.extend_from_slice(&(data.len() as u32).to_be_bytes());
    c.s.write_all(&header).unwrap();
    for piece in data.chunks(20000) {
        std::thread::sleep(Duration::from_millis(5));
        c.s.write_all(piece).unwrap();
    }
    let r = c.recv(|_| 0);
    assert_eq!((r.cookie, r.error), (7, 0));
    assert_eq!(c.read(8, 1 << 20, data.len() as u32).data, data);

    let mut leaver = Client::connect(&server.path, false);
    leaver.s.write_all(&header).unwrap();
    leaver.s.write_all(&data[..5000]).unwrap();
    drop(leaver);
    assert_eq!(c.write(9, 4096, &data[..4096]), 0);
    assert_eq!(c.read(10, 4096, 4096).data, data[..4096]);
    c.send(CMD_DISC, 0, 0, 0, 0, &[]);
    assert!(c.is_closed());
    server.stop();
}

#[test]
fn bad_requests_get_errors_or_a_disconnect_and_spare_other_clients() {
    let mut server = Server::start("bad", None);
    let mut good = Client::connect(&server.path, false);
    assert_eq!(good.write(1, 4096, &[9u8; 4096]), 0);

    for structured in [false, true] {
        let mut bad = Client::connect(&server.path, structured);
        assert_eq!(
            bad.read(1, SIZE - 10, 20).error,
            EINVAL,
            "read past the end"
        );
        assert_eq!(
            bad.write(2, SIZE - 10, &[1u8; 20]),
            ENOSPC,
            "write past the end"
        );
        bad.send(CMD_TRIM, 0, 3, SIZE, 4096, &[]);
        assert_eq!(bad.recv(|_| 0).error, EINVAL, "trim past the end");
        bad.send(CMD_WRITE_ZEROES, 0, 4, u64::MAX - 10, 4096, &[]);
        assert_eq!(
            bad.recv(|_| 0).error,
            ENOSPC,
            "write-zeroes wrapping around"
        );
        bad.send(42, 0, 5, 0, 0, &[]);
        assert_eq!(bad.recv(|_| 0).error, EINVAL, "unknown command");
        bad.send(CMD_FLUSH, 1 << 9, 6, 0, 0, &[]);
        assert_eq!(bad.recv(|_| 0).error, EINVAL, "unknown flag");
        assert_eq!(
            bad.read(7, 0, MAX_PAYLOAD + 1).error,
            EOVERFLOW,
            "read over the maximum payload"
        );
        // Still usable after every error.
        assert_eq!(bad.read(8, 4096, 4096).data, vec![9u8; 4096]);
        // Wrong magic: the server hangs up on this client.
        bad.s.write_all(&[0xde; 28]).unwrap();
        assert!(bad.is_closed());
    }

    // A write announced over the maximum payload: disconnect.
    let mut big = Client::connect(&server.path, true);
    big.send(CMD_WRITE, 0, 1, 0, MAX_PAYLOAD + 1, &[]);
    assert!(big.is_closed());

    // Clients that vanish mid-request: in the header, in a write's payload, in the handshake.
    let mut cut = Client::connect(&server.path, false);
    cut.s.write_all(&REQUEST_MAGIC.to_be_bytes()).unwrap();
    drop(cut);
    let mut cut = Client::connect(&server.path, false);
    let mut m = REQUEST_MAGIC.to_be_bytes().to_vec();
    m.extend_from_slice(&[
        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0,
    ]);
    m.extend_from_slice(&[1u8; 100]);
    cut.s.write_all(&m).unwrap();
    drop(cut);
    drop(Client::greet(&server.path));
    // Garbage instead of a handshake.
    let mut junk = UnixStream::connect(&server.path).unwrap();
    junk.write_all(&[0xff; 64]).unwrap();
    drop(junk);

    // The first client never noticed.
    assert_eq!(good.read(2, 4096, 4096).data, vec![9u8; 4096]);
    assert_eq!(good.write(3, 0, &[4u8; 512]), 0);
    assert_eq!(good.read(4, 0, 512).data, vec![4u8; 512]);
    server.stop();
}

#[test]
fn a_full_device_refuses_writes_and_keeps_serving() {
    let mut server = Server::start("full", Some(64 * 4096));
    let mut writer = Client::connect(&server.path, true);
    let mut reader = Client::connect(&server.path, false);
    // Noise that no codec shrinks.
    let page = |i: u64| -> Vec<u8> {
        let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let mut stored = 0;
    let mut refused = false;
    for i in 0..256u64 {
        match writer.write(i, i * 4096, &page(i)) {
            0 => stored += 1,
            e => {
                assert_eq!(e, ENOSPC);
                refused = true;
                break;
            }
        }
    }
    assert!(
        refused && stored > 0,
        "limit never reached ({stored} pages stored)"
    );
    for i in 0..stored {
        assert_eq!(reader.read(1000 + i, i * 4096, 4096).data, page(i));
    }
    // Zeroes need no memory; trimming makes room again.
    writer.send(CMD_WRITE_ZEROES, 0, 9000, stored * 4096, 8192, &[]);
    assert_eq!(writer.recv(|_| 0).error, 0);
    writer.send(CMD_TRIM, 0, 9001, 0, 4096, &[]);
    assert_eq!(writer.recv(|_| 0).error, 0);
    assert_eq!(writer.write(9002, 8 << 20, &page(5000)), 0);
    server.stop();
}

#[test]
fn stopping_answers_requests_in_flight_and_ends_every_connection() {
    let mut server = Server::start("stop", None);
    let mut c = Client::connect(&server.path, false);
    let idle = Client::greet(&server.path); // still in the handshake
    for i in 0..32u64 {
        c.send(CMD_WRITE, 0, i, i * 4096, 4096, &[i as u8; 4096]);
    }
    let replies: Vec<Reply> = (0..32).map(|_| c.recv(|_| 0)).collect();
    assert!(replies.iter().all(|r| r.error == 0));
    server.stop();
    assert!(c.is_closed());
    drop(idle);
}

/// The bytes of one request.
fn request(kind: u16, flags: u16, cookie: u64, offset: u64, len: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&REQUEST_MAGIC.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&kind.to_be_bytes());
    m.extend_from_slice(&cookie.to_be_bytes());
    m.extend_from_slice(&offset.to_be_bytes());
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(payload);
    m
}
