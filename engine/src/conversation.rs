//! The conversation state machine: waiting → active → closed, and back to
//! waiting or active when reopened. Pure rules; the Conversation actor
//! applies them and logs a system message for each change.

use crate::codes::error;
use crate::ids::StaffId;
use serde::{Deserialize, Serialize};

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Opened by a visitor, nobody has taken it yet.
    Waiting,
    /// A staff member holds it.
    Active,
    /// Finished; a new message starts a new conversation, or reopens this
    /// one within the reopen window ([`after_close`]).
    Closed,
}

impl Status {
    /// The status's contract name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Closed => "closed",
        }
    }
}

/// The part of a conversation the rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phase {
    pub status: Status,
    pub assignee: Option<StaffId>,
}

/// A request to change a conversation's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `by` takes the conversation. `take_over` allows taking it from someone else.
    Claim { by: StaffId, take_over: bool },
    /// Hand the conversation to `to`.
    Transfer { to: StaffId },
    /// Close it.
    Close,
    /// Open a closed conversation again (explicitly, or by a new public message).
    Reopen,
}

/// Why a command does not apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the conversation is already held by another staff member")]
    AlreadyClaimed,
    #[error("the conversation is closed")]
    Closed,
    #[error("the conversation is not closed")]
    NotClosed,
    #[error("the conversation is already held by that staff member")]
    NoChange,
}

impl RuleError {
    /// The protocol error code for this refusal.
    pub fn code(self) -> &'static str {
        match self {
            Self::AlreadyClaimed => error::ALREADY_CLAIMED,
            Self::Closed | Self::NotClosed | Self::NoChange => error::INVALID_STATE,
        }
    }
}

/// Applies `cmd` to `phase`, returning the new phase or why not.
pub fn apply(phase: Phase, cmd: Command) -> Result<Phase, RuleError> {
    use Status::*;
    match (phase.status, cmd) {
        (Closed, Command::Reopen) => Ok(Phase {
            status: if phase.assignee.is_some() {
                Active
            } else {
                Waiting
            },
            assignee: phase.assignee,
        }),
        (_, Command::Reopen) => Err(RuleError::NotClosed),
        (Closed, _) => Err(RuleError::Closed),
        (_, Command::Close) => Ok(Phase {
            status: Closed,
            assignee: phase.assignee,
        }),
        (_, Command::Claim { by, .. }) if phase.assignee == Some(by) && phase.status == Active => {
            Err(RuleError::NoChange)
        }
        (
            Active,
            Command::Claim {
                take_over: false, ..
            },
        ) => Err(RuleError::AlreadyClaimed),
        (_, Command::Claim { by, .. }) => Ok(Phase {
            status: Active,
            assignee: Some(by),
        }),
        (_, Command::Transfer { to }) if phase.assignee == Some(to) => Err(RuleError::NoChange),
        (_, Command::Transfer { to }) => Ok(Phase {
            status: Active,
            assignee: Some(to),
        }),
    }
}

/// What a new message does to a closed conversation (a visitor writing
/// again, or staff starting a proactive chat).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterClose {
    /// Open the closed conversation again.
    Reopen,
    /// Leave it closed (it stays in both sides' history) and start a new one.
    New,
}

/// The rule for writing into a conversation closed at `closed_at`: within
/// `window_secs` of the close (`conversation.reopen_window_secs`, 0 by
/// default) it reopens, unless the visitor already rated it — a rated
/// conversation is finished for good. Otherwise a new conversation starts.
pub fn after_close(
    closed_at: crate::time::Timestamp,
    rated: bool,
    now: crate::time::Timestamp,
    window_secs: u64,
) -> AfterClose {
    let within = now.millis().saturating_sub(closed_at.millis()) < window_secs.saturating_mul(1000);
    if within && !rated {
        AfterClose::Reopen
    } else {
        AfterClose::New
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_after_a_close_starts_anew_unless_within_the_window() {
        use crate::time::Timestamp;
        let closed = Timestamp(1_000_000);
        let later = |s: u64| Timestamp(1_000_000 + s * 1000);
        // The default window is 0: always a new conversation.
        assert_eq!(after_close(closed, false, closed, 0), AfterClose::New);
        assert_eq!(
            after_close(closed, false, later(59), 60),
            AfterClose::Reopen
        );
        assert_eq!(after_close(closed, false, later(60), 60), AfterClose::New);
        // A rated conversation never reopens by a new message.
        assert_eq!(after_close(closed, true, later(1), 60), AfterClose::New);
    }

    fn waiting() -> Phase {
        Phase {
            status: Status::Waiting,
            assignee: None,
        }
    }

    #[test]
    fn claim_then_close_then_reopen() {
        let a = StaffId::new();
        let p = apply(
            waiting(),
            Command::Claim {
                by: a,
                take_over: false,
            },
        )
        .unwrap();
        assert_eq!(
            p,
            Phase {
                status: Status::Active,
                assignee: Some(a)
            }
        );
        let p = apply(p, Command::Close).unwrap();
        assert_eq!(p.status, Status::Closed);
        let p = apply(p, Command::Reopen).unwrap();
        assert_eq!(
            p,
            Phase {
                status: Status::Active,
                assignee: Some(a)
            }
        );
    }

    #[test]
    fn reopen_without_assignee_waits() {
        let p = apply(waiting(), Command::Close).unwrap();
        assert_eq!(apply(p, Command::Reopen).unwrap(), waiting());
    }

    #[test]
    fn cannot_steal_without_take_over() {
        let (a, b) = (StaffId::new(), StaffId::new());
        let p = apply(
            waiting(),
            Command::Claim {
                by: a,
                take_over: false,
            },
        )
        .unwrap();
        assert_eq!(
            apply(
                p,
                Command::Claim {
                    by: b,
                    take_over: false
                }
            ),
            Err(RuleError::AlreadyClaimed)
        );
        assert_eq!(
            apply(
                p,
                Command::Claim {
                    by: b,
                    take_over: true
                }
            )
            .unwrap()
            .assignee,
            Some(b)
        );
        assert_eq!(
            apply(
                p,
                Command::Claim {
                    by: a,
                    take_over: false
                }
            ),
            Err(RuleError::NoChange)
        );
    }

    #[test]
    fn closed_refuses_everything_but_reopen() {
        let a = StaffId::new();
        let closed = apply(waiting(), Command::Close).unwrap();
        assert_eq!(apply(closed, Command::Close), Err(RuleError::Closed));
        assert_eq!(
            apply(closed, Command::Transfer { to: a }),
            Err(RuleError::Closed)
        );
        assert_eq!(apply(waiting(), Command::Reopen), Err(RuleError::NotClosed));
        assert_eq!(RuleError::AlreadyClaimed.code(), "already_claimed");
    }

    #[test]
    fn transfer_assigns_and_activates() {
        let (a, b) = (StaffId::new(), StaffId::new());
        let p = apply(waiting(), Command::Transfer { to: b }).unwrap();
        assert_eq!(
            p,
            Phase {
                status: Status::Active,
                assignee: Some(b)
            }
        );
        assert_eq!(
            apply(p, Command::Transfer { to: b }),
            Err(RuleError::NoChange)
        );
        assert_eq!(
            apply(p, Command::Transfer { to: a }).unwrap().assignee,
            Some(a)
        );
    }
}
