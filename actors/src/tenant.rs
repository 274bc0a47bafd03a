//! Tenant(t): the tenant's live directory and the supervisor of its
//! conversations, visitors and staff.
//!
//! It owns: which conversations are live (and hands out leases to them),
//! visitor presence (who is online, on which page), staff presence and
//! availability (for `agents_online`), and the staff-socket directory that
//! conversations fan out to. It never touches a message on the hot path.
//!
//! Supervision policy:
//! - Conversation panics: its subscribers are told to resync (close 1012),
//!   and it is restarted from storage at once; more than
//!   `MAX_RESTARTS` failures within `RESTART_WINDOW` leave it stopped until
//!   the next request for it (which starts it afresh).
//! - Visitor or Staff actor panics: forgotten; the next event re-spawns it
//!   from storage.
//! - Normal exits (passivation) only remove the entry.

//!
//! The state's methods live beside this file: `tenant/conversations.rs`
//! (leases, passivation, restarts) and `tenant/presence.rs` (visitors and
//! staff online).

mod conversations;
mod presence;
mod queue;

use crate::billing::{Billing, BillingArgs, BillingMsg};
use crate::bookings::{Bookings, BookingsArgs, BookingsMsg};
use crate::conversation::ConversationMsg;
use crate::outbox::Outbox;
use crate::slot::{ConvLease, ConvSlot, Directory};
use crate::staff::StaffMsg;
use crate::visitor::VisitorMsg;
use crate::Ctx;
use parley_engine::protocol::{Availability, VisitorView};
use parley_engine::records::*;
use parley_engine::*;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a visitor socket learns on `hello`.
pub struct HelloReply {
    /// The visitor's conversation when it is live: subscribe through it.
    pub conversation: Option<ConvLease>,
    /// The visitor's conversation as stored, when it is not live: the tab is
    /// subscribed once it wakes up.
    pub stored: Option<ConversationRecord>,
    pub agents_online: bool,
    /// The site's colour and side, as the Tenant keeps them.
    pub look: parley_engine::protocol::SiteLook,
    /// The tenant is suspended: the socket closes.
    pub suspended: bool,
}

