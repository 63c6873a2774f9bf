//! What DNS says about a hostname, for domain checks: through the system
//! resolver, or by asking one DNS server directly over UDP for A, AAAA
//! (and the CNAMEs a recursive server includes on the way).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rand::RngCore;
use tokio::net::UdpSocket;

const TIMEOUT: Duration = Duration::from_secs(3);
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

/// The records found for a name. The system resolver reports addresses
/// only, never CNAMEs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsAnswer {
    /// CNAME targets, lowercase, without the root dot.
    pub cnames: Vec<String>,
    pub addresses: Vec<IpAddr>,
}

/// Looks `hostname` up through `server` when given, else the system resolver.
pub(crate) async fn lookup(
    hostname: &str,
    server: Option<SocketAddr>,
) -> Result<DnsAnswer, String> {
    let Some(server) = server else {
        let addresses = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host((hostname, 0)))
            .await
            .map_err(|_| "the system resolver did not answer in time".to_string())?
            .map_err(|error| format!("the system resolver found nothing: {error}"))?
            .map(|address| address.ip())
            .collect();
        return Ok(DnsAnswer {
            cnames: Vec::new(),
            addresses,
        });
    };
    let mut answer = DnsAnswer::default();
    for record_type in [TYPE_A, TYPE_AAAA] {
        let found = query(server, hostname, record_type).await?;
        for cname in found.cnames {
            if !answer.cnames.contains(&cname) {
                answer.cnames.push(cname);
            }
        }
        answer.addresses.extend(found.addresses);
    }
    Ok(answer)
}

async fn query(server: SocketAddr, hostname: &str, record_type: u16) -> Result<DnsAnswer, String> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|error| format!("cannot open a socket to ask {server}: {error}"))?;
    let id = (rand::rngs::OsRng.next_u32() & 0xffff) as u16;
    let request = encode_query(id, hostname, record_type)?;
    socket
        .send_to(&request, server)
        .await
        .map_err(|error| format!("cannot ask DNS server {server}: {error}"))?;
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (length, from) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer))
            .await
            .map_err(|_| format!("DNS server {server} did not answer in time"))?
            .map_err(|error| format!("no answer from DNS server {server}: {error}"))?;
        // Anything but the answer to this query is ignored, as resolvers do.
        if from != server || length < 2 || buffer[..2] != id.to_be_bytes() {
            continue;
        }
        return decode_answer(&buffer[..length])
            .map_err(|why| format!("DNS server {server} sent a broken answer: {why}"));
    }
}

fn encode_query(id: u16, hostname: &str, record_type: u16) -> Result<Vec<u8>, String> {
    let mut message = Vec::with_capacity(512);
    message.extend_from_slice(&id.to_be_bytes());
    // Recursion desired; one question.
    message.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in hostname.trim_end_matches('.').split('.') {
        let length = u8::try_from(label.len())
            .ok()
            .filter(|length| (1..=63).contains(length))
            .ok_or_else(|| format!("{hostname} has a label DNS cannot carry"))?;
        message.push(length);
        message.extend_from_slice(label.as_bytes());
    }
    message.push(0);
    message.extend_from_slice(&record_type.to_be_bytes());
    message.extend_from_slice(&1u16.to_be_bytes());
    Ok(message)
}

fn decode_answer(message: &[u8]) -> Result<DnsAnswer, &'static str> {
    let word = |at: usize| -> Result<u16, &'static str> {
        message
            .get(at..at + 2)
            .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
            .ok_or("truncated")
    };
    let flags = word(2)?;
    if flags & 0x8000 == 0 {
        return Err("not a response");
    }
    match flags & 0x000f {
        // No error, or the name does not exist: both are answers.
        0 | 3 => {}
        2 => return Err("server failure"),
        5 => return Err("query refused"),
        _ => return Err("error code in the answer"),
    }
    let questions = word(4)?;
    let answers = word(6)?;
    let mut at = 12;
    for _ in 0..questions {
        at = read_name(message, at)?.1 + 4;
    }
    let mut answer = DnsAnswer::default();
    for _ in 0..answers {
        at = read_name(message, at)?.1;
        let record_type = word(at)?;
        let length = word(at + 8)? as usize;
        let data_at = at + 10;
        let data = message
            .get(data_at..data_at + length)
            .ok_or("truncated record")?;
        match record_type {
            TYPE_A => {
                let octets: [u8; 4] = data.try_into().map_err(|_| "bad A record")?;
                answer.addresses.push(IpAddr::from(octets));
            }
            TYPE_AAAA => {
                let octets: [u8; 16] = data.try_into().map_err(|_| "bad AAAA record")?;
                answer.addresses.push(IpAddr::from(octets));
            }
            TYPE_CNAME => answer.cnames.push(read_name(message, data_at)?.0),
            _ => {}
        }
        at = data_at + length;
    }
    Ok(answer)
}

/// Reads a possibly compressed name at `at`: the name, and where the
/// bytes after it start.
fn read_name(message: &[u8], mut at: usize) -> Result<(String, usize), &'static str> {
    let mut labels: Vec<String> = Vec::new();
    let mut end = None;
    // Each pointer must go backwards, so a loop of pointers cannot hang us.
    let mut limit = at;
    loop {
        let length = *message.get(at).ok_or("truncated name")? as usize;
        match length {
            0 => {
                end.get_or_insert(at + 1);
                break;
            }
            0xc0..=0xff => {
                let low = *message.get(at + 1).ok_or("truncated name")? as usize;
                let target = ((length & 0x3f) << 8) | low;
                if target >= limit {
                    return Err("name pointer loops");
                }
                end.get_or_insert(at + 2);
                limit = target;
                at = target;
            }
            1..=63 => {
                let label = message
                    .get(at + 1..at + 1 + length)
                    .ok_or("truncated label")?;
                labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                at += 1 + length;
            }
            _ => return Err("bad label length"),
        }
    }
    Ok((labels.join("."), end.unwrap_or(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compressed_cnames_and_addresses() {
        let mut message = encode_query(7, "shop.example.test", TYPE_A).unwrap();
        message[2] = 0x81;
        message[3] = 0x80;
        message[7] = 2;
        // shop.example.test CNAME demo.localhost (labels, then a pointer to nothing more)
        message.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 16]);
        let cname_at = message.len();
        message.extend_from_slice(b"\x04demo\x09localhost\x00");
        // demo.localhost A 127.0.0.1, its name a pointer to the CNAME's target
        message.extend_from_slice(&[0xc0, cname_at as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        message.extend_from_slice(&[127, 0, 0, 1]);
        assert_eq!(
            decode_answer(&message),
            Ok(DnsAnswer {
                cnames: vec!["demo.localhost".into()],
                addresses: vec![IpAddr::from([127, 0, 0, 1])],
            })
        );
    }

    #[test]
    fn refuses_pointer_loops() {
        let message = [0xc0, 0];
        assert_eq!(read_name(&message, 0), Err("name pointer loops"));
    }
}
