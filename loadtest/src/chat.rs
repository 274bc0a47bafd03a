//! `chat`: visitors open conversations and send at `--rate`; staff claim
//! their share and answer every visitor message. Every message body and
//! client id carries its send time; every receiver checks seqs.
//!
//! Which staff socket owns a conversation is decided from its first
//! message (`w{worker}v{visitor}`), so a conversation and everyone taking
//! part in it live in one process and loss is counted exactly: a seq that
//! was acked (to either side) but never reached the visitor, or never
//! reached the claiming staff member, is lost.

use crate::net::{self, Got, In, Rx, Tx};
use crate::run::Run;
use crate::stats::{add, now_us, Lat};
use anyhow::{bail, Result};
use parley_engine::records::ParticipantKind;
use parley_engine::{ConversationId, StaffId};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What one receiver has seen of one conversation.
#[derive(Default)]
pub struct Seen {
    max: u64,
    seqs: HashSet<u64>,
}

impl Seen {
    /// Records a delivered seq; counts duplicates and out-of-order arrivals.
    pub fn see(&mut self, run: &Run, seq: u64) -> bool {
        if !self.seqs.insert(seq) {
            add(&run.live.duplicated, 1);
            return false;
        }
        if seq < self.max {
            add(&run.live.out_of_order, 1);
        }
        self.max = self.max.max(seq);
        true
    }

    pub fn has(&self, seq: u64) -> bool {
        self.seqs.contains(&seq)
    }
}

/// One conversation, shared by its visitor and its staff member.
#[derive(Default)]
struct Track {
    acked: BTreeSet<u64>,
    visitor: Seen,
    staff: Seen,
    claimed: bool,
}

type Tracks = Mutex<HashMap<usize, Arc<Mutex<Track>>>>;

/// A conversation a staff socket owns: its track, whether the claim went
/// through, and the visitor seqs still to answer.
type Ours = (Arc<Mutex<Track>>, bool, Vec<u64>);

/// The send stamp at the end of a client id or at the start of a body.
fn stamp_of_id(id: &str) -> Option<u64> {
    id.rsplit('.').next()?.parse().ok()
}

fn stamp_of_body(body: &str) -> Option<u64> {
    body.split(' ').next()?.parse().ok()
}

/// `w3v17` in a body → visitor 17 of worker 3.
fn owner_of_body(body: &str) -> Option<(u32, usize)> {
    let tag = body.split(' ').nth(1)?.strip_prefix('w')?;
    let (w, v) = tag.split_once('v')?;
    Some((w.parse().ok()?, v.parse().ok()?))
}

fn latency(run: &Run, kind: Lat, stamp: Option<u64>) {
    if let Some(s) = stamp {
        run.live.record(kind, now_us().saturating_sub(s));
    }
}

pub async fn run(run: Arc<Run>) -> Result<()> {
    let tracks: Arc<Tracks> = Arc::default();
    let stop = tokio::sync::watch::channel(false);
    let mut staff = Vec::new();
    let local_staff = run.local_staff();
    for (slot, &global) in local_staff.iter().enumerate() {
        let (r, tracks, stop) = (run.clone(), tracks.clone(), stop.1.clone());
        let n = local_staff.len();
        staff.push(tokio::spawn(async move {
            if let Err(e) = staff_member(&r, &tracks, global, slot, n, stop).await {
                r.fail(format!("staff {global}: {e:#}"));
            }
        }));
        tokio::time::sleep(run.ramp_gap()).await;
    }
    run.staff_ready(local_staff.len()).await?;
    run.barrier("staff").await?;
    let visitors = run
        .spawn_visitors(|run, i| {
            let tracks = tracks.clone();
            async move { visitor(&run, &tracks, i).await }
        })
        .await;
    for v in visitors {
        let _ = v.await;
    }
    let _ = stop.0.send(true);
    for s in staff {
        let _ = s.await;
    }
    // Loss: every acked seq must have reached the visitor and, when staff
    // take part, the staff member who claimed the conversation.
    let with_staff = !local_staff.is_empty();
    for (i, t) in tracks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let t = t.lock().unwrap_or_else(|e| e.into_inner());
        let missed = |seen: &Seen| {
            t.acked
                .iter()
                .copied()
                .filter(|s| !seen.has(*s))
                .collect::<Vec<_>>()
        };
        let (by_visitor, by_staff) = (missed(&t.visitor), missed(&t.staff));
        let mut lost = by_visitor.len();
        if !by_visitor.is_empty() {
            run.note(format!(
                "visitor {i} never received acked seqs {by_visitor:?}"
            ));
        }
        if with_staff {
            if t.claimed {
                lost += by_staff.len();
                if !by_staff.is_empty() {
                    run.note(format!(
                        "the staff member of visitor {i} never received acked seqs {by_staff:?}"
                    ));
                }
            } else {
                run.fail("a conversation was never claimed by its staff member".into());
            }
        }
        add(&run.live.lost, lost as u64);
    }
    Ok(())
}