/// Messages a Tenant handles.
pub enum TenantMsg {
    /// A lease on a conversation of this tenant (`None`: no such conversation).
    GetConversation {
        id: ConversationId,
        reply: RpcReplyPort<Option<ConvLease>>,
    },
    /// The visitor's conversation; with `create`, opens one if there is none
    /// and subscribes every open tab of the visitor to it. Without `site`,
    /// the visitor's site is looked up (online, else as stored); an unknown
    /// visitor answers `None`.
    VisitorConversation {
        visitor: VisitorId,
        site: Option<SiteId>,
        create: bool,
        reply: RpcReplyPort<Option<ConvLease>>,
    },
    /// A conversation found itself idle.
    ConversationIdle { id: ConversationId },
    /// A conversation asked to passivate turned out busy after all.
    ConversationBusy { id: ConversationId },
    /// A visitor tab connected.
    VisitorHello {
        visitor: VisitorId,
        site: SiteId,
        page: PageInfo,
        /// What the connection said of the browser, for analytics.
        arrival: Box<Arrival>,
        outbox: Outbox,
        reply: RpcReplyPort<HelloReply>,
    },
    /// A visitor tab moved to another page.
    VisitorPage {
        visitor: VisitorId,
        socket: u64,
        page: PageInfo,
    },
    /// A visitor tab disconnected.
    VisitorBye { visitor: VisitorId, socket: u64 },
    /// A site's settings changed on disk: forget the look kept for it.
    SiteChanged { site: SiteId },
    /// A visitor said who they are (checked by the socket already).
    VisitorIdentify {
        visitor: VisitorId,
        site: SiteId,
        name: Option<String>,
        email: Option<String>,
    },
    /// The visitors online now (or just `only`, when online), for REST.
    OnlineVisitors {
        only: Option<VisitorId>,
        reply: RpcReplyPort<Vec<VisitorView>>,
    },
    /// A visitor's record changed on disk (from their Visitor actor).
    VisitorChanged { visitor: VisitorId, site: SiteId },
    /// A staff socket authenticated; answers the online visitors.
    StaffJoin {
        staff: StaffRecord,
        /// The sign-in session the socket authenticated with.
        session: Option<SessionId>,
        outbox: Outbox,
        /// The [`READY_VISITORS`] visitors who arrived last, and how many
        /// are online in all.
        reply: RpcReplyPort<(Vec<VisitorView>, usize)>,
    },
    /// A staff socket disconnected.
    StaffLeave { staff: StaffId, socket: u64 },
    /// A staff socket asks to change its member's availability; the Staff actor decides.
    SetAvailability {
        staff: StaffId,
        availability: Availability,
    },
    /// A staff member's availability, from their Staff actor.
    StaffAvailability {
        staff: StaffId,
        availability: Availability,
    },
    /// A staff member's sessions were revoked: their sockets authenticated
    /// with a `token_version` below this one close with 4401, now and if
    /// they join later.
    RevokeStaff { staff: StaffId, token_version: u32 },
    /// A staff member's role changed: their sockets close with 1012 so the
    /// dashboards reconnect and authenticate with the new role.
    ReconnectStaff { staff: StaffId },
    /// One sign-in session ended: the sockets it opened close with 4401.
    EndSession { staff: StaffId, session: SessionId },
    /// The tenant was suspended: every staff and visitor socket closes with
    /// 4403.
    Suspend,
    /// The tenant was resumed: sockets may join again.
    Resume,
    /// A conversation's status changed durably: `waiting_since` is when it
    /// began waiting for staff, `None` when it no longer waits.
    QueueChange {
        id: ConversationId,
        visitor: VisitorId,
        site: SiteId,
        created: Timestamp,
        waiting_since: Option<Timestamp>,
    },
    /// Time to tell waiting visitors their new place in the line.
    QueueFlush,
    /// Periodic housekeeping (visitor actor passivation).
    Tick,
    /// A frame for every open socket of one staff member (their bell).
    StaffFrame { staff: StaffId, frame: bytes::Bytes },
    /// The tenant's plan changed: read it again before the next new conversation.
    PlanChanged,
    /// Whether the tenant is past its plan's conversations this month (a
    /// refused new conversation asks why).
    OverQuota { reply: RpcReplyPort<bool> },
    /// The tenant's Bookings actor (started on first use).
    Bookings {
        reply: RpcReplyPort<ActorRef<BookingsMsg>>,
    },
    /// The tenant's Billing actor (started on first use).
    Billing {
        reply: RpcReplyPort<ActorRef<BillingMsg>>,
    },
    /// Erase everything stored about a visitor: their tabs close, their
    /// actors stop (so nothing writes for them after), then one durable
    /// batch deletes their data and lands `audit` with it. Answers how many
    /// records went.
    EraseVisitor {
        visitor: VisitorId,
        audit: Box<parley_engine::account::AuditRecord>,
        reply: RpcReplyPort<Result<usize, String>>,
    },
    /// Fault injection for supervision tests: panics in the handler. No
    /// client frame maps to it.
    InjectPanic,
}

/// Start-up arguments.
pub struct TenantArgs {
    pub ctx: Arc<Ctx>,
    pub id: TenantId,
}

/// The actor.
pub struct Tenant;

struct ConvEntry {
    slot: Arc<ConvSlot>,
    /// Whose conversation it is: their open tabs follow it.
    visitor: VisitorId,
    actor: Option<ActorRef<ConversationMsg>>,
    passivating: bool,
    waiters: Vec<RpcReplyPort<Option<ConvLease>>>,
    failures: VecDeque<Instant>,
}

/// One open tab (or the loader's tracking socket) of a visitor.
struct Tab {
    outbox: Outbox,
    page: PageInfo,
    /// When this tab opened `page`.
    since: Timestamp,
}

