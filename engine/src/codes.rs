//! Named protocol error codes and WebSocket close codes, with what a client
//! should do about each. These strings and numbers are part of the external
//! contract: add new ones, never change the meaning of an existing one.

/// `error` frame codes (the `code` field) and REST error codes.
pub mod error {
    /// The frame was not a JSON object of a known shape. Fix the client; the socket stays open.
    pub const BAD_FRAME: &str = "bad_frame";
    /// The frame's `type` is not one this side of the protocol knows. The socket stays open.
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    /// A message body is longer than the limit (4,000 characters). Shorten it and re-send.
    pub const TOO_LONG: &str = "too_long";
    /// A message body is empty or only whitespace.
    pub const EMPTY: &str = "empty";
    /// The connection sent frames faster than its rate. Slow down and re-send later.
    pub const RATE_LIMITED: &str = "rate_limited";
    /// A field has an invalid value (a `client_id` too long, a score out of range...).
    pub const INVALID: &str = "invalid";
    /// The conversation (or other resource) does not exist for this tenant or visitor.
    pub const NOT_FOUND: &str = "not_found";
    /// The role of the staff member does not allow this action.
    pub const FORBIDDEN: &str = "forbidden";
    /// The action does not fit the conversation's current status.
    pub const INVALID_STATE: &str = "invalid_state";
    /// Another staff member already holds the conversation.
    pub const ALREADY_CLAIMED: &str = "already_claimed";
    /// The frame is only valid after `hello` / `auth`.
    pub const NOT_READY: &str = "not_ready";
    /// Too many messages are awaiting the disk for this conversation. Re-send later.
    pub const OVERLOADED: &str = "overloaded";
    /// The server could not complete the action; nothing was acknowledged. Re-send later.
    pub const INTERNAL: &str = "internal";
    /// Wrong email or password.
    pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
    /// Missing, invalid or expired access token.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// The request body or query is malformed.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The request body is larger than the route allows.
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// The route exists but not with this method (405).
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// Too many connections; try again later.
    pub const UNAVAILABLE: &str = "unavailable";
    /// Too many requests (login attempts, API calls); wait `Retry-After` seconds.
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    /// `identify` was refused: the site verifies identities and the
    /// `user_hash` is missing or wrong. Nothing about the visitor changed.
    pub const IDENTITY_REFUSED: &str = "identity_refused";
    /// The email address is already used by another staff member.
    pub const EMAIL_TAKEN: &str = "email_taken";
    /// The password is too weak (length, variety, equal to the email).
    pub const WEAK_PASSWORD: &str = "weak_password";
    /// The refresh, reset or invitation token is unknown, used, revoked or expired.
    pub const INVALID_TOKEN: &str = "invalid_token";
    /// Another canned response of the tenant already uses that shortcut.
    pub const SHORTCUT_TAKEN: &str = "shortcut_taken";
    /// The change would leave the tenant without an active owner.
    pub const LAST_OWNER: &str = "last_owner";
    /// The tenant is suspended by the instance operator.
    pub const TENANT_SUSPENDED: &str = "tenant_suspended";
    /// The request's `Origin` is not among the site's allowed origins.
    pub const ORIGIN_NOT_ALLOWED: &str = "origin_not_allowed";
    /// The consultation slot was booked by someone else meanwhile; pick another.
    pub const SLOT_TAKEN: &str = "slot_taken";
    /// The start is not a slot the site offers (outside its hours, in the
    /// past, inside the notice period, past the horizon, or bookings are off).
    pub const SLOT_UNAVAILABLE: &str = "slot_unavailable";
    /// The tenant's plan allows no more of this (sites, staff seats,
    /// conversations this month). Upgrade, or remove some.
    pub const QUOTA_EXCEEDED: &str = "quota_exceeded";
    /// The tenant's plan does not include this feature.
    pub const FEATURE_NOT_IN_PLAN: &str = "feature_not_in_plan";
    /// The tenant queued its day's budget of mail bytes (`mail.tenant_bytes_per_day`):
    /// more mail is refused until midnight UTC (`Retry-After` says when).
    pub const OUTBOX_FULL: &str = "outbox_full";
}

/// WebSocket close codes.
pub mod close {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down. Reconnect with backoff, then `resume`.
    pub const GOING_AWAY: u16 = 1001;
    /// A protocol violation at the WebSocket layer. Do not reconnect blindly.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A frame larger than the limit (64 KiB). Fix the client.
    pub const TOO_BIG: u16 = 1009;
    /// An unexpected server error. Reconnect with backoff, then `resume`.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// A server component this socket depended on restarted. Reconnect at once and `resume`.
    pub const RESTART: u16 = 1012;
    /// The socket's outbound queue was full: the client did not read fast enough.
    /// Reconnect and `resume` from the last seq seen.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// The `hello` frame did not arrive in time or was malformed. Fix the client.
    pub const BAD_HELLO: u16 = 4400;
    /// Staff authentication failed, expired, was revoked or did not arrive within 10 s.
    /// Sign in again before reconnecting.
    pub const UNAUTHORIZED: u16 = 4401;
    /// The tenant was suspended by the instance operator. Show the widget as
    /// offline (staff: sign out); do not reconnect.
    pub const TENANT_SUSPENDED: u16 = 4403;
    /// The site key is unknown. Do not reconnect.
    pub const UNKNOWN_SITE: u16 = 4404;
    /// Too many new visitors from this address; retry later with a token.
    pub const TOO_MANY: u16 = 4429;
}
