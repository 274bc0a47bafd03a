//! The dashboard's bell: a notification per staff member for a new contact
//! message, a new booking, or something assigned to them — written with the
//! change that caused it, then pushed live to their open dashboards.

use super::principal::Authed;
use super::ApiError;
use crate::state::App;
use parley_engine::account::Notice;
use parley_engine::protocol::ServerFrame;
use parley_engine::*;
use parley_storage::{DeskStore, WriteBatch};

/// How many of the newest notifications count towards "unread".
const WINDOW: usize = 200;

/// Notifications written in a batch, to push once it is durable.
#[must_use]
#[derive(Default)]
pub struct Outgoing(TenantId, Vec<(StaffId, Notice)>);

/// Adds a notification for each of `to` to `batch`.
pub fn add(
    app: &App,
    batch: &mut WriteBatch,
    t: TenantId,
    to: &[StaffId],
    kind: &str,
    title: &str,
    link: &str,
) -> Outgoing {
    let mut out = Vec::new();
    for s in to {
        let n = Notice {
            id: NotificationId::new(),
            kind: kind.into(),
            title: title.chars().take(200).collect(),
            link: link.into(),
            read: false,
            created_at: Timestamp::now(),
        };
        app.store.put_notice(batch, t, *s, &n);
        out.push((*s, n));
    }
    Outgoing(t, out)
}

fn unread(app: &App, t: TenantId, s: StaffId) -> u32 {
    app.store
        .notices(t, s, WINDOW)
        .map(|v| v.iter().filter(|n| !n.read).count() as u32)
        .unwrap_or(0)
}

/// Pushes notifications (whose batch is durable) to their staff's sockets.
pub async fn push(app: &App, out: Outgoing) {
    let Outgoing(t, items) = out;
    if items.is_empty() {
        return;
    }
    for (staff, n) in items {
        let frame = ServerFrame::Notification {
            notification: &n,
            unread: unread(app, t, staff),
        };
        let what = parley_actors::Tell::StaffFrame {
            staff,
            frame: frame.to_json().into_bytes(),
        };
        crate::ws::tell(app, t, what).await;
    }
}

/// The caller's notifications, newest first, and how many are unread.
pub fn list(app: &App, me: &Authed) -> Result<(Vec<Notice>, u32), ApiError> {
    let v = app.store.notices(me.tenant(), me.staff.id, WINDOW)?;
    let unread = v.iter().filter(|n| !n.read).count() as u32;
    Ok((v, unread))
}

/// Marks the caller's notifications read: those named, or all.
pub async fn mark_read(
    app: &App,
    me: &Authed,
    ids: Option<Vec<NotificationId>>,
) -> Result<u32, ApiError> {
    let mut b = WriteBatch::new();
    let mut left = 0;
    for mut n in app.store.notices(me.tenant(), me.staff.id, WINDOW)? {
        if n.read {
            continue;
        }
        if ids.as_ref().is_none_or(|ids| ids.contains(&n.id)) {
            n.read = true;
            app.store.put_notice(&mut b, me.tenant(), me.staff.id, &n);
        } else {
            left += 1;
        }
    }
    app.writer.write(b).await?;
    Ok(left)
}
