//! The Tenant's view of who is here: visitors online (their tabs and the
//! page each shows) and staff signed in (their sockets and availability),
//! with the `visitor` frames that keep dashboards live.

use super::{Arrival, HelloReply, Presence, StaffEntry, Tab, TenantMsg, TenantState};
use crate::outbox::Outbox;
use crate::slot::StaffSocket;
use crate::staff::{Staff, StaffArgs, StaffMsg};
use crate::visitor::{Known, Visitor, VisitorArgs, VisitorMsg};
use bytes::Bytes;
use parley_engine::account::VisitorDevice;
use parley_engine::analytics;
use parley_engine::codes::close;
use parley_engine::protocol::{Availability, ServerFrame, SiteLook, VisitorView};
use parley_engine::records::*;
use parley_engine::*;
use parley_storage::{
    AccountStore, AuthStore, ConversationStore, DeskStore, OutboxStore, VisitorStore, WriteBatch,
};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::time::Instant;

/// Most device digests a Tenant keeps (about 40 bytes each); past it they
/// start afresh, which costs one write per returning visitor.
const MAX_DEVICES: usize = 100_000;

impl TenantState {
    pub(super) fn agents_online(&self) -> bool {
        self.staff
            .values()
            .any(|s| !s.sockets.is_empty() && s.availability == Availability::Available)
    }

    fn publish_directory(&self) {
        let mut v = Vec::new();
        for (id, s) in &self.staff {
            for (o, _) in &s.sockets {
                v.push(StaffSocket {
                    staff: *id,
                    outbox: o.clone(),
                });
            }
        }
        self.directory.publish(v);
    }

    /// A visitor's view: an online one's from their presence, anyone
    /// else's from their record.
    fn visitor_view(&self, id: VisitorId, p: Option<&Presence>, site: SiteId) -> VisitorView {
        let (name, email) = match p {
            Some(p) => (p.name.clone(), p.email.clone()),
            None => match self.ctx.store.visitor(self.id, id).ok().flatten() {
                Some(r) => (r.name, r.email),
                None => (None, None),
            },
        };
        Self::view_of(id, p, site, name, email)
    }

    fn view_of(
        id: VisitorId,
        p: Option<&Presence>,
        site: SiteId,
        name: Option<String>,
        email: Option<String>,
    ) -> VisitorView {
        VisitorView {
            id,
            site_id: site,
            online: p.is_some(),
            page: p.and_then(|p| p.tabs.last().map(|t| t.page.clone())),
            page_since: p.and_then(|p| p.tabs.last().map(|t| t.since)),
            name,
            email,
            since: p.map(|p| p.since).unwrap_or_default(),
        }
    }

    /// Sends a `visitor` frame to every staff socket (none signed in: no
    /// read at all).
    fn broadcast_visitor(&self, id: VisitorId, site: SiteId) {
        if self.directory.snapshot().is_empty() {
            return;
        }
        let view = self.visitor_view(id, self.visitors.get(&id), site);
        self.broadcast_view(&view);
    }

    fn broadcast_view(&self, view: &VisitorView) {
        let bytes = Bytes::from(ServerFrame::Visitor { visitor: view }.to_json());
        for d in self.directory.snapshot().iter() {
            d.outbox.frame(&bytes);
        }
    }

    async fn visitor_seen(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: VisitorId,
        site: SiteId,
        page: PageInfo,
    ) -> Result<(), ActorProcessingErr> {
        if self.erased.contains(&id) {
            return Ok(());
        }
        let at = Timestamp::now();
        let visit = self.visit_due(id, at).then(|| {
            let device = self
                .ctx
                .store
                .visitor_device(self.id, id)
                .ok()
                .flatten()
                .unwrap_or_default();
            let country = analytics::country_of_zone(&device.timezone).unwrap_or("");
            let from = analytics::referrer_host(&page.referrer, &page.url);
            Box::new(analytics::visit_tags(&device.user_agent, country, from))
        });
        let msg = VisitorMsg::Seen {
            site,
            page,
            at,
            visit,
        };
        self.visitor_cast(myself, id, msg).await
    }