/// What the REST edge tells a tenant's running actors after a change it
/// stored (sign-outs, roles, settings, suspension, plans, a notification).
/// A cast where the tenant runs here; in a cluster the node that took the
/// request carries it to the owner over the bus (`http/CLUSTER.md`, Status).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Tell {
    SiteChanged { site: SiteId },
    RevokeStaff { staff: StaffId, token_version: u32 },
    ReconnectStaff { staff: StaffId },
    EndSession { staff: StaffId, session: SessionId },
    Suspend,
    Resume,
    PlanChanged,
    StaffFrame { staff: StaffId, frame: Vec<u8> },
}

impl From<Tell> for TenantMsg {
    fn from(t: Tell) -> Self {
        match t {
            Tell::SiteChanged { site } => TenantMsg::SiteChanged { site },
            Tell::RevokeStaff {
                staff,
                token_version,
            } => TenantMsg::RevokeStaff {
                staff,
                token_version,
            },
            Tell::ReconnectStaff { staff } => TenantMsg::ReconnectStaff { staff },
            Tell::EndSession { staff, session } => TenantMsg::EndSession { staff, session },
            Tell::Suspend => TenantMsg::Suspend,
            Tell::Resume => TenantMsg::Resume,
            Tell::PlanChanged => TenantMsg::PlanChanged,
            Tell::StaffFrame { staff, frame } => TenantMsg::StaffFrame {
                staff,
                frame: bytes::Bytes::from(frame),
            },
        }
    }
}

/// Most visitors a staff socket's `ready` lists (those who arrived last);
/// the rest come as `visitor` frames when they change, or from
/// `GET /api/v1/visitors`. Tens of thousands online would make `ready` tens
/// of megabytes, past what a relayed frame may be.
pub const READY_VISITORS: usize = 500;

struct Presence {
    site: SiteId,
    tabs: Vec<Tab>,
    since: Timestamp,
    conversation: Option<ConversationId>,
    /// Their name and email as their record says (read with the first tab,
    /// again when the record changes): a staff sign-in lists every visitor
    /// online without reading each.
    name: Option<String>,
    email: Option<String>,
}

impl Presence {
    /// When a tab opening `page` started it: a tab that replaces another on
    /// the same page (a reconnect, the panel taking over from the loader)
    /// keeps its time on page.
    fn since_on(&self, page: &PageInfo) -> Timestamp {
        self.tabs
            .iter()
            .find(|t| t.page.url == page.url)
            .map_or_else(Timestamp::now, |t| t.since)
    }
}

struct StaffEntry {
    actor: ActorRef<StaffMsg>,
    sockets: Vec<(Outbox, Option<SessionId>)>,
    availability: Availability,
}

/// A tenant's live state.
pub struct TenantState {
    ctx: Arc<Ctx>,
    id: TenantId,
    conversations: HashMap<ConversationId, ConvEntry>,
    conv_by_actor: HashMap<ActorId, ConversationId>,
    visitors: HashMap<VisitorId, Presence>,
    visitor_actors: HashMap<VisitorId, (ActorRef<VisitorMsg>, Instant)>,
    visitor_by_actor: HashMap<ActorId, VisitorId>,
    staff: HashMap<StaffId, StaffEntry>,
    staff_by_actor: HashMap<ActorId, StaffId>,
    /// Lowest `token_version` still accepted, per revoked staff member.
    revoked: HashMap<StaffId, u32>,
    suspended: bool,
    /// Conversations waiting for staff, oldest first.
    queue: queue::Queue,
    directory: Arc<Directory>,
    ticker: Option<tokio::task::JoinHandle<()>>,
    /// The one writer of the tenant's consultations, while it runs.
    bookings: Option<ActorRef<BookingsMsg>>,
    /// The one writer of the tenant's subscription, while it runs.
    billing: Option<ActorRef<BillingMsg>>,
    /// Conversations started this month against the plan's allowance.
    quota: Option<Quota>,
    /// The hour being counted and the visitors already counted in it (the
    /// writer's marker is the truth across restarts; this spares it work).
    visits: (u32, std::collections::HashSet<VisitorId>),
    /// Each site's look for `welcome`, read once and forgotten on
    /// [`TenantMsg::SiteChanged`]: a reconnect storm reads no settings.
    looks: HashMap<SiteId, parley_engine::protocol::SiteLook>,
    /// Each site's reopen window in seconds (its own, else the server's),
    /// read on the first message after a close and forgotten on
    /// [`TenantMsg::SiteChanged`]: an ordinary message reads nothing.
    reopen_windows: HashMap<SiteId, u64>,
    /// A digest of the device last stored per visitor seen by this actor:
    /// a returning browser that did not change writes and reads nothing.
    devices: HashMap<VisitorId, u64>,
    /// Visitors erased by this actor: a `hello` for one (verified before
    /// the edge learnt of it) closes, and reconnects as someone new.
    erased: std::collections::HashSet<VisitorId>,
}

