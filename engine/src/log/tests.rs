//! The log's rules, unit by unit, then as a property: random schedules of
//! sends, duplicates, durable notices, failed writes and crashes, with the
//! contract's invariants checked after every step.

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};

/// Storage as the log sees it: the messages on disk.
#[derive(Default, Clone)]
struct Disk {
    /// seq → client_id.
    log: BTreeMap<u64, Option<String>>,
    reads: usize,
}

impl Stored for Disk {
    type Error = ();
    fn client_ids(&mut self) -> Result<Vec<(String, u64)>, ()> {
        self.reads += 1;
        Ok(self
            .log
            .iter()
            .filter_map(|(s, c)| c.clone().map(|c| (c, *s)))
            .collect())
    }
    fn has(&mut self, seq: u64, client_id: &str) -> Result<bool, ()> {
        self.reads += 1;
        Ok(self.log.get(&seq).and_then(|c| c.as_deref()) == Some(client_id))
    }
}

type Log = ConversationLog<u32, ()>;

fn send(log: &mut Log, disk: &mut Disk, cid: &str, reply: u32) -> Post<u32> {
    let p = log.post(cid, reply, disk).unwrap();
    if let Post::New(r) = p {
        log.append(Some(cid.into()), vec![r], ());
        return Post::New(r);
    }
    p
}

#[test]
fn seqs_follow_each_other_and_acks_wait_for_the_disk() {
    let (mut log, mut disk) = (Log::new(8), Disk::default());
    assert_eq!(send(&mut log, &mut disk, "a", 1), Post::New(1));
    assert_eq!(send(&mut log, &mut disk, "b", 2), Post::New(2));
    let (seq, _) = log.append(None, vec![], ());
    assert_eq!(seq, 3);
    assert_eq!((log.last_seq(), log.durable_seq()), (3, 0));
    let done = log.durable(1);
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].seq, &done[0].replies[..]), (Some(1), &[1][..]));
    let done = log.durable(3);
    assert_eq!(
        done.iter().map(|w| w.seq).collect::<Vec<_>>(),
        [Some(2), Some(3)]
    );
    assert!(log.durable(3).is_empty(), "a ticket is reported once");
    assert_eq!(log.durable_seq(), 3);
    assert!(log.is_settled());
}

#[test]
fn a_duplicate_in_flight_waits_for_the_same_ack() {
    let (mut log, mut disk) = (Log::new(8), Disk::default());
    send(&mut log, &mut disk, "a", 1);
    assert_eq!(send(&mut log, &mut disk, "a", 2), Post::Joined);
    let done = log.durable(1);
    assert_eq!(done[0].replies, [1, 2]);
    assert_eq!(log.last_seq(), 1);
}

#[test]
fn a_stored_duplicate_is_acked_from_storage_after_a_wake() {
    let mut disk = Disk::default();
    disk.log.insert(1, Some("a".into()));
    disk.log.insert(2, None);
    let mut log = Log::resume(2, 8);
    assert_eq!(
        send(&mut log, &mut disk, "a", 7),
        Post::Stored { seq: 1, reply: 7 }
    );
    assert_eq!(disk.reads, 2, "ids loaded once, the match confirmed once");
    assert_eq!(send(&mut log, &mut disk, "b", 8), Post::New(8));
    assert_eq!(log.last_seq(), 3);
    assert_eq!(disk.reads, 2, "a new client_id reads nothing");
}

#[test]
fn a_hash_match_that_storage_denies_is_new() {
    let mut disk = Disk::default();
    let mut log = Log::resume(0, 8);
    log.post("x", 0, &mut disk).unwrap();
    // Plant a stored seq under "a"'s hash whose message has another id.
    disk.log.insert(1, Some("other".into()));
    log.assigned = 1;
    log.durable = 1;
    insert(log.ids.as_mut().unwrap(), hash("a"), 1);
    assert_eq!(send(&mut log, &mut disk, "a", 1), Post::New(1));
    assert_eq!(log.last_seq(), 2);
}

