//! The control socket: each running device answers `stat` and `delete` on
//! `<run dir>/<name>.ctl`, where the run dir is `/run/trueno-ublk` (`TRUENO_UBLK_RUN_DIR` overrides,
//! for tests and unprivileged use). The wire form is text: the client sends one command line, the
//! daemon answers `key=value` lines and closes.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::nbd::StopSignal;
use crate::nbd::stream::bind_unix;
use crate::store::{BlockStore, StoreStats, algorithm_name};

/// Where control sockets and the default NBD sockets live.
pub fn run_dir() -> PathBuf {
    std::env::var_os("TRUENO_UBLK_RUN_DIR")
        .map_or_else(|| PathBuf::from("/run/trueno-ublk"), PathBuf::from)
}

/// The control socket of device `name`.
pub fn control_path(name: &str) -> PathBuf {
    run_dir().join(format!("{name}.ctl"))
}

/// The default NBD socket of device `name`.
pub fn nbd_socket_path(name: &str) -> PathBuf {
    run_dir().join(format!("{name}.nbd"))
}

/// The log of a device started in the background.
pub fn log_path(name: &str) -> PathBuf {
    run_dir().join(format!("{name}.log"))
}

/// A device name: letters, digits, `-` and `_`, so that it is a safe file name and export name.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "device name `{name}`: use 1 to 64 letters, digits, `-` or `_`"
        ))
    }
}

/// What a running device reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// Device name.
    pub name: String,
    /// Compression algorithm.
    pub algorithm: String,
    /// Transport: `nbd` or `ublk`.
    pub transport: String,
    /// Where clients attach.
    pub endpoint: String,
    /// Process id of the daemon.
    pub pid: u32,
    /// Live figures.
    pub stats: StoreStats,
}

impl DeviceStatus {
    fn to_wire(&self) -> String {
        let mut out = format!(
            "name={}\nalgorithm={}\ntransport={}\nendpoint={}\npid={}\n",
            self.name, self.algorithm, self.transport, self.endpoint, self.pid
        );
        for (k, v) in self.stats.fields() {
            out.push_str(&format!("{k}={v}\n"));
        }
        out
    }

    fn from_wire(text: &str) -> Result<Self, String> {
        let mut s = Self {
            name: String::new(),
            algorithm: String::new(),
            transport: String::new(),
            endpoint: String::new(),
            pid: 0,
            stats: StoreStats::default(),
        };
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("control reply line `{line}` is not key=value"));
            };
            match k {
                "name" => s.name = v.into(),
                "algorithm" => s.algorithm = v.into(),
                "transport" => s.transport = v.into(),
                "endpoint" => s.endpoint = v.into(),
                "pid" => s.pid = v.parse().map_err(|e| format!("pid `{v}`: {e}"))?,
                _ => {
                    let n = v.parse().map_err(|e| format!("{k} `{v}`: {e}"))?;
                    // Figures this client does not know come from a newer daemon: skip them.
                    let _ = s.stats.set_field(k, n);
                }
            }
        }
        if s.name.is_empty() {
            return Err("control reply without a device name".into());
        }
        Ok(s)
    }

    /// The status as one JSON object.
    pub fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"name\":{},\"algorithm\":{},\"transport\":{},\"endpoint\":{},\"pid\":{}",
            json_string(&self.name),
            json_string(&self.algorithm),
            json_string(&self.transport),
            json_string(&self.endpoint),
            self.pid
        );
        for (k, v) in self.stats.fields() {
            out.push_str(&format!(",\"{k}\":{v}"));
        }
        out.push_str(&format!(
            ",\"mm_stat\":{},\"io_stat\":{}}}",
            json_string(&self.stats.mm_stat_line()),
            json_string(&self.stats.io_stat_line())
        ));
        out
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The daemon side: answers control requests for one device until the stop signal fires.
pub struct ControlServer {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    name: String,
    transport: String,
    endpoint: String,
    store: Arc<BlockStore>,
}