/// What a visitor's connection said of their browser: the user agent and
/// the country (from a GeoIP database, or the browser's time zone).
#[derive(Clone, Debug, Default)]
pub struct Arrival {
    /// The browser as it said of itself (stored when it changed).
    pub device: parley_engine::account::VisitorDevice,
    pub country: String,
}

/// The month's conversation count as the Tenant keeps it: read from
/// storage when first needed, each month, and a minute after the last
/// read (or when the plan changes); counted up as conversations start.
struct Quota {
    month: u32,
    used: u64,
    plan: String,
    read_at: Instant,
}

impl TenantState {
    /// Whether one more conversation may start this month; with `take`,
    /// counts it.
    fn quota_check(&mut self, take: bool) -> Result<bool, ActorProcessingErr> {
        use parley_engine::plans::{may_start, month, month_start};
        let plans = &self.ctx.cfg.plans;
        if plans.is_empty() {
            return Ok(true);
        }
        let now = Timestamp::now();
        let fresh = self.quota.as_ref().is_some_and(|q| {
            q.month == month(now) && q.read_at.elapsed() < Duration::from_secs(60)
        });
        if !fresh {
            let sub = parley_storage::AuthStore::subscription(&self.ctx.store, self.id)?;
            let unlimited = plans
                .iter()
                .find(|p| p.name == sub.plan_at(now))
                .or(plans.first())
                .is_some_and(|p| p.conversations_per_month.is_none());
            // An unlimited plan needs no count (a busy tenant's is large).
            let used = if unlimited {
                0
            } else {
                parley_storage::AuthStore::conversations_since(
                    &self.ctx.store,
                    self.id,
                    month_start(now),
                )?
            };
            self.quota = Some(Quota {
                month: month(now),
                used,
                plan: sub.plan_at(now).to_string(),
                read_at: Instant::now(),
            });
        }
        let Some(q) = self.quota.as_mut() else {
            return Ok(true);
        };
        let ok = may_start(plans, &q.plan, q.used);
        if ok && take {
            q.used += 1;
        }
        Ok(ok)
    }
}

