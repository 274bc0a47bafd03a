//! The application layer: account and tenant rules as plain async
//! functions with no axum types, called by the REST handlers and the staff
//! socket alike. A handler parses, authorises, calls one of these and
//! renders; the rules — who may become what, the last owner, single-use
//! links, revoke-then-kick — live here. Tenant-scoped invariants hold
//! their tenant's lock ([`locks`]), never a process-wide one.

pub mod accounts;
pub mod audit;
pub mod bookings;
pub mod contacts;
pub mod error;
pub mod links;
pub mod locks;
pub mod missed;
pub mod newsletter;
pub mod notify;
pub mod plans;
pub mod principal;
pub mod retention;
pub mod sessions;
pub mod sites;
pub mod staff;
pub mod tenant;
pub mod transcript;
pub mod webhooks;

pub use error::ApiError;