impl ControlServer {
    /// Binds the device's control socket.
    pub fn bind(
        name: &str,
        transport: &str,
        endpoint: &str,
        store: Arc<BlockStore>,
    ) -> io::Result<Self> {
        let path = control_path(name);
        let listener = bind_unix(&path)?;
        listener.set_nonblocking(true)?;
        Ok(Self {
            listener,
            path,
            name: name.into(),
            transport: transport.into(),
            endpoint: endpoint.into(),
            store,
        })
    }

    /// The status as the control socket reports it.
    pub fn status(&self) -> DeviceStatus {
        DeviceStatus {
            name: self.name.clone(),
            algorithm: algorithm_name(self.store.algorithm()),
            transport: self.transport.clone(),
            endpoint: self.endpoint.clone(),
            pid: std::process::id(),
            stats: self.store.stats(),
        }
    }

    /// Serves requests until `stop` fires (a `delete` fires it). The socket file stays until the
    /// caller removes it once everything else has stopped, so that `delete`, which waits for the
    /// file to go, returns only when the device is gone.
    pub fn run(self, stop: &StopSignal) {
        while let Ok(true) = stop.wait_readable(self.listener.as_raw_fd()) {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = self.answer(stream, stop) {
                        log::debug!("control request: {e}");
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => log::warn!("control accept: {e}"),
            }
        }
    }

    /// Where the socket file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn answer(&self, stream: UnixStream, stop: &StopSignal) -> io::Result<()> {
        stream.set_nonblocking(false)?;
        // A client that says nothing must not hold the control socket.
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut line = String::new();
        BufReader::new((&stream).take(256)).read_line(&mut line)?;
        let mut out = &stream;
        match line.trim() {
            "stat" => out.write_all(self.status().to_wire().as_bytes()),
            "delete" => {
                out.write_all(b"ok=stopping\n")?;
                stop.fire();
                Ok(())
            }
            other => out.write_all(format!("error=unknown command `{other}`\n").as_bytes()),
        }
    }
}

/// Sends `command` to the device whose control socket is `path` and returns the reply.
pub fn request(path: &Path, command: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    if let Some(message) = reply.strip_prefix("error=") {
        return Err(io::Error::other(message.trim().to_owned()));
    }
    Ok(reply)
}

/// The status of device `name`, read live from its daemon.
pub fn stat(name: &str) -> Result<DeviceStatus, String> {
    let path = control_path(name);
    let reply = request(&path, "stat")
        .map_err(|e| format!("device `{name}` does not answer on {}: {e}", path.display()))?;
    DeviceStatus::from_wire(&reply)
}

/// Asks device `name` to stop, and waits until its control socket is gone.
pub fn delete(name: &str) -> Result<(), String> {
    let path = control_path(name);
    request(&path, "delete")
        .map_err(|e| format!("device `{name}` does not answer on {}: {e}", path.display()))?;
    for _ in 0..200 {
        if !path.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("device `{name}` did not stop within 10 s"))
}

/// Names of the devices whose daemons answer, sorted.
pub fn list() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(run_dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let file = e.file_name();
            let name = file.to_str()?.strip_suffix(".ctl")?.to_owned();
            UnixStream::connect(e.path()).is_ok().then_some(name)
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_survives_the_wire_and_json_escapes() {
        let stats = StoreStats {
            disksize: 1 << 30,
            same_pages: 7,
            ..StoreStats::default()
        };
        let s = DeviceStatus {
            name: "trueno0".into(),
            algorithm: "samefill".into(),
            transport: "nbd".into(),
            endpoint: "unix:/run/trueno-ublk/trueno0.nbd".into(),
            pid: 42,
            stats,
        };
        assert_eq!(DeviceStatus::from_wire(&s.to_wire()).unwrap(), s);
        assert!(s.to_json().contains("\"same_pages\":7"));
        assert_eq!(json_string("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
        assert!(DeviceStatus::from_wire("garbage").is_err());
        assert!(check_name("trueno0").is_ok());
        assert!(check_name("../etc").is_err());
    }
}