    /// Hands `msg` to the visitor's actor, waking one when none is live.
    async fn visitor_cast(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        id: VisitorId,
        msg: VisitorMsg,
    ) -> Result<(), ActorProcessingErr> {
        let now = Instant::now();
        let msg = match self.visitor_actors.get_mut(&id) {
            Some((a, last)) => {
                *last = now;
                match a.cast(msg) {
                    Ok(()) => return Ok(()),
                    Err(ractor::MessagingErr::SendErr(m)) => m,
                    Err(_) => return Ok(()),
                }
            }
            None => msg,
        };
        let (a, _) = Actor::spawn_linked(
            None,
            Visitor,
            VisitorArgs {
                ctx: self.ctx.clone(),
                tenant: self.id,
                id,
            },
            myself.get_cell(),
        )
        .await?;
        let _ = a.cast(msg);
        self.visitor_by_actor.insert(a.get_id(), id);
        self.visitor_actors.insert(id, (a, now));
        Ok(())
    }

    /// A visitor told who they are: their actor records it, then every
    /// dashboard hears of it.
    pub(super) async fn visitor_identify(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        visitor: VisitorId,
        site: SiteId,
        name: Option<String>,
        email: Option<String>,
    ) -> Result<(), ActorProcessingErr> {
        if self.erased.contains(&visitor) {
            return Ok(());
        }
        let msg = VisitorMsg::Identify {
            site,
            name,
            email,
            tenant: myself.clone(),
        };
        self.visitor_cast(myself, visitor, msg).await
    }

    /// Views of the visitors online (all, or just `only`).
    pub(super) fn online_visitors(&self, only: Option<VisitorId>) -> Vec<VisitorView> {
        match only {
            Some(v) => self
                .visitors
                .get(&v)
                .map(|p| vec![self.visitor_view(v, Some(p), p.site)])
                .unwrap_or_default(),
            None => self
                .visitors
                .iter()
                .map(|(v, p)| self.visitor_view(*v, Some(p), p.site))
                .collect(),
        }
    }

    /// A visitor's record changed on disk: their presence and dashboards
    /// get the new view.
    pub(super) fn visitor_changed(&mut self, visitor: VisitorId, site: SiteId) {
        if let Some(p) = self.visitors.get_mut(&visitor) {
            let rec = self.ctx.store.visitor(self.id, visitor).ok().flatten();
            (p.name, p.email) = rec.map(|r| (r.name, r.email)).unwrap_or_default();
        }
        self.broadcast_visitor(visitor, site);
    }

    /// Whether `id` is yet to be counted as a visitor in the hour of `at`
    /// (and marks them counted).
    fn visit_due(&mut self, id: VisitorId, at: Timestamp) -> bool {
        let h = analytics::hour_of(at);
        if self.visits.0 != h {
            self.visits = (h, Default::default());
        }
        self.visits.1.insert(id)
    }

    /// Records the page a tab opened with: through the Visitor actor when it
    /// is live, else written here without waking one.
    fn visitor_hello_page(
        &mut self,
        id: VisitorId,
        site: SiteId,
        page: PageInfo,
        arrival: &Arrival,
        record: Option<Option<VisitorRecord>>,
    ) -> Result<(), ActorProcessingErr> {
        if self.erased.contains(&id) {
            return Ok(());
        }
        let at = Timestamp::now();
        let visit = self.visit_due(id, at).then(|| {
            let from = analytics::referrer_host(&page.referrer, &page.url);
            Box::new(analytics::visit_tags(
                &arrival.device.user_agent,
                &arrival.country,
                from,
            ))
        });
        let visit = match self.visitor_actors.get(&id) {
            Some((a, _)) => match a.cast(VisitorMsg::Seen {
                site,
                page: page.clone(),
                at,
                visit,
            }) {
                Ok(()) => return Ok(()),
                Err(ractor::MessagingErr::SendErr(VisitorMsg::Seen { visit, .. })) => visit,
                Err(_) => None,
            },
            None => visit,
        };
        let mut known = match record {
            Some(r) => Known::load_with(&self.ctx, self.id, id, r)?,
            None => Known::load(&self.ctx, self.id, id)?,
        };
        let b = known.seen(&self.ctx, (self.id, id), site, page, at, visit);
        self.ctx.writer.submit(b, Box::new(|_| {}));
        Ok(())
    }

