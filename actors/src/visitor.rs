//! Visitor(v): one per visitor across all their tabs, activated when there
//! is work (a navigation to another page) and passivated by its Tenant when
//! idle. Presence itself (online, current page) stays in the Tenant as a
//! small entry, and the page a tab opens with is recorded by the Tenant
//! without waking the actor, so an idle connected visitor costs no live
//! actor — not even during a reconnect storm.
//!
//! It keeps the visitor's record (first and last seen) and appends each page
//! view to storage. Writes are fire-and-forget through the group-commit
//! writer: tracking data is not acknowledged to anyone.

use crate::tenant::TenantMsg;
use crate::Ctx;
use parley_engine::analytics::{self, Event, VisitTags};
use parley_engine::records::*;
use parley_engine::*;
use parley_storage::{VisitorStore, WriteBatch};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

/// Messages a Visitor handles.
pub enum VisitorMsg {
    /// The visitor was seen on `page`.
    Seen {
        site: SiteId,
        page: PageInfo,
        at: Timestamp,
        /// Set when this sighting is the visitor's first in its hour.
        visit: Option<Box<VisitTags>>,
    },
    /// The visitor said who they are; `tenant` hears once it is stored.
    Identify {
        site: SiteId,
        name: Option<String>,
        email: Option<String>,
        tenant: ActorRef<TenantMsg>,
    },
}

/// Start-up arguments.
pub struct VisitorArgs {
    pub ctx: Arc<Ctx>,
    pub tenant: TenantId,
    pub id: VisitorId,
}

/// The actor.
pub struct Visitor;

/// What is known of a visitor between sightings.
pub(crate) struct Known {
    record: Option<VisitorRecord>,
    last_page: Option<PageInfo>,
}

impl Known {
    /// Reads the visitor's record and last page view.
    pub(crate) fn load(ctx: &Ctx, tenant: TenantId, id: VisitorId) -> parley_storage::Result<Self> {
        Self::load_with(ctx, tenant, id, ctx.store.visitor(tenant, id)?)
    }

    /// [`Self::load`] with the record already read.
    pub(crate) fn load_with(
        ctx: &Ctx,
        tenant: TenantId,
        id: VisitorId,
        record: Option<VisitorRecord>,
    ) -> parley_storage::Result<Self> {
        Ok(Self {
            record,
            last_page: ctx.store.page_views(tenant, id, 1)?.pop().map(|v| v.page),
        })
    }

    /// The visitor's record, created (first seen `at`) if there is none yet.
    fn record_or_new(
        &mut self,
        (tenant, id): (TenantId, VisitorId),
        site: SiteId,
        at: Timestamp,
    ) -> &mut VisitorRecord {
        self.record.get_or_insert(VisitorRecord {
            id,
            tenant_id: tenant,
            site_id: site,
            name: None,
            email: None,
            first_seen: at,
            last_seen: at,
        })
    }

    /// Records the visitor's name and email (given ones replace stored ones).
    pub(crate) fn identify(
        &mut self,
        ctx: &Ctx,
        (tenant, id): (TenantId, VisitorId),
        site: SiteId,
        name: Option<String>,
        email: Option<String>,
    ) -> WriteBatch {
        let at = Timestamp::now();
        let rec = self.record_or_new((tenant, id), site, at);
        if name.is_some() {
            rec.name = name;
        }
        if email.is_some() {
            rec.email = email;
        }
        let mut b = WriteBatch::new();
        ctx.store.put_visitor(&mut b, rec);
        b
    }

