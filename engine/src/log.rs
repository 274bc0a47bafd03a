//! The pure core of a conversation's log: who gets which seq, which
//! `client_id` was already seen, what is in flight to the disk, what is
//! durable, and who is told what once it is. No runtime, no storage: the
//! Conversation actor runs the effects (writes, acks, fan-out) this returns.
//!
//! - `post` decides a visitor's or staff member's `send`: new, a duplicate
//!   of one in flight (its sender waits for the same ack), a duplicate of a
//!   stored one (acked at once from storage), or refused (too many writes in
//!   flight).
//! - `append` gives the next seq (1, 2, 3… no gap) to a message and puts its
//!   write in flight; `write` puts a write without a message (metadata) in
//!   line behind it.
//! - `durable(ticket)` returns every write up to that ticket, in order, with
//!   the replies waiting for its ack: nothing is acked before it is durable,
//!   and every subscriber is sent the messages in this one order.
//! - `failed()` gives back everything in flight (each sender gets an error)
//!   and reuses their seqs: nobody was told of them, so no client sees a gap.
//!
//! Dedupe is answered from memory. A log woken from storage reads the
//! `client_id`s of the messages already stored once, on its first `send`;
//! they are kept as 64-bit hashes, and a hash that matches is confirmed
//! against storage ([`Stored::has`]), so a collision never merges two
//! different messages.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};

/// What the log asks of storage, and only when it must.
pub trait Stored {
    type Error;
    /// Every stored message's `client_id` with its seq (once per wake).
    fn client_ids(&mut self) -> Result<Vec<(String, u64)>, Self::Error>;
    /// Whether stored message `seq` carries `client_id`.
    fn has(&mut self, seq: u64, client_id: &str) -> Result<bool, Self::Error>;
}

/// One write on its way to the disk.
#[derive(Debug)]
pub struct Write<R, P> {
    /// The writer's ticket: completions come back in ticket order.
    pub ticket: u64,
    /// The message's seq, when the write carries one.
    pub seq: Option<u64>,
    /// The message's `client_id`, for its ack.
    pub client_id: Option<String>,
    /// Everyone waiting for this write's ack (a sender and its duplicates).
    pub replies: Vec<R>,
    /// What the caller needs once it is durable (the record, the frames).
    pub payload: P,
}

/// What to do with a `send`.
#[derive(Debug, PartialEq, Eq)]
pub enum Post<R> {
    /// Not seen before: [`ConversationLog::append`] it.
    New(R),
    /// The same `client_id` is in flight: this reply waits for its ack.
    Joined,
    /// Already stored as `seq`: ack it now from the stored message.
    Stored { seq: u64, reply: R },
    /// Too many writes in flight: refuse it (the client re-sends).
    Overloaded(R),
}

/// The seqs whose `client_id` hashes to one value (almost always one).
#[derive(Debug, Clone)]
enum Seqs {
    One(u64),
    Many(Vec<u64>),
}

impl Seqs {
    fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let (one, many) = match self {
            Self::One(s) => (Some(*s), &[][..]),
            Self::Many(v) => (None, &v[..]),
        };
        one.into_iter().chain(many.iter().copied())
    }

    fn push(&mut self, seq: u64) {
        match self {
            Self::One(s) => *self = Self::Many(vec![*s, seq]),
            Self::Many(v) => v.push(seq),
        }
    }

    /// Drops `seq`; true when nothing is left.
    fn remove(&mut self, seq: u64) -> bool {
        match self {
            Self::One(s) => *s == seq,
            Self::Many(v) => {
                v.retain(|s| *s != seq);
                v.is_empty()
            }
        }
    }
}

fn hash(client_id: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    client_id.hash(&mut h);
    h.finish()
}

/// A conversation's sequencing, dedupe and durability, as plain state.
/// `R` is how a sender is answered (a socket's outbox), `P` what a write
/// carries for its effects once durable.
#[derive(Debug)]
pub struct ConversationLog<R, P> {
    /// The last seq given out, in flight or not.
    assigned: u64,
    /// The last seq known durable.
    durable: u64,
    next_ticket: u64,
    in_flight: VecDeque<Write<R, P>>,
    /// Every stored or in-flight message's `client_id` hash → seqs; `None`
    /// until loaded after a wake.
    ids: Option<HashMap<u64, Seqs>>,
    max_in_flight: usize,
}

impl<R, P> ConversationLog<R, P> {
    /// A conversation with nothing stored yet.
    pub fn new(max_in_flight: usize) -> Self {
        let mut log = Self::resume(0, max_in_flight);
        log.ids = Some(HashMap::new());
        log
    }

    /// A conversation stored up to `last_seq`; its `client_id`s are loaded
    /// on the first `send` (see [`Self::needs_ids`]).
    pub fn resume(last_seq: u64, max_in_flight: usize) -> Self {
        Self {
            assigned: last_seq,
            durable: last_seq,
            next_ticket: 0,
            in_flight: VecDeque::new(),
            ids: None,
            max_in_flight: max_in_flight.max(1),
        }
    }

    /// The last seq given out (what the next message follows).
    pub fn last_seq(&self) -> u64 {
        self.assigned
    }

