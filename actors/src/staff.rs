//! Staff(s): one per signed-in staff member across all their tabs and
//! devices. It owns their availability (available / away) and tells the
//! Tenant, which routes by it and answers `agents_online`. It exists while
//! the staff member has at least one socket; the Tenant stops it after the
//! last one leaves.

use crate::outbox::Outbox;
use crate::tenant::TenantMsg;
use parley_engine::codes::close;
use parley_engine::protocol::Availability;
use parley_engine::records::StaffRecord;
use parley_engine::SessionId;
use ractor::{Actor, ActorProcessingErr, ActorRef};

/// Messages a Staff actor handles.
pub enum StaffMsg {
    /// A socket of this staff member connected, signed in with this session.
    Joined(Outbox, Option<SessionId>),
    /// A socket (by id) disconnected.
    Left(u64),
    /// The staff member changed availability.
    SetAvailability(Availability),
    /// Their sessions were revoked (logout-all, password change,
    /// deactivation): every socket closes with `code`.
    Revoke(u16),
    /// One sign-in session was ended: its sockets close with 4401.
    EndSession(SessionId),
}

/// Start-up arguments.
pub struct StaffArgs {
    pub tenant: ActorRef<TenantMsg>,
    pub record: StaffRecord,
}

/// The actor.
pub struct Staff;

/// A staff member's live state.
pub struct StaffState {
    tenant: ActorRef<TenantMsg>,
    record: StaffRecord,
    sockets: Vec<(Outbox, Option<SessionId>)>,
    availability: Availability,
}

impl StaffState {
    /// Applies an availability change; `true` when it changed.
    fn set_availability(&mut self, a: Availability) -> bool {
        std::mem::replace(&mut self.availability, a) != a
    }
}

impl Actor for Staff {
    type Msg = StaffMsg;
    type State = StaffState;
    type Arguments = StaffArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: StaffArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(StaffState {
            tenant: args.tenant,
            record: args.record,
            sockets: Vec::new(),
            availability: Availability::Available,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StaffMsg::Joined(o, session) => {
                state.sockets.retain(|(s, _)| !s.is_closed());
                state.sockets.push((o, session));
            }
            StaffMsg::Left(id) => state.sockets.retain(|(s, _)| s.id() != id),
            StaffMsg::EndSession(sid) => {
                for (s, _) in state.sockets.iter().filter(|(_, x)| *x == Some(sid)) {
                    s.close(close::UNAUTHORIZED);
                }
            }
            StaffMsg::Revoke(code) => {
                tracing::info!(staff = %state.record.id, sockets = state.sockets.len(), "sessions revoked");
                for (s, _) in state.sockets.drain(..) {
                    s.close(code);
                }
            }
            StaffMsg::SetAvailability(a) => {
                if state.set_availability(a) {
                    tracing::debug!(staff = %state.record.id, ?a, "availability changed");
                    let _ = state.tenant.cast(TenantMsg::StaffAvailability {
                        staff: state.record.id,
                        availability: a,
                    });
                }
            }
        }
        Ok(())
    }
}