    /// Records a sighting on `page`: the record (created on first sight,
    /// `last_seen` bumped), a page view when the page changed, and their
    /// analytics counts (the visit counted once per visitor and hour).
    pub(crate) fn seen(
        &mut self,
        ctx: &Ctx,
        (tenant, id): (TenantId, VisitorId),
        site: SiteId,
        page: PageInfo,
        at: Timestamp,
        visit: Option<Box<VisitTags>>,
    ) -> WriteBatch {
        use parley_storage::keys::{self, Tally};
        let mut b = WriteBatch::new();
        let h = analytics::hour_of(at);
        if let Some(tags) = visit {
            let who = [site.to_bytes(), id.to_bytes()].concat();
            b.count_once(
                keys::bucket(tenant, Tally::Site(site), h),
                keys::once(tenant, h, b'v', &who),
                Event::Visit(tags),
            );
        }
        let rec = self.record_or_new((tenant, id), site, at);
        rec.last_seen = at;
        ctx.store.put_visitor(&mut b, rec);
        // A reconnect on the same page is not a new page view.
        if self.last_page.as_ref() != Some(&page) && !page.url.is_empty() {
            ctx.store.add_page_view(
                &mut b,
                tenant,
                id,
                &PageView {
                    page: page.clone(),
                    at,
                },
            );
            b.count(
                keys::bucket(tenant, Tally::Site(site), h),
                Event::PageView(analytics::page_path(&page.url)),
            );
            self.last_page = Some(page);
        }
        b
    }
}

/// A visitor's live state.
pub struct VisitorState {
    ctx: Arc<Ctx>,
    tenant: TenantId,
    id: VisitorId,
    known: Known,
}

impl Actor for Visitor {
    type Msg = VisitorMsg;
    type State = VisitorState;
    type Arguments = VisitorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: VisitorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let known = Known::load(&args.ctx, args.tenant, args.id)?;
        Ok(VisitorState {
            ctx: args.ctx,
            tenant: args.tenant,
            id: args.id,
            known,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            VisitorMsg::Seen {
                site,
                page,
                at,
                visit,
            } => {
                let key = (state.tenant, state.id);
                let b = state.known.seen(&state.ctx, key, site, page, at, visit);
                state.ctx.writer.submit(b, Box::new(|_| {}));
            }
            VisitorMsg::Identify {
                site,
                name,
                email,
                tenant,
            } => {
                let key = (state.tenant, state.id);
                let b = state.known.identify(&state.ctx, key, site, name, email);
                let visitor = state.id;
                state.ctx.writer.submit(
                    b,
                    Box::new(move |r| {
                        if r.is_ok() {
                            let _ = tenant.cast(TenantMsg::VisitorChanged { visitor, site });
                        }
                    }),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_storage::{Store, StoreConfig, Writer, WriterConfig};

    #[test]
    fn a_sighting_records_the_visitor_and_only_new_pages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &StoreConfig::default()).unwrap();
        let writer = Writer::start(store.clone(), WriterConfig::default());
        let ctx = Ctx {
            store: store.clone(),
            writer,
            cfg: Default::default(),
            hooks: Default::default(),
            keeper: None,
        };
        let (t, v, site) = (TenantId::new(), VisitorId::new(), SiteId::new());
        let page = |u: &str| PageInfo {
            url: u.into(),
            ..Default::default()
        };
        let mut k = Known::load(&ctx, t, v).unwrap();
        store
            .write_now(k.seen(&ctx, (t, v), site, page("/a"), Timestamp(1), None))
            .unwrap();
        store
            .write_now(k.seen(&ctx, (t, v), site, page("/a"), Timestamp(2), None))
            .unwrap();
        store
            .write_now(k.seen(&ctx, (t, v), site, page("/b"), Timestamp(3), None))
            .unwrap();
        let views = store.page_views(t, v, 10).unwrap();
        assert_eq!(
            views
                .iter()
                .map(|p| p.page.url.as_str())
                .collect::<Vec<_>>(),
            ["/a", "/b"]
        );
        let rec = store.visitor(t, v).unwrap().unwrap();
        assert_eq!(
            (rec.first_seen, rec.last_seen),
            (Timestamp(1), Timestamp(3))
        );
        // A reload picks up where the stored state left off.
        let mut again = Known::load(&ctx, t, v).unwrap();
        assert_eq!(
            again
                .seen(&ctx, (t, v), site, page("/b"), Timestamp(4), None)
                .len(),
            1
        );
    }
}
