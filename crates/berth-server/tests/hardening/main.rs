//! Attacks and faults that once worked against Berth, kept as tests so they
//! keep failing: each module is one finding of the hardening review, each
//! test named after what it proves.

mod csrf;
mod session_theft;
mod sign_in;