impl Actor for Tenant {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = TenantArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TenantArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let period = (args.ctx.cfg.visitor_idle / 2).max(Duration::from_millis(100));
        let ticker = myself.send_interval(period, || TenantMsg::Tick);
        let queue = queue::Queue::load(&args.ctx.store, args.id)?;
        let suspended =
            parley_storage::AuthStore::tenant_state(&args.ctx.store, args.id)?.suspended;
        if !queue.is_empty() {
            myself.send_after(queue::FLUSH, || TenantMsg::QueueFlush);
        }
        Ok(TenantState {
            ctx: args.ctx,
            id: args.id,
            conversations: HashMap::new(),
            conv_by_actor: HashMap::new(),
            visitors: HashMap::new(),
            visitor_actors: HashMap::new(),
            visitor_by_actor: HashMap::new(),
            staff: HashMap::new(),
            staff_by_actor: HashMap::new(),
            revoked: HashMap::new(),
            // Read once; Suspend and Resume keep it current from then on.
            suspended,
            queue,
            directory: Arc::new(Directory::default()),
            ticker: Some(ticker),
            bookings: None,
            billing: None,
            quota: None,
            visits: (0, Default::default()),
            looks: HashMap::new(),
            reopen_windows: HashMap::new(),
            devices: HashMap::new(),
            erased: Default::default(),
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
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::GetConversation { id, reply } => {
                state.ensure_conversation(&myself, id, reply).await?
            }
            TenantMsg::VisitorConversation {
                visitor,
                site,
                create,
                reply,
            } => {
                state
                    .visitor_conversation(&myself, visitor, site, create, reply)
                    .await?
            }
            TenantMsg::ConversationIdle { id } => state.conversation_idle(id),
            TenantMsg::ConversationBusy { id } => state.conversation_busy(id),
            TenantMsg::VisitorHello {
                visitor,
                site,
                page,
                arrival,
                outbox,
                reply,
            } => {
                // A tab that gave up waiting (its call timed out) or has
                // closed costs nothing: a Tenant that fell behind a burst
                // of arrivals catches up, where doing each stale hello's
                // reads and writes kept it behind until every hello failed.
                if reply.is_closed() || outbox.is_closed() {
                    metrics::counter!("parley_hellos_shed_total").increment(1);
                    return Ok(());
                }
                let hello = state.visitor_hello(visitor, site, page, &arrival, outbox)?;
                let _ = reply.send(hello);
            }
            TenantMsg::EraseVisitor {
                visitor,
                audit,
                reply,
            } => {
                let r = state.erase_visitor(visitor, *audit).await;
                let _ = reply.send(r);
            }
            TenantMsg::SiteChanged { site } => {
                state.looks.remove(&site);
                state.reopen_windows.remove(&site);
            }
            TenantMsg::VisitorPage {
                visitor,
                socket,
                page,
            } => state.visitor_page(&myself, visitor, socket, page).await?,
            TenantMsg::VisitorBye { visitor, socket } => state.visitor_bye(visitor, socket),
            TenantMsg::VisitorIdentify {
                visitor,
                site,
                name,
                email,
            } => {
                state
                    .visitor_identify(&myself, visitor, site, name, email)
                    .await?
            }
            TenantMsg::VisitorChanged { visitor, site } => state.visitor_changed(visitor, site),
            TenantMsg::OnlineVisitors { only, reply } => {
                let _ = reply.send(state.online_visitors(only));
            }
            TenantMsg::StaffJoin {
                staff,
                session,
                outbox,
                reply,
            } => {
                let visitors = state.staff_join(&myself, staff, session, outbox).await?;
                let _ = reply.send(visitors);
            }
            TenantMsg::StaffLeave { staff, socket } => state.staff_leave(staff, socket),
            TenantMsg::SetAvailability {
                staff,
                availability,
            } => {
                if let Some(e) = state.staff.get(&staff) {
                    let _ = e.actor.cast(StaffMsg::SetAvailability(availability));
                }
            }
            TenantMsg::StaffAvailability {
                staff,
                availability,
            } => {
                if let Some(e) = state.staff.get_mut(&staff) {
                    e.availability = availability;
                }
            }
            TenantMsg::RevokeStaff {
                staff,
                token_version,
            } => state.revoke_staff(staff, token_version),
            TenantMsg::ReconnectStaff { staff } => {
                if let Some(e) = state.staff.get(&staff) {
                    let _ = e
                        .actor
                        .cast(StaffMsg::Revoke(parley_engine::codes::close::RESTART));
                }
            }
            TenantMsg::EndSession { staff, session } => {
                if let Some(e) = state.staff.get(&staff) {
                    let _ = e.actor.cast(StaffMsg::EndSession(session));
                }
            }
            TenantMsg::Suspend => state.suspend(),
            TenantMsg::Resume => state.suspended = false,
            TenantMsg::PlanChanged => state.quota = None,
            TenantMsg::OverQuota { reply } => {
                let over = !state.quota_check(false)?;
                let _ = reply.send(over);
            }
            TenantMsg::StaffFrame { staff, frame } => {
                if let Some(e) = state.staff.get(&staff) {
                    for (o, _) in &e.sockets {
                        o.frame(&frame);
                    }
                }
            }
            TenantMsg::Bookings { reply } => {
                let actor = match &state.bookings {
                    Some(a) => a.clone(),
                    None => {
                        let args = BookingsArgs {
                            ctx: state.ctx.clone(),
                            tenant: state.id,
                        };
                        let (a, _) =
                            Actor::spawn_linked(None, Bookings, args, myself.get_cell()).await?;
                        state.bookings = Some(a.clone());
                        a
                    }
                };
                let _ = reply.send(actor);
            }
            TenantMsg::Billing { reply } => {
                let actor = match &state.billing {
                    Some(a) => a.clone(),
                    None => {
                        let args = BillingArgs {
                            ctx: state.ctx.clone(),
                            tenant: state.id,
                        };
                        let (a, _) =
                            Actor::spawn_linked(None, Billing, args, myself.get_cell()).await?;
                        state.billing = Some(a.clone());
                        a
                    }
                };
                let _ = reply.send(actor);
            }
            TenantMsg::InjectPanic => panic!("fault injected into tenant {}", state.id),
            TenantMsg::QueueChange {
                id,
                visitor,
                site,
                created,
                waiting_since,
            } => {
                let w = waiting_since.map(|since| queue::Waiting {
                    since,
                    visitor,
                    site,
                    created,
                });
                state.queue_change(&myself, id, w)
            }
            TenantMsg::QueueFlush => state.queue_flush(),
            TenantMsg::Tick => {
                state.passivate_idle_visitors();
                state.count_missed();
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        evt: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match evt {
            SupervisionEvent::ActorTerminated(cell, _, _)
                if state
                    .bookings
                    .as_ref()
                    .is_some_and(|b| b.get_id() == cell.get_id()) =>
            {
                state.bookings = None;
            }
            SupervisionEvent::ActorFailed(cell, err)
                if state
                    .bookings
                    .as_ref()
                    .is_some_and(|b| b.get_id() == cell.get_id()) =>
            {
                metrics::counter!("parley_actor_restarts_total", "kind" => "bookings").increment(1);
                tracing::error!(tenant = %state.id, error = %err, "bookings actor failed");
                state.bookings = None;
            }
            SupervisionEvent::ActorTerminated(cell, _, _)
                if state
                    .billing
                    .as_ref()
                    .is_some_and(|b| b.get_id() == cell.get_id()) =>
            {
                state.billing = None;
            }
            SupervisionEvent::ActorFailed(cell, err)
                if state
                    .billing
                    .as_ref()
                    .is_some_and(|b| b.get_id() == cell.get_id()) =>
            {
                metrics::counter!("parley_actor_restarts_total", "kind" => "billing").increment(1);
                tracing::error!(tenant = %state.id, error = %err, "billing actor failed");
                state.billing = None;
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                let aid = cell.get_id();
                if let Some(id) = state.conv_by_actor.remove(&aid) {
                    state.conversation_stopped(&myself, id).await?;
                } else if let Some(v) = state.visitor_by_actor.remove(&aid) {
                    if state
                        .visitor_actors
                        .get(&v)
                        .is_some_and(|(a, _)| a.get_id() == aid)
                    {
                        state.visitor_actors.remove(&v);
                    }
                } else {
                    state.staff_by_actor.remove(&aid);
                }
            }
            SupervisionEvent::ActorFailed(cell, err) => {
                let aid = cell.get_id();
                if let Some(id) = state.conv_by_actor.remove(&aid) {
                    tracing::error!(tenant = %state.id, conversation = %id, error = %err, "conversation failed");
                    state.conversation_crashed(&myself, id).await?;
                } else if let Some(v) = state.visitor_by_actor.remove(&aid) {
                    metrics::counter!("parley_actor_restarts_total", "kind" => "visitor")
                        .increment(1);
                    tracing::error!(tenant = %state.id, visitor = %v, error = %err, "visitor actor failed");
                    state.visitor_actors.remove(&v);
                } else if let Some(s) = state.staff_by_actor.remove(&aid) {
                    metrics::counter!("parley_actor_restarts_total", "kind" => "staff")
                        .increment(1);
                    tracing::error!(tenant = %state.id, staff = %s, error = %err, "staff actor failed");
                    state.staff_crashed(&myself, s).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