#[test]
fn too_many_in_flight_is_refused_and_a_failure_reuses_seqs() {
    let (mut log, mut disk) = (Log::new(2), Disk::default());
    send(&mut log, &mut disk, "a", 1);
    send(&mut log, &mut disk, "b", 2);
    assert_eq!(send(&mut log, &mut disk, "c", 3), Post::Overloaded(3));
    let first = log.in_flight().next().unwrap().ticket;
    let second = log.last_in_flight().unwrap().ticket;
    let lost = log.failed(first);
    assert_eq!(
        lost.iter()
            .flat_map(|w| w.replies.clone())
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(log.last_seq(), 0);
    assert_eq!(
        send(&mut log, &mut disk, "a", 4),
        Post::New(4),
        "its id is free again"
    );
    assert_eq!(log.last_seq(), 1);
    assert!(
        log.failed(second).is_empty(),
        "the refusal of a write already given up"
    );
    assert_eq!(
        log.in_flight().count(),
        1,
        "the new write is still in flight"
    );
}

/// One step of a schedule.
#[derive(Clone, Debug)]
enum Step {
    /// A client sends (or re-sends) the message with this id.
    Send(u8),
    /// A system message (no client_id).
    System,
    /// A write without a message.
    Meta,
    /// The writer reports durable up to the k-th write in flight.
    Durable(u8),
    /// The oldest write in flight is refused: it and everything queued
    /// behind it never reach the disk; the writer answers each later.
    Fail,
    /// The writer's answer to the oldest such refused write arrives.
    Late,
    /// The process dies; the first k writes in flight had reached the disk.
    Crash(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..24).prop_map(Step::Send),
        1 => Just(Step::System),
        1 => Just(Step::Meta),
        4 => any::<u8>().prop_map(Step::Durable),
        1 => Just(Step::Fail),
        1 => Just(Step::Late),
        1 => any::<u8>().prop_map(Step::Crash),
    ]
}

/// The world around the log: the disk, what every sender was told, and
/// what a subscriber following the conversation was shown.
struct World {
    log: Log,
    disk: Disk,
    /// Writes in flight, as the writer holds them: ticket → (seq, client_id).
    writer: Vec<(u64, Option<u64>, Option<String>)>,
    /// Refused writes whose answer has not reached the log yet (the writer
    /// answers in order, so before any write queued after them).
    doomed: std::collections::VecDeque<u64>,
    /// Each reply's answer: the seq acked to it.
    acked: BTreeMap<u32, u64>,
    /// client_id → the seq it was acked with (once acked, always that one).
    acked_as: BTreeMap<String, u64>,
    /// What the subscriber was shown, in order.
    shown: Vec<u64>,
    /// Replies told to re-send (refused or failed).
    refused: HashSet<u32>,
    next_reply: u32,
    max_in_flight: usize,
}

impl World {
    fn new(max_in_flight: usize) -> Self {
        Self {
            log: Log::new(max_in_flight),
            disk: Disk::default(),
            writer: Vec::new(),
            doomed: Default::default(),
            acked: BTreeMap::new(),
            acked_as: BTreeMap::new(),
            shown: Vec::new(),
            refused: HashSet::new(),
            next_reply: 0,
            max_in_flight,
        }
    }

    fn ack(&mut self, reply: u32, seq: u64, cid: &str) {
        assert!(
            self.acked.insert(reply, seq).is_none(),
            "reply {reply} acked twice"
        );
        assert_eq!(
            self.disk.log.get(&seq).and_then(|c| c.as_deref()),
            Some(cid),
            "acked {cid} as {seq} before it was on disk"
        );
        let first = *self.acked_as.entry(cid.to_string()).or_insert(seq);
        assert_eq!(first, seq, "{cid} acked with two seqs");
    }

    fn queue(&mut self, ticket: u64) {
        let w = self.log.last_in_flight().expect("just written");
        assert_eq!(w.ticket, ticket);
        self.writer.push((ticket, w.seq, w.client_id.clone()));
    }