async fn visitor(run: &Run, tracks: &Tracks, i: usize) -> Result<()> {
    let (mut tx, mut rx, _) = run
        .target
        .visitor(None, "https://loadtest.invalid/chat".into())
        .await?;
    run.connected();
    let track: Arc<Mutex<Track>> = Arc::default();
    tracks
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(i, track.clone());
    let result = visitor_loop(run, &track, i, &mut tx, &mut rx).await;
    run.disconnected();
    drop(tx);
    result
}

async fn visitor_loop(
    run: &Run,
    track: &Mutex<Track>,
    i: usize,
    tx: &mut Tx,
    rx: &mut Rx,
) -> Result<()> {
    let with_staff = run.args.staff > 0;
    let (mut n, mut inflight, mut acked, mut replies) = (0usize, 0usize, 0usize, 0usize);
    // Seqs acked to us whose `message` has not reached us yet.
    let mut owed = HashSet::new();
    let mut tick = run.send_interval();
    let deadline = run.send_deadline();
    let w = run.worker;
    loop {
        let sending =
            tokio::time::Instant::now() < deadline && run.args.messages.is_none_or(|m| n < m);
        if !sending && inflight == 0 && owed.is_empty() && (!with_staff || replies >= acked) {
            return Ok(());
        }
        let may_send = sending && inflight < run.args.window;
        tokio::select! {
            _ = tick.tick(), if may_send => {
                let stamp = now_us();
                let frame = net::post(format!("{w}.{i}.{n}.{stamp}"), format!("{stamp} w{w}v{i} n{n}"), None);
                net::send(tx, &frame).await?;
                run.sent();
                n += 1;
                inflight += 1;
            }
            got = net::next(rx, run.drain_wait()) => match got {
                Got::Text(t) => {
                    let f: In = serde_json::from_str(&t)?;
                    match &*f.ty {
                        "ack" => {
                            // A second ack for one message carries the same seq.
                            let mut t = track.lock().unwrap_or_else(|e| e.into_inner());
                            if t.acked.insert(f.seq) {
                                if !t.visitor.has(f.seq) {
                                    owed.insert(f.seq);
                                }
                                drop(t);
                                inflight = inflight.saturating_sub(1);
                                acked += 1;
                                run.acked();
                                latency(run, Lat::Ack, f.client_id.as_deref().and_then(stamp_of_id));
                            } else {
                                add(&run.live.duplicated, 1);
                            }
                        }
                        "message" => {
                            let kind = f.from.as_ref().map(|f| f.kind);
                            let fresh = track.lock().unwrap_or_else(|e| e.into_inner()).visitor.see(run, f.seq);
                            owed.remove(&f.seq);
                            if fresh && kind != Some(ParticipantKind::System) {
                                run.delivered();
                                latency(run, Lat::Delivery, f.body.as_deref().and_then(stamp_of_body));
                                if kind == Some(ParticipantKind::Staff) {
                                    replies += 1;
                                }
                            }
                        }
                        "error" => {
                            inflight = inflight.saturating_sub(1);
                            run.fail(format!("visitor {i}: server error {t}"));
                        }
                        _ => {}
                    }
                }
                Got::Closed(why) => {
                    add(&run.live.dropped, 1);
                    bail!("visitor {i}: the server closed the socket: {why}");
                }
                Got::Timeout => bail!(
                    "visitor {i}: nothing for {:?} with {inflight} unacked, {} undelivered, {replies}/{acked} replies",
                    run.drain_wait(),
                    owed.len()
                ),
            }
        }
    }
}