    /// A visitor tab connected: presence, opening page, and the lease on
    /// their conversation when it is live.
    pub(super) fn visitor_hello(
        &mut self,
        visitor: VisitorId,
        site: SiteId,
        page: PageInfo,
        arrival: &Arrival,
        outbox: Outbox,
    ) -> Result<HelloReply, ActorProcessingErr> {
        if self.erased.contains(&visitor) {
            // Verified before the edge heard of the erasure: come back as someone new.
            outbox.close(close::RESTART);
            return Ok(HelloReply {
                conversation: None,
                stored: None,
                agents_online: false,
                look: self.look(site),
                suspended: false,
            });
        }
        if self.suspended {
            return Ok(HelloReply {
                conversation: None,
                stored: None,
                agents_online: false,
                look: self.look(site),
                suspended: true,
            });
        }
        // A visitor not online here yet is read at once (record,
        // conversation, device: one round trip on PostgreSQL).
        let first = match self.visitors.contains_key(&visitor) {
            true => None,
            false => Some(self.ctx.store.visitor_arrival(self.id, visitor)?),
        };
        self.remember_device(visitor, &arrival.device, first.as_ref().map(|f| &f.device));
        let (name, email) = first
            .as_ref()
            .and_then(|f| f.record.as_ref())
            .map(|r| (r.name.clone(), r.email.clone()))
            .unwrap_or_default();
        let p = self.visitors.entry(visitor).or_insert_with(|| Presence {
            site,
            tabs: Vec::new(),
            since: Timestamp::now(),
            conversation: None,
            name,
            email,
        });
        p.tabs.retain(|t| !t.outbox.is_closed());
        let since = p.since_on(&page);
        p.tabs.push(Tab {
            outbox: outbox.clone(),
            page: page.clone(),
            since,
        });
        let known = match (p.conversation, &first) {
            (Some(c), _) => Some(c),
            (None, Some(f)) => f.conversation,
            (None, None) => self.ctx.store.visitor_conversation(self.id, visitor)?,
        };
        if let Some(p) = self.visitors.get_mut(&visitor) {
            p.conversation = known;
        }
        // Queued frames follow `welcome`: a waiting visitor learns their place.
        if let Some((c, place)) = known.and_then(|c| Some((c, self.queue.told(c)?))) {
            outbox.frame(&super::queue::frame(c, place));
        }
        self.visitor_hello_page(visitor, site, page, arrival, first.map(|f| f.record))?;
        self.broadcast_visitor(visitor, site);
        // A live conversation is subscribed to by the socket itself (for an
        // exact view); one that is not live stays asleep and is shown from
        // storage: it subscribes this tab when something wakes it.
        let (mut conversation, mut stored) = (None, None);
        if let Some(c) = known {
            match self.conversations.get(&c) {
                Some(e) if !e.passivating && e.actor.is_some() => conversation = self.lease(c),
                _ => stored = self.ctx.store.conversation(self.id, c)?,
            }
        }
        Ok(HelloReply {
            conversation,
            stored,
            agents_online: self.agents_online(),
            look: self.look(site),
            suspended: false,
        })
    }

    /// The site's look for `welcome`: kept after the first read.
    fn look(&mut self, site: SiteId) -> SiteLook {
        if let Some(l) = self.looks.get(&site) {
            return l.clone();
        }
        let s = self
            .ctx
            .store
            .site_settings(self.id, site)
            .unwrap_or_default();
        let look = SiteLook {
            color: s.color,
            position: s.position,
            theme: s.theme,
        };
        self.looks.insert(site, look.clone());
        look
    }

