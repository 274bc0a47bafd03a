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
    /// See the tenant's staff list.
    ViewStaff,
    /// Create, change, deactivate or delete a staff member who has (or is
    /// given) this role.
    ManageStaff(Role),
    /// See the tenant's sites (their public settings).
    ViewSites,
    /// Create or change sites and their settings, and see their secrets.
    ManageSites,
    /// The tenant itself: its name, billing, deletion.
    ManageTenant,
    /// Read the audit log.
    ReadAudit,
    /// Create, change or delete the tenant's canned responses (shared by
    /// the whole team).
    ManageCanned,
    /// See the tenant's outgoing mail and its delivery (recipients,
    /// subjects, attempts) and retry failed mail.
    ReadOutbox,
    /// Also read the mails' bodies, which hold single-use links (an admin
    /// reading an owner's reset link could take the owner's account).
    ReadMailBodies,
    /// Export the tenant's contact messages, subscribers and other tables as CSV.
    ExportData,
    /// See the newsletter's subscribers, write and send campaigns.
    ManageNewsletter,
    /// Register, rotate and remove webhook endpoints and read their deliveries.
    ManageWebhooks,
    /// Read the analytics and the staff performance.
    ReadAnalytics,
    /// Export everything stored about a visitor, or erase it (their rights
    /// of access and erasure).
    VisitorData,
}

/// The single permission check: may `role` do `action`?
pub fn allowed(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        ReadConversations | Chat | Claim | Close | Transfer | ViewStaff | ViewSites
        | ManageCanned => true,
        TakeOver | ManageSites | ReadAudit | ReadOutbox | ExportData | ManageNewsletter
        | ManageWebhooks | ReadAnalytics | VisitorData => matches!(role, Owner | Admin),
        ManageStaff(target) => match role {
            Owner => true,
            Admin => target != Owner,
            Agent => false,
        },
        ManageTenant | ReadMailBodies => role == Owner,
    }
}

/// Whether a tenant still has an active owner after a change to one staff
/// member: `active_owners` counts them before the change; the member was
/// (`was_owner`) and will be (`stays_owner`) an active owner or not.
pub fn keeps_an_owner(active_owners: usize, was_owner: bool, stays_owner: bool) -> bool {
    !was_owner || stays_owner || active_owners > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_chat_but_do_not_administer() {
        assert!(allowed(Role::Agent, Action::Chat));
        assert!(allowed(Role::Agent, Action::Claim));
        assert!(!allowed(Role::Agent, Action::ManageStaff(Role::Agent)));
        assert!(!allowed(Role::Agent, Action::TakeOver));
        assert!(!allowed(Role::Agent, Action::ManageSites));
        assert!(!allowed(Role::Agent, Action::ReadAudit));
        assert!(allowed(Role::Agent, Action::ViewStaff));
        assert!(allowed(Role::Admin, Action::ManageSites));
        assert!(allowed(Role::Owner, Action::TakeOver));
        assert!(!allowed(Role::Agent, Action::VisitorData));
        assert!(allowed(Role::Admin, Action::VisitorData));
    }

    #[test]
    fn admins_manage_everyone_but_owners() {
        assert!(allowed(Role::Admin, Action::ManageStaff(Role::Agent)));
        assert!(allowed(Role::Admin, Action::ManageStaff(Role::Admin)));
        assert!(!allowed(Role::Admin, Action::ManageStaff(Role::Owner)));
        assert!(!allowed(Role::Admin, Action::ManageTenant));
        assert!(allowed(Role::Admin, Action::ReadOutbox));
        assert!(!allowed(Role::Admin, Action::ReadMailBodies));
        assert!(!allowed(Role::Agent, Action::ReadOutbox));
        assert!(allowed(Role::Admin, Action::ReadAudit));
        assert!(allowed(Role::Admin, Action::ReadAnalytics));
        assert!(!allowed(Role::Agent, Action::ReadAnalytics));
        assert!(allowed(Role::Owner, Action::ManageStaff(Role::Owner)));
        assert!(allowed(Role::Owner, Action::ManageTenant));
    }

    #[test]
    fn the_last_owner_stays() {
        assert!(!keeps_an_owner(1, true, false));
        assert!(keeps_an_owner(2, true, false));
        assert!(keeps_an_owner(1, true, true));
        assert!(keeps_an_owner(1, false, false));
    }

    #[test]
    fn role_names_round_trip() {
        for r in [Role::Owner, Role::Admin, Role::Agent] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
