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
use parley_engine::{SessionId, Timestamp};
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
    /// Time to write the online time counted so far.
    Tally,
}

/// How often online time is written.
const TALLY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Start-up arguments.
pub struct StaffArgs {
    pub tenant: ActorRef<TenantMsg>,
    pub record: StaffRecord,
    pub ctx: std::sync::Arc<crate::Ctx>,
}

/// The actor.
pub struct Staff;

/// A staff member's live state.
pub struct StaffState {
    tenant: ActorRef<TenantMsg>,
    record: StaffRecord,
    sockets: Vec<(Outbox, Option<SessionId>)>,
    availability: Availability,
    ctx: std::sync::Arc<crate::Ctx>,
    /// Since when they are online and available, not yet written.
    online_since: Option<Timestamp>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl StaffState {
    /// Applies an availability change; `true` when it changed.
    fn set_availability(&mut self, a: Availability) -> bool {
        std::mem::replace(&mut self.availability, a) != a
    }

    /// Writes the online time counted so far, and keeps counting while
    /// they stay online and available.
    fn tally(&mut self) {
        use parley_engine::analytics::{split_hours, Event};
        use parley_storage::keys::{bucket, Tally};
        let now = Timestamp::now();
        if let Some(since) = self.online_since.take() {
            let (t, me) = (self.record.tenant_id, Tally::Staff(self.record.id));
            let mut b = parley_storage::WriteBatch::new();
            for (h, secs) in split_hours(since, now) {
                b.count(bucket(t, me, h), Event::Online(secs));
            }
            if !b.is_empty() {
                self.ctx.writer.submit(b, Box::new(|_| {}));
            }
        }
        let online = self.availability == Availability::Available
            && self.sockets.iter().any(|(s, _)| !s.is_closed());
        // Whole seconds only: the rest carries over to the next write.
        self.online_since = online.then(|| Timestamp(now.millis() - now.millis() % 1000));
    }
}

impl Actor for Staff {
    type Msg = StaffMsg;
    type State = StaffState;
    type Arguments = StaffArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: StaffArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(StaffState {
            tenant: args.tenant,
            record: args.record,
            sockets: Vec::new(),
            availability: Availability::Available,
            ctx: args.ctx,
            online_since: None,
            ticker: Some(myself.send_interval(TALLY_EVERY, || StaffMsg::Tally)),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let Some(t) = state.ticker.take() {
            t.abort();
        }
        state.sockets.clear();
        state.tally();
        Ok(())
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
                if state.online_since.is_none() {
                    state.tally();
                }
            }
            StaffMsg::Left(id) => {
                state.sockets.retain(|(s, _)| s.id() != id);
                if state.sockets.is_empty() {
                    state.tally();
                }
            }
            StaffMsg::Tally => state.tally(),
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
                    state.tally();
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
