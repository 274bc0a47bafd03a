//! Visitor(v): one per visitor across all their tabs, activated when there
//! is work (a page view) and passivated by its Tenant when idle. Presence
//! itself (online, current page) stays in the Tenant as a small entry, so an
//! idle connected visitor costs no live actor.
//!
//! It keeps the visitor's record (first and last seen) and appends each page
//! view to storage. Writes are fire-and-forget through the group-commit
//! writer: tracking data is not acknowledged to anyone.

use crate::Ctx;
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

/// A visitor's live state.
pub struct VisitorState {
    ctx: Arc<Ctx>,
    record: Option<VisitorRecord>,
    tenant: TenantId,
    id: VisitorId,
    last_page: Option<PageInfo>,
}

impl VisitorState {
    /// Records a sighting; returns the writes it needs.
    fn seen(&mut self, site: SiteId, page: PageInfo, at: Timestamp) -> WriteBatch {
        let mut b = WriteBatch::new();
        let rec = self.record.get_or_insert(VisitorRecord {
            id: self.id,
            tenant_id: self.tenant,
            site_id: site,
            name: None,
            email: None,
            first_seen: at,
            last_seen: at,
        });
        rec.last_seen = at;
        self.ctx.store.put_visitor(&mut b, rec);
        // A reconnect on the same page is not a new page view.
        if self.last_page.as_ref() != Some(&page) && !page.url.is_empty() {
            self.ctx.store.add_page_view(
                &mut b,
                self.tenant,
                self.id,
                &PageView {
                    page: page.clone(),
                    at,
                },
            );
            self.last_page = Some(page);
        }
        b
    }
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
        let record = args.ctx.store.visitor(args.tenant, args.id)?;
        let last_page = args
            .ctx
            .store
            .page_views(args.tenant, args.id, 1)?
            .pop()
            .map(|v| v.page);
        Ok(VisitorState {
            ctx: args.ctx,
            record,
            tenant: args.tenant,
            id: args.id,
            last_page,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            VisitorMsg::Seen { site, page, at } => {
                let b = state.seen(site, page, at);
                state.ctx.writer.submit(b, Box::new(|_| {}));
            }
        }
        Ok(())
    }
}
