//! Attacks and faults that once worked against Berth, kept as tests so they
//! keep failing: each module is one finding of the hardening review, each
//! test named after what it proves.

mod addon_rights;
mod attached_backups;
mod containers;
mod csrf;
mod deploy_ordering;
mod drains;
mod engine_restart;
mod faults;
mod key_rotation;
mod log_disk;
mod many_hosts;
mod push_limits;
mod raw_http;
mod redis_isolation;
mod router_cookies;
mod router_framing;
mod router_starvation;
mod secret_exposure;
mod session_theft;
mod sign_in;
mod stream_access;