    /// Stores what the visitor's browser said of itself when it changed
    /// (fire-and-forget: nobody waits for tracking data). A browser seen
    /// unchanged since this actor started costs nothing.
    /// `stored` is the device as already read, when it was.
    fn remember_device(
        &mut self,
        visitor: VisitorId,
        d: &VisitorDevice,
        stored: Option<&Option<VisitorDevice>>,
    ) {
        use std::hash::{Hash, Hasher};
        let digest = |d: &VisitorDevice| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            d.hash(&mut h);
            h.finish()
        };
        let mut d = d.clone();
        if self.devices.get(&visitor) == Some(&digest(&d)) {
            return;
        }
        let store = &self.ctx.store;
        // A connection that could not tell its time zone keeps the known one.
        let known = match stored {
            Some(s) => s.clone(),
            None if d.timezone.is_empty() => store.visitor_device(self.id, visitor).ok().flatten(),
            None => None,
        };
        if let Some(k) = &known {
            d.timezone.clone_from(&k.timezone);
        }
        if known.as_ref() != Some(&d) {
            let mut b = WriteBatch::new();
            store.put_visitor_device(&mut b, self.id, visitor, &d);
            self.ctx.writer.submit(b, Box::new(|_| {}));
        }
        if self.devices.len() >= MAX_DEVICES {
            self.devices.clear();
        }
        self.devices.insert(visitor, digest(&d));
    }

    /// A visitor tab moved to another page.
    pub(super) async fn visitor_page(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        visitor: VisitorId,
        socket: u64,
        page: PageInfo,
    ) -> Result<(), ActorProcessingErr> {
        let Some(p) = self.visitors.get_mut(&visitor) else {
            return Ok(());
        };
        // The tab that moved becomes the visitor's current page.
        if let Some(i) = p.tabs.iter().position(|t| t.outbox.id() == socket) {
            let mut t = p.tabs.remove(i);
            if t.page.url != page.url {
                t.since = Timestamp::now();
            }
            t.page = page.clone();
            p.tabs.push(t);
        }
        let site = p.site;
        self.visitor_seen(myself, visitor, site, page).await?;
        self.broadcast_visitor(visitor, site);
        Ok(())
    }

    /// A visitor tab disconnected; the last one takes the visitor offline.
    pub(super) fn visitor_bye(&mut self, visitor: VisitorId, socket: u64) {
        let Some(p) = self.visitors.get_mut(&visitor) else {
            return;
        };
        let before = p.tabs.last().map(|t| t.outbox.id());
        p.tabs
            .retain(|t| t.outbox.id() != socket && !t.outbox.is_closed());
        let site = p.site;
        if p.tabs.is_empty() {
            let conversation = p.conversation;
            let Some(gone) = self.visitors.remove(&visitor) else {
                return;
            };
            if !self.directory.snapshot().is_empty() {
                let view = Self::view_of(visitor, None, site, gone.name, gone.email.clone());
                self.broadcast_view(&view);
            }
            self.watch_for_replies(visitor, conversation, gone.email.is_some());
        } else if before == Some(socket) {
            self.broadcast_visitor(visitor, site);
        }
    }

    /// A visitor who gave an email left with a conversation: watch it, so
    /// that staff replies reach them by mail if they stay away (the sweep
    /// runs in the edge, which renders the mail). Written without waiting.
    fn watch_for_replies(
        &self,
        visitor: VisitorId,
        conversation: Option<ConversationId>,
        has_email: bool,
    ) {
        let store = &self.ctx.store;
        if !has_email {
            return;
        }
        let has_conversation = conversation.is_some()
            || store
                .visitor_conversation(self.id, visitor)
                .ok()
                .flatten()
                .is_some();
        if !has_conversation {
            return;
        }
        let now = Timestamp::now();
        let after = self.ctx.cfg.missed_reply_after;
        let w = parley_engine::mail::ReplyWatch {
            tenant_id: self.id,
            visitor_id: visitor,
            since: now,
            mailed_upto: 0,
            until: now.after(std::time::Duration::from_secs(3 * 24 * 3600)),
        };
        let mut b = parley_storage::WriteBatch::new();
        store.put_reply_watch(&mut b, now.after(after), &w);
        self.ctx.writer.submit(b, Box::new(|_| {}));
    }

    /// Passivates Visitor actors idle for longer than the configured time.
    pub(super) fn passivate_idle_visitors(&mut self) {
        let idle = self.ctx.cfg.visitor_idle;
        self.visitor_actors.retain(|_, (a, last)| {
            let keep = last.elapsed() < idle;
            if !keep {
                // Drain: page views already queued are still written.
                let _ = a.drain();
            }
            keep
        });
    }

    async fn spawn_staff(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        record: StaffRecord,
    ) -> Result<ActorRef<StaffMsg>, ActorProcessingErr> {
        let id = record.id;
        let (a, _) = Actor::spawn_linked(
            None,
            Staff,
            StaffArgs {
                tenant: myself.clone(),
                record,
                ctx: self.ctx.clone(),
            },
            myself.get_cell(),
        )
        .await?;
        self.staff_by_actor.insert(a.get_id(), id);
        Ok(a)
    }

    /// A staff socket authenticated: it joins the directory. Answers the
    /// visitors online now.
    pub(super) async fn staff_join(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        staff: StaffRecord,
        session: Option<SessionId>,
        outbox: Outbox,
    ) -> Result<(Vec<VisitorView>, usize), ActorProcessingErr> {
        let id = staff.id;
        let revoked = self
            .revoked
            .get(&id)
            .is_some_and(|v| staff.token_version < *v);
        if revoked || self.suspended {
            outbox.close(if revoked {
                close::UNAUTHORIZED
            } else {
                close::TENANT_SUSPENDED
            });
            return Ok((Vec::new(), 0));
        }
        if !self.staff.contains_key(&id) {
            let actor = self.spawn_staff(myself, staff).await?;
            self.staff.insert(
                id,
                StaffEntry {
                    actor,
                    sockets: Vec::new(),
                    availability: Availability::Available,
                },
            );
        }
        if let Some(e) = self.staff.get_mut(&id) {
            e.sockets.retain(|(o, _)| !o.is_closed());
            e.sockets.push((outbox.clone(), session));
            let _ = e.actor.cast(StaffMsg::Joined(outbox, session));
        }
        self.publish_directory();
        Ok((
            self.newest_visitors(super::READY_VISITORS),
            self.visitors.len(),
        ))
    }

    /// The `n` visitors online who arrived last, newest first.
    fn newest_visitors(&self, n: usize) -> Vec<VisitorView> {
        let mut all: Vec<(&VisitorId, &Presence)> = self.visitors.iter().collect();
        let newest = |a: &(&VisitorId, &Presence), b: &(&VisitorId, &Presence)| {
            (b.1.since, b.0).cmp(&(a.1.since, a.0))
        };
        if all.len() > n && n > 0 {
            all.select_nth_unstable_by(n - 1, newest);
        }
        all.truncate(n);
        all.sort_by(newest);
        all.into_iter()
            .map(|(v, p)| self.visitor_view(*v, Some(p), p.site))
            .collect()
    }

    /// A staff socket disconnected; after the last one the Staff actor passivates.
    pub(super) fn staff_leave(&mut self, staff: StaffId, socket: u64) {
        let Some(e) = self.staff.get_mut(&staff) else {
            return;
        };
        e.sockets
            .retain(|(o, _)| o.id() != socket && !o.is_closed());
        let _ = e.actor.cast(StaffMsg::Left(socket));
        if e.sockets.is_empty() {
            e.actor.stop(Some("offline".into()));
            if let Some(e) = self.staff.remove(&staff) {
                self.staff_by_actor.remove(&e.actor.get_id());
            }
        }
        self.publish_directory();
    }

    /// Closes the staff member's sockets (through their Staff actor) and
    /// refuses sockets authenticated before `token_version`.
    pub(super) fn revoke_staff(&mut self, staff: StaffId, token_version: u32) {
        let v = self.revoked.entry(staff).or_default();
        *v = (*v).max(token_version);
        if let Some(e) = self.staff.get(&staff) {
            let _ = e.actor.cast(StaffMsg::Revoke(close::UNAUTHORIZED));
        }
    }

    /// Closes every socket of the tenant: staff and visitors alike.
    pub(super) fn suspend(&mut self) {
        self.suspended = true;
        for e in self.staff.values() {
            let _ = e.actor.cast(StaffMsg::Revoke(close::TENANT_SUSPENDED));
        }
        for p in self.visitors.values() {
            for t in &p.tabs {
                t.outbox.close(close::TENANT_SUSPENDED);
            }
        }
    }

    /// A Staff actor panicked: its sockets stay, a fresh actor takes them over.
    pub(super) async fn staff_crashed(
        &mut self,
        myself: &ActorRef<TenantMsg>,
        staff: StaffId,
    ) -> Result<(), ActorProcessingErr> {
        let Some(record) = self.ctx.store.staff(self.id, staff)? else {
            return Ok(());
        };
        if !self.staff.contains_key(&staff) {
            return Ok(());
        }
        let actor = self.spawn_staff(myself, record).await?;
        if let Some(e) = self.staff.get_mut(&staff) {
            for (o, session) in &e.sockets {
                let _ = actor.cast(StaffMsg::Joined(o.clone(), *session));
            }
            e.actor = actor;
        }
        Ok(())
    }
}