/// One staff member: claims the conversations of its share of the visitors
/// of this process and answers each visitor message once.
async fn staff_member(
    run: &Run,
    tracks: &Tracks,
    global: usize,
    slot: usize,
    of: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    let token = run.login(global).await?;
    let (mut tx, mut rx) = run.target.ws("/ws/staff").await?;
    net::send(
        &mut tx,
        &parley_engine::protocol::ClientFrame::Auth { token },
    )
    .await?;
    let ready = net::until(&mut rx, "ready", Duration::from_secs(30)).await?;
    let me: StaffId = serde_json::from_str::<In>(&ready)?
        .staff
        .map(|s| s.id)
        .ok_or_else(|| anyhow::anyhow!("ready without staff"))?;
    run.connected();
    run.staff_up();
    // conversation → its track (when ours), whether it is assigned to us,
    // and the replies waiting for the assignment.
    let mut mine: HashMap<ConversationId, Option<Ours>> = HashMap::new();
    let (mut k, mut unacked, mut stopping) = (0u64, 0u64, false);
    // Our own replies, acked, whose `message` has not reached us yet.
    let mut owed: HashSet<(ConversationId, u64)> = HashSet::new();
    let w = run.worker;
    loop {
        if stopping && unacked == 0 && owed.is_empty() {
            break;
        }
        let wait = if stopping {
            run.drain_wait()
        } else {
            Duration::from_secs(3600)
        };
        let got = tokio::select! {
            _ = stop.changed(), if !stopping => { stopping = true; continue }
            got = net::next(&mut rx, wait) => got,
        };
        let t = match got {
            Got::Text(t) => t,
            Got::Closed(why) => {
                add(&run.live.dropped, 1);
                bail!("staff socket closed: {why}");
            }
            Got::Timeout if stopping => bail!(
                "{unacked} replies never acked, {} never delivered back",
                owed.len()
            ),
            Got::Timeout => continue,
        };
        let f: In = serde_json::from_str(&t)?;
        let Some(c) = f.conversation_id.or(f.conversation.as_ref().map(|c| c.id)) else {
            continue;
        };
        let mut replies = Vec::new();
        match &*f.ty {
            "message" => {
                let body = f.body.as_deref().unwrap_or_default();
                let kind = f.from.as_ref().map(|f| f.kind);
                let entry = mine.entry(c).or_insert_with(|| {
                    let (ow, v) = owner_of_body(body)?;
                    if ow != w || v % of != slot {
                        return None;
                    }
                    let track = tracks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .get(&v)
                        .cloned()?;
                    Some((track, false, Vec::new()))
                });
                let Some((track, assigned, waiting)) = entry else {
                    continue;
                };
                let claim = {
                    let mut tr = track.lock().unwrap_or_else(|e| e.into_inner());
                    !std::mem::replace(&mut tr.claimed, true)
                };
                if claim {
                    net::send(
                        &mut tx,
                        &parley_engine::protocol::ClientFrame::Claim { conversation_id: c },
                    )
                    .await?;
                }
                let fresh = track
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .staff
                    .see(run, f.seq);
                owed.remove(&(c, f.seq));
                if fresh && kind != Some(ParticipantKind::System) {
                    run.delivered();
                    latency(run, Lat::Delivery, stamp_of_body(body));
                    if kind == Some(ParticipantKind::Visitor) {
                        waiting.push(f.seq);
                    }
                }
                if *assigned {
                    replies = std::mem::take(waiting);
                }
            }
            "conversation" => {
                let Some(Some((_, assigned, waiting))) = mine.get_mut(&c) else {
                    continue;
                };
                if f.conversation.as_ref().and_then(|v| v.assignee) == Some(me) {
                    *assigned = true;
                    replies = std::mem::take(waiting);
                }
            }
            "ack" => {
                if let Some(Some((track, ..))) = mine.get(&c) {
                    let mut t = track.lock().unwrap_or_else(|e| e.into_inner());
                    if !t.acked.insert(f.seq) {
                        add(&run.live.duplicated, 1);
                        continue;
                    }
                    if !t.staff.has(f.seq) {
                        owed.insert((c, f.seq));
                    }
                    drop(t);
                    unacked = unacked.saturating_sub(1);
                    run.acked();
                    latency(run, Lat::Ack, f.client_id.as_deref().and_then(stamp_of_id));
                }
            }
            "error" => run.fail(format!("staff {global}: server error {t}")),
            _ => {}
        }
        for seq in replies {
            let stamp = now_us();
            let frame = net::post(
                format!("s{w}.{global}.{k}.{stamp}"),
                format!("{stamp} re:{seq}"),
                Some(c),
            );
            k += 1;
            unacked += 1;
            net::send(&mut tx, &frame).await?;
            run.sent();
        }
    }
    run.disconnected();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_and_owners_parse() {
        assert_eq!(
            stamp_of_id("0.3.7.1700000000123456"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(
            stamp_of_body("1700000000123456 w2v41 n7"),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(owner_of_body("1700000000123456 w2v41 n7"), Some((2, 41)));
        assert_eq!(owner_of_body("1700000000123456 re:4"), None);
    }
}
