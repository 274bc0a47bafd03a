//! Roles and the one permission function. Both the REST handlers and the
//! WebSocket frame handlers ask [`allowed`]; nothing else decides who may do
//! what.

use serde::{Deserialize, Serialize};

/// A staff member's role within a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages everything, billing included. A tenant always keeps at least one.
    Owner,
    /// Manages staff and sites, but not owners or billing.
    Admin,
    /// Chats, sees visitors and manages their own profile.
    Agent,
}

impl Role {
    /// Parses `owner`, `admin` or `agent`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }

    /// The role's name as the contract spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Agent => "agent",
        }
    }
}

/// Something a staff member may try to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// See conversations, messages and visitors of the tenant.
    ReadConversations,
    /// Send messages and notes, type, mark read.
    Chat,
    /// Claim a waiting conversation for oneself.
    Claim,
    /// Close or reopen a conversation.
    Close,
    /// Hand a conversation to a colleague.
    Transfer,
    /// Take a conversation assigned to someone else.
    TakeOver,
    /// Create, change or deactivate staff.
    ManageStaff,
    /// Create or change sites and their settings.
    ManageSites,
}

/// The single permission check: may `role` do `action`?
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    match action {
        ReadConversations | Chat | Claim | Close | Transfer => true,
        TakeOver | ManageStaff | ManageSites => matches!(role, Role::Owner | Role::Admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_chat_but_do_not_administer() {
        assert!(allowed(Role::Agent, Action::Chat));
        assert!(allowed(Role::Agent, Action::Claim));
        assert!(!allowed(Role::Agent, Action::ManageStaff));
        assert!(!allowed(Role::Agent, Action::TakeOver));
        assert!(allowed(Role::Admin, Action::ManageSites));
        assert!(allowed(Role::Owner, Action::TakeOver));
    }

    #[test]
    fn role_names_round_trip() {
        for r in [Role::Owner, Role::Admin, Role::Agent] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
