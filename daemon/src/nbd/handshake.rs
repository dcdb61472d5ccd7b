//! The fixed newstyle handshake: greeting, client flags, then option haggling until the client
//! picks the export (`NBD_OPT_GO` or `NBD_OPT_EXPORT_NAME`), aborts, or goes away.

use std::io::{self, Read, Write};

use super::proto::*;

/// What a client can learn about the export.
#[derive(Debug, Clone)]
pub struct ExportInfo {
    /// Its name; the empty name (the default export) selects it too.
    pub name: String,
    /// A line for humans, sent with `NBD_OPT_LIST` and `NBD_INFO_DESCRIPTION`.
    pub description: String,
    /// Size in bytes.
    pub size: u64,
}

/// What the handshake settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on to transmission; `structured` says whether structured replies were negotiated.
    Transmission {
        /// Structured replies negotiated.
        structured: bool,
    },
    /// The client aborted or asked for an export we do not have: close the connection.
    Close,
}

/// Longest option payload we accept: far above any real option (an export name is at most 4096
/// bytes), low enough that a hostile length cannot make us allocate much.
const MAX_OPTION_LEN: u32 = 64 * 1024;
/// Options one connection may send before we stop listening to it.
const MAX_OPTIONS: usize = 256;

/// Runs the handshake on `stream`. An `Err` is an I/O failure or a protocol violation that calls
/// for a hard disconnect.
pub fn negotiate<S: Read + Write>(stream: &mut S, export: &ExportInfo) -> io::Result<Outcome> {
    let mut greeting = Vec::with_capacity(18);
    greeting.put_u64(NBDMAGIC);
    greeting.put_u64(IHAVEOPT);
    greeting.put_u16(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    stream.write_all(&greeting)?;

    let client_flags = read_u32(stream)?;
    if client_flags & !(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES) != 0 {
        return Err(violation(format!("unknown client flags {client_flags:#x}")));
    }
    let no_zeroes = client_flags & FLAG_C_NO_ZEROES != 0;
    let mut structured = false;

    for _ in 0..MAX_OPTIONS {
        let mut header = [0u8; 16];
        stream.read_exact(&mut header)?;
        let mut c = Cursor::new(&header);
        let (magic, option, len) = (
            c.u64().unwrap_or(0),
            c.u32().unwrap_or(0),
            c.u32().unwrap_or(0),
        );
        if magic != IHAVEOPT {
            return Err(violation(format!(
                "option magic {magic:#x}, expected IHAVEOPT"
            )));
        }
        if len > MAX_OPTION_LEN {
            return Err(violation(format!(
                "option {option} announces {len} bytes of data, limit {MAX_OPTION_LEN}"
            )));
        }
        let mut data = vec![0u8; len as usize];
        stream.read_exact(&mut data)?;

        match option {
            OPT_EXPORT_NAME => {
                if !export.selected_by(&data) {
                    // This option cannot answer with an error: the protocol says to disconnect.
                    return Ok(Outcome::Close);
                }
                let mut reply = Vec::with_capacity(10 + 124);
                reply.put_u64(export.size);
                reply.put_u16(TRANSMISSION_FLAGS);
                if !no_zeroes {
                    reply.extend_from_slice(&[0u8; 124]);
                }
                stream.write_all(&reply)?;
                return Ok(Outcome::Transmission { structured });
            }
            OPT_ABORT => {
                // The client may already have gone; a failed ACK changes nothing.
                let _ = option_reply(stream, option, REP_ACK, &[]);
                return Ok(Outcome::Close);
            }
            OPT_LIST => {
                if !data.is_empty() {
                    error_reply(
                        stream,
                        option,
                        REP_ERR_INVALID,
                        "NBD_OPT_LIST takes no data",
                    )?;
                    continue;
                }
                let mut server = Vec::new();
                server.put_u32(u32::try_from(export.name.len()).unwrap_or(0));
                server.extend_from_slice(export.name.as_bytes());
                server.extend_from_slice(export.description.as_bytes());
                option_reply(stream, option, REP_SERVER, &server)?;
                option_reply(stream, option, REP_ACK, &[])?;
            }
            OPT_STRUCTURED_REPLY => {
                if !data.is_empty() {
                    error_reply(
                        stream,
                        option,
                        REP_ERR_INVALID,
                        "NBD_OPT_STRUCTURED_REPLY takes no data",
                    )?;
                    continue;
                }
                structured = true;
                option_reply(stream, option, REP_ACK, &[])?;
            }
            OPT_INFO | OPT_GO => {
                if info_or_go(stream, option, &data, export)? && option == OPT_GO {
                    return Ok(Outcome::Transmission { structured });
                }
            }
            _ => error_reply(
                stream,
                option,
                REP_ERR_UNSUP,
                &format!("option {option} is not supported by this server"),
            )?,
        }
    }
    Err(violation(format!(
        "more than {MAX_OPTIONS} options without choosing an export"
    )))
}

impl ExportInfo {
    fn selected_by(&self, name: &[u8]) -> bool {
        name.is_empty() || name == self.name.as_bytes()
    }
}

/// Answers `NBD_OPT_INFO` or `NBD_OPT_GO`; true when the export was found and described.
fn info_or_go<S: Write>(
    stream: &mut S,
    option: u32,
    data: &[u8],
    export: &ExportInfo,
) -> io::Result<bool> {
    let mut c = Cursor::new(data);
    let parsed = (|| {
        let name_len = usize::try_from(c.u32()?).ok()?;
        let name = c.take(name_len)?;
        let count = c.u16()?;
        let mut requests = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            requests.push(c.u16()?);
        }
        c.is_empty().then_some((name, requests))
    })();
    let Some((name, requests)) = parsed else {
        error_reply(
            stream,
            option,
            REP_ERR_INVALID,
            "malformed NBD_OPT_INFO/GO data: name length, name, count and requests do not add up to the option length",
        )?;
        return Ok(false);
    };
    if !export.selected_by(name) {
        error_reply(
            stream,
            option,
            REP_ERR_UNKNOWN,
            &format!(
                "no export named `{}` (this server has `{}`)",
                String::from_utf8_lossy(name),
                export.name
            ),
        )?;
        return Ok(false);
    }

    let mut info = Vec::new();
    info.put_u16(INFO_EXPORT);
    info.put_u64(export.size);
    info.put_u16(TRANSMISSION_FLAGS);
    option_reply(stream, option, REP_INFO, &info)?;

    // Block sizes go out whether asked for or not (the protocol allows it): with a minimum of 1
    // they constrain no client, and tell every client that whole pages are best.
    let mut sizes = Vec::new();
    sizes.put_u16(INFO_BLOCK_SIZE);
    sizes.put_u32(MIN_BLOCK);
    sizes.put_u32(PREFERRED_BLOCK);
    sizes.put_u32(MAX_PAYLOAD);
    option_reply(stream, option, REP_INFO, &sizes)?;

    if requests.contains(&INFO_NAME) {
        let mut named = Vec::new();
        named.put_u16(INFO_NAME);
        named.extend_from_slice(export.name.as_bytes());
        option_reply(stream, option, REP_INFO, &named)?;
    }
    if requests.contains(&INFO_DESCRIPTION) {
        let mut described = Vec::new();
        described.put_u16(INFO_DESCRIPTION);
        described.extend_from_slice(export.description.as_bytes());
        option_reply(stream, option, REP_INFO, &described)?;
    }
    option_reply(stream, option, REP_ACK, &[])?;
    Ok(true)
}

fn option_reply<S: Write>(stream: &mut S, option: u32, kind: u32, data: &[u8]) -> io::Result<()> {
    let mut reply = Vec::with_capacity(20 + data.len());
    reply.put_u64(OPTION_REPLY_MAGIC);
    reply.put_u32(option);
    reply.put_u32(kind);
    reply.put_u32(u32::try_from(data.len()).unwrap_or(0));
    reply.extend_from_slice(data);
    stream.write_all(&reply)
}

fn error_reply<S: Write>(stream: &mut S, option: u32, kind: u32, message: &str) -> io::Result<()> {
    log::debug!("option {option}: {message}");
    option_reply(stream, option, kind, message.as_bytes())
}

fn read_u32<S: Read>(stream: &mut S) -> io::Result<u32> {
    let mut b = [0u8; 4];
    stream.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn violation(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
