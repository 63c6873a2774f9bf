//! Redis add-ons on an operator's server: per add-on an ACL user limited to
//! the keys and channels under its own prefix (`~<prefix>:* &<prefix>:*`),
//! with every command except those that reach past that prefix (see
//! `ACL_COMMANDS`).
//! Apps must name their keys `<prefix>:…` (shown by `addons:info`).
//! Rotating adds a second user with the same rules; revoking deletes the
//! old one, which also disconnects its clients. ACL users live in the
//! server's memory: `ACL SAVE` persists them when the server has an ACL file.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::provider::{app_address, provider_error, random_hex, Credentials, Provider};
use crate::{PlatformError, Result};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Keys deleted per SCAN round when an add-on goes, and the most rounds.
const SCAN_BATCH: &str = "500";
const MAX_SCAN_ROUNDS: usize = 100_000;

/// What an add-on's user may run. Redis checks key patterns only for the
/// keys a command names, so whatever lists, counts or touches keys it does
/// not name is denied: SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSHDB/FLUSHALL (the
/// last two also in @dangerous); so is @scripting (EVAL*, FCALL*, FUNCTION,
/// SCRIPT: functions and the script cache are server-wide, and a script can
/// touch keys it did not declare), and PUBSUB, which lists every channel.
/// Strings, lists, hashes, sets, sorted sets, streams and publish/subscribe
/// on the add-on's own keys and channels remain.
const ACL_COMMANDS: [&str; 10] = [
    "+@all",
    "-@admin",
    "-@dangerous",
    "-@scripting",
    "-scan",
    "-keys",
    "-randomkey",
    "-dbsize",
    "-pubsub",
    "-flushdb",
];

pub(crate) struct RedisServer {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    app_host: String,
    app_port: u16,
}

impl RedisServer {
    pub(crate) fn new(admin_url: &str, app_host: Option<&str>) -> Result<Self> {
        let invalid = |why: String| {
            PlatformError::Invalid(format!(
                "BERTH_ADDON_REDIS_ADMIN_URL is not a redis:// URL ({why})"
            ))
        };
        let parsed = reqwest::Url::parse(admin_url).map_err(|e| invalid(e.to_string()))?;
        if parsed.scheme() != "redis" {
            return Err(invalid(format!("scheme {}", parsed.scheme())));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| invalid("no host".into()))?
            .trim_matches(['[', ']'])
            .to_string();
        let username = Some(parsed.username())
            .filter(|u| !u.is_empty())
            .map(percent_decode);
        let password = parsed.password().map(percent_decode);
        let (app_host, app_port) = app_address(&parsed, app_host, 6379)?;
        Ok(Self {
            port: parsed.port().unwrap_or(6379),
            host,
            username,
            password,
            app_host,
            app_port,
        })
    }

    async fn connect(&self) -> Result<Resp> {
        let where_ = format!(
            "cannot connect to the add-on Redis server {}:{}",
            self.host, self.port
        );
        let stream = tokio::time::timeout(
            IO_TIMEOUT,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| provider_error(&where_, "timed out"))?
        .map_err(|e| provider_error(&where_, e))?;
        let mut connection = Resp {
            stream: BufReader::new(stream),
        };
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => {
                connection.command(&["AUTH", user, password]).await?;
            }
            (None, Some(password)) => {
                connection.command(&["AUTH", password]).await?;
            }
            _ => {}
        }
        Ok(connection)
    }

    fn credentials(&self, prefix: &str, user: &str, password: &str) -> Credentials {
        let host = if self.app_host.contains(':') {
            format!("[{}]", self.app_host)
        } else {
            self.app_host.clone()
        };
        Credentials {
            url: format!("redis://{user}:{password}@{host}:{}", self.app_port),
            username: user.to_string(),
            password: password.to_string(),
            resource: prefix.to_string(),
            owner: None,
            container: None,
        }
    }

    async fn set_user(
        &self,
        connection: &mut Resp,
        user: &str,
        password: &str,
        prefix: &str,
    ) -> Result<()> {
        let password = format!(">{password}");
        let keys = format!("~{prefix}:*");
        let channels = format!("&{prefix}:*");
        let mut command = vec![
            "ACL", "SETUSER", user, "reset", "on", &password, &keys, &channels,
        ];
        command.extend(ACL_COMMANDS);
        connection.command(&command).await?;
        save_acl(connection).await
    }
}

/// Persists the ACL when the server keeps an ACL file; without one the
/// users live as long as the server process (its configuration's choice).
async fn save_acl(connection: &mut Resp) -> Result<()> {
    match connection.command(&["ACL", "SAVE"]).await {
        Ok(_) => Ok(()),
        Err(PlatformError::AddonProvider(message)) if message.contains("ACL file") => Ok(()),
        Err(error) => Err(error),
    }
}

