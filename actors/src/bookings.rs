//! Bookings(t): the one writer of a tenant's consultations. Every booking,
//! move, reassignment or status change of the tenant passes through it, so
//! "is this staff member free?" and "book them" happen as one step: two
//! visitors racing for one slot (or one person across two sites) can never
//! both get it. It keeps who is booked when in memory (loaded from storage
//! at start) and answers the free-slot queries from the same picture.

use parley_engine::booking::{free_staff, BookingRecord, Busy, Span};
use parley_engine::{StaffId, TenantId, Timestamp};
use parley_storage::{BookingStore, WriteBatch};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;

use crate::Ctx;

/// Why a booking was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceError {
    /// Nobody who takes bookings is free then.
    Taken,
    /// The booking changed since the caller read it (a link used twice).
    Stale,
    /// Storage failed; nothing was written.
    Storage(String),
}

/// Messages the actor handles.
pub enum BookingsMsg {
    /// Writes `booking` with `batch`. When it holds a slot, it must get a
    /// staff member who is free then: its assignee if it has one, else the
    /// first free of `candidates` (its own earlier version never counts as
    /// busy). With `expect_version`, the stored booking must still have
    /// that `link_version`.
    Place {
        booking: Box<BookingRecord>,
        candidates: Vec<StaffId>,
        buffer_minutes: u32,
        expect_version: Option<u32>,
        batch: WriteBatch,
        reply: RpcReplyPort<Result<BookingRecord, PlaceError>>,
    },
    /// What is booked within `span`.
    Busy {
        span: Span,
        reply: RpcReplyPort<Vec<Busy>>,
    },
}

/// Start-up arguments.
pub struct BookingsArgs {
    pub ctx: Arc<Ctx>,
    pub tenant: TenantId,
}

/// The actor.
pub struct Bookings;

/// Who is booked when.
pub struct BookingsState {
    ctx: Arc<Ctx>,
    tenant: TenantId,
    busy: Vec<Busy>,
}

impl BookingsState {
    async fn place(
        &mut self,
        mut booking: BookingRecord,
        candidates: &[StaffId],
        buffer_minutes: u32,
        expect_version: Option<u32>,
        mut batch: WriteBatch,
    ) -> Result<BookingRecord, PlaceError> {
        let storage = |e: parley_storage::StorageError| PlaceError::Storage(e.to_string());
        if let Some(v) = expect_version {
            let stored = self
                .ctx
                .store
                .booking(self.tenant, booking.id)
                .map_err(storage)?;
            if stored.is_none_or(|s| s.link_version != v) {
                return Err(PlaceError::Stale);
            }
        }
        if booking.status.holds_slot() {
            let want: Vec<StaffId> = match booking.assignee {
                Some(s) => vec![s],
                None => candidates.to_vec(),
            };
            let who = free_staff(
                &want,
                &self.busy,
                booking.span,
                buffer_minutes,
                Some(booking.id),
            )
            .ok_or(PlaceError::Taken)?;
            booking.assignee = Some(who);
        }
        let new = expect_version.is_none()
            && self
                .ctx
                .store
                .booking(self.tenant, booking.id)
                .map_err(storage)?
                .is_none();
        if new {
            use parley_engine::analytics::{hour_of, Event};
            use parley_storage::keys::{self, Tally};
            let h = hour_of(booking.created_at);
            let site = Tally::Site(booking.site_id);
            batch.count(keys::bucket(self.tenant, site, h), Event::Booking);
            if let Some(s) = booking.assignee {
                batch.count(
                    keys::bucket(self.tenant, Tally::Staff(s), h),
                    Event::Booking,
                );
            }
        }
        self.ctx.store.put_booking(&mut batch, &booking);
        self.ctx.writer.write(batch).await.map_err(storage)?;
        self.busy.retain(|b| b.booking != booking.id);
        self.busy.extend(booking.busy());
        let old = Timestamp::now().millis().saturating_sub(86_400_000);
        self.busy.retain(|b| b.span.end.millis() > old);
        Ok(booking)
    }
}

impl Actor for Bookings {
    type Msg = BookingsMsg;
    type State = BookingsState;
    type Arguments = BookingsArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: BookingsArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let since = Timestamp(Timestamp::now().millis().saturating_sub(86_400_000));
        let busy = args
            .ctx
            .store
            .bookings_holding(args.tenant, since)?
            .iter()
            .filter_map(BookingRecord::busy)
            .collect();
        Ok(BookingsState {
            ctx: args.ctx,
            tenant: args.tenant,
            busy,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BookingsMsg::Place {
                booking,
                candidates,
                buffer_minutes,
                expect_version,
                batch,
                reply,
            } => {
                let r = state
                    .place(*booking, &candidates, buffer_minutes, expect_version, batch)
                    .await;
                let _ = reply.send(r);
            }
            BookingsMsg::Busy { span, reply } => {
                let v = state
                    .busy
                    .iter()
                    .filter(|b| b.span.start < span.end && span.start < b.span.end)
                    .copied()
                    .collect();
                let _ = reply.send(v);
            }
        }
        Ok(())
    }
}
