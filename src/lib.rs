//! crmhooks: the decisions behind the crmhooks WordPress plugin.
//!
//! Everything outside `ffi` is safe Rust that knows nothing about C: it parses webhook
//! requests, checks access keys, diffs tags and fields, decides locks, plans the user
//! changes and talks to CRMs. `ffi` is the only unsafe code and only marshals.
#![deny(unsafe_code)]

pub mod answer;
pub mod auth;
pub mod contact;
pub mod crm;
pub mod diff;
pub mod error;
pub mod ffi;
pub mod lock;
pub mod plan;
pub mod queue;
pub mod reconcile;
pub mod request;
pub mod settings;

/// The library version; `crmh_abi_version()` returns it and the PHP shim checks it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