impl Provider for RedisServer {
    fn mode(&self) -> &'static str {
        "server"
    }

    fn provision<'a>(&'a self, _app: &'a str) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let prefix = format!("berth_{}", random_hex(8));
            let user = format!("{prefix}_{}", random_hex(3));
            let password = random_hex(24);
            let mut connection = self.connect().await?;
            if let Err(error) = self
                .set_user(&mut connection, &user, &password, &prefix)
                .await
            {
                let _ = connection.command(&["ACL", "DELUSER", &user]).await;
                return Err(error);
            }
            Ok(self.credentials(&prefix, &user, &password))
        })
    }

    fn rotate<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<Credentials>> {
        Box::pin(async move {
            let user = format!("{}_{}", current.resource, random_hex(3));
            let password = random_hex(24);
            let mut connection = self.connect().await?;
            self.set_user(&mut connection, &user, &password, &current.resource)
                .await?;
            Ok(self.credentials(&current.resource, &user, &password))
        })
    }

    fn revoke<'a>(
        &'a self,
        _current: &'a Credentials,
        old: &'a Credentials,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut connection = self.connect().await?;
            connection
                .command(&["ACL", "DELUSER", &old.username])
                .await?;
            save_acl(&mut connection).await
        })
    }

    fn deprovision<'a>(&'a self, current: &'a Credentials) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut connection = self.connect().await?;
            connection
                .command(&["ACL", "DELUSER", &current.username])
                .await?;
            save_acl(&mut connection).await?;
            let pattern = format!("{}:*", current.resource);
            let mut cursor = "0".to_string();
            for _ in 0..MAX_SCAN_ROUNDS {
                let reply = connection
                    .command(&["SCAN", &cursor, "MATCH", &pattern, "COUNT", SCAN_BATCH])
                    .await?;
                let Reply::Array(mut parts) = reply else {
                    return Err(provider_error(
                        "unexpected SCAN reply",
                        format!("{reply:?}"),
                    ));
                };
                let (Some(Reply::Array(keys)), Some(Reply::Bulk(next))) =
                    (parts.pop(), parts.pop())
                else {
                    return Err(provider_error(
                        "unexpected SCAN reply",
                        "no cursor and keys",
                    ));
                };
                let keys: Vec<String> = keys
                    .into_iter()
                    .filter_map(|k| match k {
                        Reply::Bulk(key) => Some(String::from_utf8_lossy(&key).into_owned()),
                        _ => None,
                    })
                    .collect();
                if !keys.is_empty() {
                    let mut command = vec!["UNLINK"];
                    command.extend(keys.iter().map(String::as_str));
                    connection.command(&command).await?;
                }
                cursor = String::from_utf8_lossy(&next).into_owned();
                if cursor == "0" {
                    return Ok(());
                }
            }
            Err(provider_error(
                "the add-on's keys were not all deleted",
                "too many SCAN rounds",
            ))
        })
    }
}

/// A URL's user or password as written before percent-encoding.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// A Redis reply.
#[derive(Debug)]
enum Reply {
    /// A status or an integer: Berth only needs to know the command succeeded.
    Done,
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

/// The least of RESP2 Berth needs: commands out, replies in.
struct Resp {
    stream: BufReader<TcpStream>,
}

impl Resp {
    async fn command(&mut self, args: &[&str]) -> Result<Reply> {
        tokio::time::timeout(IO_TIMEOUT, self.exchange(args))
            .await
            .map_err(|_| provider_error("the add-on Redis server", "did not answer in time"))?
    }

    async fn exchange(&mut self, args: &[&str]) -> Result<Reply> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            frame.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            frame.extend_from_slice(arg.as_bytes());
            frame.extend_from_slice(b"\r\n");
        }
        let io = |e: std::io::Error| provider_error("the add-on Redis connection failed", e);
        self.stream.get_mut().write_all(&frame).await.map_err(io)?;
        // Only the command's name: its arguments may hold a password.
        match self.read_reply().await? {
            Err(message) => Err(provider_error(
                &format!("the add-on Redis server refused {}", args[0]),
                message,
            )),
            Ok(reply) => Ok(reply),
        }
    }

    /// A reply, or the server's error message.
    fn read_reply(&mut self) -> BoxFuture<'_, Result<std::result::Result<Reply, String>>> {
        Box::pin(async move {
            let io = |e: std::io::Error| provider_error("the add-on Redis connection failed", e);
            let mut line = String::new();
            if self.stream.read_line(&mut line).await.map_err(io)? == 0 {
                return Err(provider_error(
                    "the add-on Redis server",
                    "closed the connection",
                ));
            }
            let line = line.trim_end_matches("\r\n");
            let (kind, rest) = line.split_at(line.len().min(1));
            let number = || {
                rest.parse::<i64>()
                    .map_err(|_| provider_error("the add-on Redis server sent", line))
            };
            Ok(match kind {
                "+" => Ok(Reply::Done),
                "-" => Err(rest.to_string()),
                ":" => number().map(|_| Ok(Reply::Done))?,
                "$" => match number()? {
                    length if length < 0 => Ok(Reply::Nil),
                    length => {
                        let mut data = vec![0; length as usize + 2];
                        self.stream.read_exact(&mut data).await.map_err(io)?;
                        data.truncate(length as usize);
                        Ok(Reply::Bulk(data))
                    }
                },
                "*" => match number()? {
                    count if count < 0 => Ok(Reply::Nil),
                    count => {
                        let mut items = Vec::with_capacity(count as usize);
                        for _ in 0..count {
                            match self.read_reply().await? {
                                Ok(item) => items.push(item),
                                Err(message) => return Ok(Err(message)),
                            }
                        }
                        Ok(Reply::Array(items))
                    }
                },
                _ => return Err(provider_error("the add-on Redis server sent", line)),
            })
        })
    }
}