    /// The last seq on disk: what clients may be shown.
    pub fn durable_seq(&self) -> u64 {
        self.durable
    }

    /// Whether nothing waits for the disk.
    pub fn is_settled(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// Writes in flight.
    pub fn in_flight(&self) -> impl Iterator<Item = &Write<R, P>> {
        self.in_flight.iter()
    }

    /// The newest write in flight, whose payload says what the next write
    /// follows (the metadata it leaves, for instance).
    pub fn last_in_flight(&self) -> Option<&Write<R, P>> {
        self.in_flight.back()
    }

    /// Decides a `send` carrying `client_id`. The first after a wake loads
    /// the stored `client_id`s from `stored`; a hash that matches a stored
    /// message is confirmed with `stored.has` (nothing else reads storage).
    pub fn post<S: Stored>(
        &mut self,
        client_id: &str,
        reply: R,
        stored: &mut S,
    ) -> Result<Post<R>, S::Error> {
        if self.ids.is_none() {
            let mut ids = HashMap::new();
            for (cid, seq) in stored.client_ids()? {
                insert(&mut ids, hash(&cid), seq);
            }
            // Writes put in flight before the load (system messages) count too.
            for w in &self.in_flight {
                if let (Some(seq), Some(cid)) = (w.seq, &w.client_id) {
                    insert(&mut ids, hash(cid), seq);
                }
            }
            self.ids = Some(ids);
        }
        let h = hash(client_id);
        let candidates: Vec<u64> = match self.ids.as_ref().and_then(|ids| ids.get(&h)) {
            Some(seqs) => seqs.iter().collect(),
            None => Vec::new(),
        };
        for seq in candidates {
            if let Some(w) = self
                .in_flight
                .iter_mut()
                .find(|w| w.seq == Some(seq) && w.client_id.as_deref() == Some(client_id))
            {
                w.replies.push(reply);
                return Ok(Post::Joined);
            }
            if seq <= self.durable && stored.has(seq, client_id)? {
                return Ok(Post::Stored { seq, reply });
            }
        }
        if self.in_flight.len() >= self.max_in_flight {
            return Ok(Post::Overloaded(reply));
        }
        Ok(Post::New(reply))
    }

    /// Gives the next seq to a message (with its `client_id`, if a client
    /// sent it) and puts its write in flight. Returns `(seq, ticket)`.
    pub fn append(&mut self, client_id: Option<String>, replies: Vec<R>, payload: P) -> (u64, u64) {
        self.assigned += 1;
        let seq = self.assigned;
        if let (Some(ids), Some(cid)) = (self.ids.as_mut(), &client_id) {
            insert(ids, hash(cid), seq);
        }
        let ticket = self.push(Some(seq), client_id, replies, payload);
        (seq, ticket)
    }

    /// Puts a write without a message in line; returns its ticket.
    pub fn write(&mut self, replies: Vec<R>, payload: P) -> u64 {
        self.push(None, None, replies, payload)
    }

    fn push(
        &mut self,
        seq: Option<u64>,
        client_id: Option<String>,
        replies: Vec<R>,
        payload: P,
    ) -> u64 {
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.in_flight.push_back(Write {
            ticket,
            seq,
            client_id,
            replies,
            payload,
        });
        ticket
    }

    /// The writer made everything up to `ticket` durable: those writes, in
    /// order, to ack and fan out. A ticket already reported returns nothing.
    pub fn durable(&mut self, ticket: u64) -> Vec<Write<R, P>> {
        let mut done = Vec::new();
        while self.in_flight.front().is_some_and(|w| w.ticket <= ticket) {
            let w = self.in_flight.pop_front().expect("checked front");
            if let Some(seq) = w.seq {
                self.durable = seq;
            }
            done.push(w);
        }
        done
    }

    /// Write `ticket` failed: everything in flight failed with it (the
    /// writer refuses the rest of the conversation's writes of this
    /// generation once one is refused). Their seqs are given out again,
    /// since nobody was told of them. The failure of a write already given
    /// up this way changes nothing.
    pub fn failed(&mut self, ticket: u64) -> Vec<Write<R, P>> {
        if !self.in_flight.iter().any(|w| w.ticket == ticket) {
            return Vec::new();
        }
        let lost: Vec<_> = self.in_flight.drain(..).collect();
        if let Some(ids) = self.ids.as_mut() {
            for w in &lost {
                if let (Some(seq), Some(cid)) = (w.seq, &w.client_id) {
                    if let Entry::Occupied(mut e) = ids.entry(hash(cid)) {
                        if e.get_mut().remove(seq) {
                            e.remove();
                        }
                    }
                }
            }
        }
        self.assigned = self.durable;
        lost
    }
}

fn insert(ids: &mut HashMap<u64, Seqs>, h: u64, seq: u64) {
    match ids.entry(h) {
        Entry::Occupied(mut e) => {
            if !e.get().iter().any(|s| s == seq) {
                e.get_mut().push(seq)
            }
        }
        Entry::Vacant(e) => {
            e.insert(Seqs::One(seq));
        }
    }
}

#[cfg(test)]
mod tests;