impl TenantState {
    /// Erases everything stored about `visitor` (see [`TenantMsg::EraseVisitor`]).
    pub(super) async fn erase_visitor(
        &mut self,
        visitor: VisitorId,
        audit: parley_engine::account::AuditRecord,
    ) -> Result<usize, String> {
        use parley_storage::{AuthStore, PrivacyStore};
        let wait = Some(self.ctx.cfg.call_timeout);
        self.erased.insert(visitor);
        // Nothing of the visitor stays live: their tabs close (the widget
        // comes back as someone new) and their actors stop, so every write
        // they make is queued before the deletion.
        if let Some(p) = self.visitors.remove(&visitor) {
            for t in &p.tabs {
                t.outbox.close(close::RESTART);
            }
            self.broadcast_visitor(visitor, p.site);
        }
        if let Some((a, _)) = self.visitor_actors.remove(&visitor) {
            self.visitor_by_actor.remove(&a.get_id());
            let _ = a.drain_and_wait(wait).await;
        }
        let live: Vec<ConversationId> = self
            .conversations
            .iter()
            .filter(|(_, e)| e.visitor == visitor)
            .map(|(id, _)| *id)
            .collect();
        for id in live {
            if let Some(e) = self.conversations.remove(&id) {
                e.slot.close_subscribers(close::RESTART);
                e.slot.set_actor(None);
                for w in e.waiters {
                    let _ = w.send(None);
                }
                if let Some(a) = e.actor {
                    self.conv_by_actor.remove(&a.get_id());
                    let _ = a.stop_and_wait(Some("visitor erased".into()), wait).await;
                }
            }
            self.queue.set(id, None);
        }
        self.devices.remove(&visitor);
        self.visits.1.remove(&visitor);
        let store = &self.ctx.store;
        let mut b = parley_storage::WriteBatch::new();
        let n = store
            .erase_visitor(&mut b, self.id, visitor)
            .map_err(|e| e.to_string())?;
        store.append_audit(&mut b, &audit);
        self.ctx.writer.write(b).await.map_err(|e| e.to_string())?;
        Ok(n)
    }
}