    fn run(&mut self, s: &Step) {
        match s {
            Step::Send(n) => {
                let cid = format!("c{n}");
                self.next_reply += 1;
                let reply = self.next_reply;
                match self.log.post(&cid, reply, &mut self.disk).unwrap() {
                    Post::New(r) => {
                        let (_, t) = self.log.append(Some(cid), vec![r], ());
                        self.queue(t);
                    }
                    Post::Joined => {}
                    Post::Stored { seq, reply } => self.ack(reply, seq, &cid),
                    Post::Overloaded(r) => {
                        assert!(self.log.in_flight().count() >= self.max_in_flight);
                        self.refused.insert(r);
                    }
                }
            }
            Step::System => {
                let (_, t) = self.log.append(None, vec![], ());
                self.queue(t);
            }
            Step::Meta => {
                let t = self.log.write(vec![], ());
                self.queue(t);
            }
            Step::Durable(k) => {
                while !self.doomed.is_empty() {
                    self.run(&Step::Late);
                }
                if self.writer.is_empty() {
                    return;
                }
                let k = *k as usize % self.writer.len();
                let upto = self.writer[k].0;
                for (_, seq, cid) in self.writer.drain(..=k) {
                    if let Some(seq) = seq {
                        assert!(
                            self.disk.log.insert(seq, cid).is_none(),
                            "seq {seq} written twice"
                        );
                    }
                }
                for w in self.log.durable(upto) {
                    if let Some(seq) = w.seq {
                        self.shown.push(seq);
                        for r in w.replies {
                            self.ack(r, seq, w.client_id.as_deref().unwrap_or_default());
                        }
                    }
                }
            }
            Step::Fail => {
                while !self.doomed.is_empty() {
                    self.run(&Step::Late);
                }
                if self.writer.is_empty() {
                    return;
                }
                let front = self.writer[0].0;
                let queued = self.writer.len();
                self.doomed
                    .extend(self.writer.drain(..).skip(1).map(|(t, ..)| t));
                let lost = self.log.failed(front);
                assert_eq!(
                    lost.len(),
                    queued,
                    "every write in flight fails with the first"
                );
                for w in lost {
                    self.refused.extend(w.replies);
                }
            }
            Step::Late => {
                if let Some(t) = self.doomed.pop_front() {
                    assert!(
                        self.log.failed(t).is_empty(),
                        "a late refusal took writes made after it"
                    );
                }
            }
            Step::Crash(k) => {
                self.doomed.clear();
                let k = (*k as usize % (self.writer.len() + 1)).min(self.writer.len());
                for (_, seq, cid) in self.writer.drain(..).take(k) {
                    if let Some(seq) = seq {
                        self.disk.log.insert(seq, cid);
                    }
                }
                // Replies in flight are lost with their sockets; clients re-send.
                for w in self.log.in_flight() {
                    self.refused.extend(w.replies.iter().copied());
                }
                let last = self.disk.log.keys().next_back().copied().unwrap_or(0);
                self.log = Log::resume(last, self.max_in_flight);
                // The subscriber resumes: it is replayed what it missed.
                let seen = self.shown.last().copied().unwrap_or(0);
                self.shown
                    .extend(self.disk.log.range(seen + 1..).map(|(s, _)| *s));
            }
        }
        self.check();
    }

    fn check(&self) {
        let seqs: Vec<u64> = self.disk.log.keys().copied().collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "the disk has a gap"
        );
        let mut ids = HashSet::new();
        for c in self.disk.log.values().flatten() {
            assert!(ids.insert(c), "{c} stored twice");
        }
        assert_eq!(
            self.shown,
            (1..=self.shown.len() as u64).collect::<Vec<_>>(),
            "the subscriber saw a gap, a repeat or another order"
        );
        assert!(self.shown.len() <= seqs.len(), "shown before stored");
        assert_eq!(
            self.log.durable_seq(),
            self.shown.last().copied().unwrap_or(0)
        );
        for r in self.acked.keys() {
            assert!(
                !self.refused.contains(r),
                "reply {r} both acked and refused"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn every_schedule_keeps_the_log_whole(
        steps in proptest::collection::vec(step(), 1..120),
        max_in_flight in 1usize..6,
    ) {
        let mut w = World::new(max_in_flight);
        for s in &steps {
            w.run(s);
        }
        // Drain: everything in flight becomes durable; a re-send of every
        // id then gets its one stored seq back.
        w.run(&Step::Durable(u8::MAX));
        if let Some(k) = w.writer.len().checked_sub(1) {
            w.run(&Step::Durable(k as u8));
        }
        prop_assert!(w.log.is_settled());
        for n in 0u8..24 {
            let cid = format!("c{n}");
            let stored = w.disk.log.iter().find(|(_, c)| c.as_deref() == Some(&cid)).map(|(s, _)| *s);
            let p = w.log.post(&cid, 9999, &mut w.disk).unwrap();
            match stored {
                Some(seq) => prop_assert_eq!(p, Post::Stored { seq, reply: 9999 }),
                None => prop_assert_eq!(p, Post::New(9999)),
            }
        }
    }
}
