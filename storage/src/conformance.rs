//! What every storage backend must do, written once and run against each:
//! sled in this crate's own tests (`on_sled` below), PostgreSQL in
//! `http/tests/cluster.rs` (which starts a real one). Each case gets a
//! fresh, empty store and panics when the backend gets something wrong.
//!
//! Built for tests only: `cfg(test)` here, the `conformance` feature for
//! other crates' tests.

use crate::*;
use parley_engine::account::*;
use parley_engine::analytics::Bucket;
use parley_engine::mail::{
    MailBody, MailRecord, MailRecordV1, MailStatus, RetryPolicy, SharedBody,
};
use parley_engine::records::*;
use parley_engine::*;
use std::sync::mpsc;
use std::time::Duration;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case, by name.
        pub const ALL: &[(&str, fn(&Store))] = &[$((stringify!($name), $name)),*];

        #[cfg(test)]
        mod on_sled {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = crate::Store::open(dir.path(), &Default::default()).unwrap();
                    super::$name(&store);
                }
            )*
        }
    };
}

cases![
    scans_come_out_in_key_order_from_either_end,
    prefix_scans_stop_at_the_prefix_and_both_trees_are_apart,
    stored_conversations_show_the_log_position,
    log_orders_by_seq_and_dedupes_by_client_id,
    accounts_are_found_by_email_and_site_key,
    logs_page_backwards_and_canned_responses_round_trip,
    purge_drops_only_dead_sessions_and_expired_tokens,
    a_visitor_is_read_whole_and_erased_whole,
    pending_mail_is_indexed_by_due_time_and_leaves_the_index_when_sent,
    due_scans_pass_over_what_is_skipped_and_shared_bodies_are_filled,
    every_requester_is_answered_after_the_write,
    counts_fold_into_buckets_and_markers_count_once,
    counts_keep_daily_rollups_that_a_long_range_reads,
    mixed_trees_apply_together,
    many_keys_are_read_at_once_in_the_order_asked,
    the_instance_secret_is_chosen_once,
    a_billing_event_lands_with_the_subscription_and_order_it_made,
    staff_prefs_keep_their_time_zone_and_the_first_layout_still_reads,
    site_settings_from_before_the_widget_theme_read_as_auto,
    site_settings_from_before_the_reopen_window_read_as_the_servers,
    site_settings_from_before_the_chat_gate_read_as_gated_by_hours,
    bookings_keep_the_visitors_zone_and_older_ones_still_read,
    a_site_keeps_when_its_snippet_was_installed_until_it_is_deleted,
];

fn key(i: u32) -> Vec<u8> {
    let mut k = b"p/".to_vec();
    k.extend_from_slice(&i.to_be_bytes());
    k
}

fn number(v: &[u8]) -> u32 {
    u32::from_be_bytes(v.try_into().expect("a 4-byte value"))
}

/// More keys than several pages of a paged backend hold.
const MANY: u32 = 3000;

pub fn scans_come_out_in_key_order_from_either_end(store: &Store) {
    let mut b = WriteBatch::new();
    // Written out of order, in two batches.
    for i in (0..MANY).rev().step_by(2).chain((0..MANY).step_by(2)) {
        b.put(key(i), i.to_be_bytes().to_vec());
    }
    store.write_now(b).unwrap();
    let t = store.data();
    let all: Vec<u32> = t
        .scan_prefix(b"p/")
        .map(|kv| number(&kv.unwrap().1))
        .collect();
    assert_eq!(all, (0..MANY).collect::<Vec<_>>());
    let back: Vec<u32> = t
        .scan_prefix(b"p/")
        .rev()
        .map(|kv| number(&kv.unwrap().1))
        .collect();
    assert_eq!(back, (0..MANY).rev().collect::<Vec<_>>());
    assert_eq!(
        number(&t.scan_prefix(b"p/").next_back().unwrap().unwrap().1),
        MANY - 1
    );
    // Both ends at once meet in the middle, every key exactly once.
    let mut scan = t.scan_prefix(b"p/");
    let (mut front, mut rear) = (Vec::new(), Vec::new());
    for step in 0.. {
        let next = if step % 3 == 0 {
            scan.next_back()
        } else {
            scan.next()
        };
        match next {
            Some(kv) => {
                let n = number(&kv.unwrap().1);
                if step % 3 == 0 {
                    rear.push(n)
                } else {
                    front.push(n)
                }
            }
            None => break,
        }
    }
    assert!(scan.next().is_none() && scan.next_back().is_none());
    rear.reverse();
    front.extend(rear);
    assert_eq!(front, (0..MANY).collect::<Vec<_>>());
    // Ranges keep their bounds.
    fn nums(i: impl Iterator<Item = Result<(Bytes, Bytes)>>) -> Vec<u32> {
        i.map(|kv| number(&kv.unwrap().1)).collect()
    }
    assert_eq!(
        nums(t.range(key(10)..key(20))),
        (10..20).collect::<Vec<_>>()
    );
    assert_eq!(
        nums(t.range(key(10)..=key(20))),
        (10..=20).collect::<Vec<_>>()
    );
    assert_eq!(nums(t.range(key(2990)..)), (2990..MANY).collect::<Vec<_>>());
    assert_eq!(nums(t.range(..key(3))), [0, 1, 2]);
    assert_eq!(
        nums(t.range(key(100)..key(1600)).rev()),
        (100..1600).rev().collect::<Vec<_>>()
    );
    assert_eq!(t.range(key(5)..key(5)).count(), 0);
    let keys: Vec<Vec<u8>> = t
        .range(key(7)..key(10))
        .keys()
        .map(|k| k.unwrap().to_vec())
        .collect();
    assert_eq!(keys, [key(7), key(8), key(9)]);
    assert_eq!(t.len().unwrap(), MANY as usize);
    assert_eq!(t.iter().take(2).count(), 2);
}

pub fn prefix_scans_stop_at_the_prefix_and_both_trees_are_apart(store: &Store) {
    let mut b = WriteBatch::new();
    for k in [
        &b"a."[..],
        b"a/",
        b"a/x",
        b"a/\xff",
        b"a0",
        &[0xFF, 1],
        &[0xFF, 0xFF, 2],
    ] {
        b.put(k.to_vec(), k.to_vec());
    }
    b.put(vec![b'a', b'/', 0xFF, 0xFF], vec![1]);
    b.put_global(b"a/g".to_vec(), vec![2]);
    store.write_now(b).unwrap();
    let keys = |t: &Tree, p: &[u8]| -> Vec<Vec<u8>> {
        t.scan_prefix(p)
            .keys()
            .map(|k| k.unwrap().to_vec())
            .collect()
    };
    assert_eq!(
        keys(store.data(), b"a/"),
        [&b"a/"[..], b"a/x", b"a/\xff", &[b'a', b'/', 0xFF, 0xFF]]
    );
    assert_eq!(
        keys(store.data(), &[0xFF]),
        [&[0xFF, 1][..], &[0xFF, 0xFF, 2]]
    );
    assert_eq!(keys(store.data(), &[0xFF, 0xFF]), [&[0xFF, 0xFF, 2][..]]);
    assert_eq!(keys(store.global(), b"a/"), [b"a/g"]);
    assert!(store.global().get(b"a/x").unwrap().is_none());
    assert!(store.data().contains_key(b"a0").unwrap());
    assert!(!store.data().contains_key(b"a1").unwrap());
    assert_eq!(
        store.data().scan_prefix(b"zz").next().transpose().unwrap(),
        None
    );
    assert!(!store.data().is_empty().unwrap());
    // Deletes land too.
    let mut b = WriteBatch::new();
    b.delete(b"a/x".to_vec());
    b.delete_global(b"a/g".to_vec());
    store.write_now(b).unwrap();
    assert!(store.data().get(b"a/x").unwrap().is_none());
    assert!(store.global().is_empty().unwrap());
}

pub fn the_instance_secret_is_chosen_once(store: &Store) {
    let first = store.instance_secret(|| vec![1; 32]).unwrap();
    let again = store.instance_secret(|| vec![2; 32]).unwrap();
    assert_eq!((first.clone(), again), (vec![1; 32], vec![1; 32]));
}

pub fn a_billing_event_lands_with_the_subscription_and_order_it_made(store: &Store) {
    use parley_engine::billing::BillingOrder;
    use parley_engine::plans::Subscription;
    let (t, other) = (TenantId::new(), TenantId::new());
    assert_eq!(store.billing_order(t).unwrap(), BillingOrder::default());
    let sub = Subscription {
        plan: "pro".into(),
        subscription: "sub_1".into(),
        ..Default::default()
    };
    let order = BillingOrder {
        last_event_at: Some(Timestamp(1_000)),
        subscription: "sub_1".into(),
        ended: false,
    };
    let mut b = WriteBatch::new();
    store.put_billing_event(&mut b, "evt_1", Timestamp(2_000));
    store.put_subscription(&mut b, t, &sub);
    store.put_billing_order(&mut b, t, &order);
    store.write_now(b).unwrap();
    assert!(store.billing_event_seen("evt_1").unwrap());
    assert!(!store.billing_event_seen("evt_2").unwrap());
    assert_eq!(store.subscription(t).unwrap(), sub);
    assert_eq!(store.billing_order(t).unwrap(), order);
    assert_eq!(store.billing_order(other).unwrap(), BillingOrder::default());
}

fn msg(c: ConversationId, seq: u64, cid: &str) -> MessageRecord {
    MessageRecord {
        id: MessageId::new(),
        conversation_id: c,
        seq,
        client_id: Some(cid.into()),
        from: Participant::system(),
        body: format!("m{seq}"),
        private: false,
        ts: Timestamp::now(),
    }
}

pub fn stored_conversations_show_the_log_position(store: &Store) {
    let s = store;
    let (t, c) = (TenantId::new(), ConversationId::new());
    let mut rec = ConversationRecord::new(c, t, SiteId::new(), VisitorId::new());
    rec.last_seq = 1;
    let mut b = WriteBatch::new();
    s.put_conversation(&mut b, &rec);
    // Messages written after the metadata, without rewriting it.
    for seq in 1..=4 {
        s.append(&mut b, t, &msg(c, seq, &format!("c{seq}")));
    }
    s.write_now(b).unwrap();
    assert_eq!(s.conversation(t, c).unwrap().unwrap().last_seq, 4);
    let listed = s.conversations(t, 10, &|_| true).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_seq, 4);
}

pub fn log_orders_by_seq_and_dedupes_by_client_id(store: &Store) {
    let s = store;
    let (t, c) = (TenantId::new(), ConversationId::new());
    let other = TenantId::new();
    let mut b = WriteBatch::new();
    for seq in [3u64, 1, 300, 2] {
        s.append(&mut b, t, &msg(c, seq, &format!("c{seq}")));
    }
    s.append(&mut b, other, &msg(c, 999, "x"));
    s.write_now(b).unwrap();
    assert_eq!(s.last_seq(t, c).unwrap(), 300);
    let seqs: Vec<u64> = s
        .messages_after(t, c, 1, 10)
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs, vec![2, 3, 300]);
    let ids = s.client_ids(t, c).unwrap();
    let want: Vec<(String, u64)> = [1u64, 2, 3, 300]
        .iter()
        .map(|n| (format!("c{n}"), *n))
        .collect();
    assert_eq!(ids, want, "in seq order, the other tenant's invisible");
    assert_eq!(s.last_seq(TenantId::new(), c).unwrap(), 0);
}

pub fn accounts_are_found_by_email_and_site_key(store: &Store) {
    let s = store;
    let t = TenantId::new();
    let staff = StaffRecord {
        id: StaffId::new(),
        tenant_id: t,
        email: "a@b.co".into(),
        name: "A".into(),
        role: parley_engine::permissions::Role::Owner,
        password_hash: "h".into(),
        token_version: 0,
        active: true,
        created_at: Timestamp::now(),
    };
    let site = SiteRecord {
        id: SiteId::new(),
        tenant_id: t,
        name: "S".into(),
        key: "key123".into(),
        created_at: Timestamp::now(),
    };
    let mut b = WriteBatch::new();
    s.put_staff(&mut b, &staff);
    s.put_site(&mut b, &site);
    s.write_now(b).unwrap();
    assert_eq!(s.staff_by_email("a@b.co").unwrap(), Some(staff));
    assert_eq!(s.site_by_key("key123").unwrap(), Some(site));
    assert_eq!(s.site_by_key("nope").unwrap(), None);
}

pub fn logs_page_backwards_and_canned_responses_round_trip(store: &Store) {
    let (t, c) = (TenantId::new(), ConversationId::new());
    let mut b = WriteBatch::new();
    for seq in 1..=7 {
        store.append(
            &mut b,
            t,
            &MessageRecord {
                id: MessageId::new(),
                conversation_id: c,
                seq,
                from: Participant::system(),
                body: format!("m{seq}"),
                private: false,
                client_id: None,
                ts: Timestamp(seq),
            },
        );
    }
    let id = CannedId::new();
    store.put_canned(
        &mut b,
        &CannedResponse {
            id,
            tenant_id: t,
            shortcut: "hi".into(),
            body: "Hello!".into(),
            created_by: StaffId::new(),
            updated_at: Timestamp(1),
        },
    );
    store.write_now(b).unwrap();
    let seqs = |v: Vec<MessageRecord>| v.iter().map(|m| m.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.messages_before(t, c, 6, 3).unwrap()), [3, 4, 5]);
    assert_eq!(seqs(store.messages_before(t, c, 3, 10).unwrap()), [1, 2]);
    assert_eq!(
        seqs(store.messages_before(t, c, u64::MAX, 2).unwrap()),
        [6, 7]
    );
    assert_eq!(store.canned(t).unwrap()[0].shortcut, "hi");
    // Another tenant sees none of it.
    assert!(store.canned(TenantId::new()).unwrap().is_empty());
    let mut b = WriteBatch::new();
    store.delete_canned(&mut b, t, id);
    store.write_now(b).unwrap();
    assert!(store.canned_one(t, id).unwrap().is_none());
}

pub fn purge_drops_only_dead_sessions_and_expired_tokens(store: &Store) {
    let now = Timestamp::now();
    let t = TenantRecord {
        id: TenantId::new(),
        name: "T".into(),
        created_at: now,
    };
    let staff = StaffId::new();
    let session = |revoked: bool, expires_at: Timestamp| SessionRecord {
        id: SessionId::new(),
        tenant_id: t.id,
        staff_id: staff,
        secret_hash: vec![1; 32],
        device: String::new(),
        ip: String::new(),
        created_at: now,
        last_seen: now,
        expires_at,
        revoked,
    };
    let later = Timestamp(now.millis() + 60_000);
    let (live, revoked, expired) = (
        session(false, later),
        session(true, later),
        session(false, now),
    );
    let token = |expires_at| OneTimeToken {
        kind: TokenKind::PasswordReset,
        tenant_id: t.id,
        staff_id: staff,
        expires_at,
        staff_version: 0,
    };
    let mut b = WriteBatch::new();
    store.put_tenant(&mut b, &t);
    for s in [&live, &revoked, &expired] {
        store.put_session(&mut b, s);
    }
    store.put_one_time_token(&mut b, b"fresh", &token(later));
    store.put_one_time_token(&mut b, b"stale", &token(now));
    store.write_now(b).unwrap();

    let mut b = WriteBatch::new();
    assert_eq!(store.purge_expired(&mut b, now).unwrap(), 3);
    store.write_now(b).unwrap();
    let left: Vec<SessionId> = store
        .sessions(t.id, staff)
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![live.id]);
    assert!(store.one_time_token(b"fresh").unwrap().is_some());
    assert!(store.one_time_token(b"stale").unwrap().is_none());
}

pub fn a_visitor_is_read_whole_and_erased_whole(store: &Store) {
    let (t, site) = (TenantId::new(), SiteId::new());
    let (v, other) = (VisitorId::new(), VisitorId::new());
    let mut b = WriteBatch::new();
    let now = Timestamp::now();
    for who in [v, other] {
        store.put_visitor(
            &mut b,
            &VisitorRecord {
                id: who,
                tenant_id: t,
                site_id: site,
                name: Some("Ann".into()),
                email: None,
                first_seen: now,
                last_seen: now,
            },
        );
        store.add_page_view(
            &mut b,
            t,
            who,
            &PageView {
                page: PageInfo {
                    url: "https://a.test/".into(),
                    ..PageInfo::default()
                },
                at: now,
            },
        );
    }
    let device = parley_engine::account::VisitorDevice {
        timezone: "Europe/Paris".into(),
        ..Default::default()
    };
    store.put_visitor_device(&mut b, t, v, &device);
    let c = ConversationId::new();
    store.put_visitor_conversation(&mut b, t, v, c);
    store.write_now(b).unwrap();
    // Read at once as a first tab finds them; someone new is all None.
    let s = store.visitor_arrival(t, v).unwrap();
    assert_eq!(s.record.map(|r| r.id), Some(v));
    assert_eq!((s.conversation, s.device), (Some(c), Some(device)));
    let o = store.visitor_arrival(t, other).unwrap();
    assert_eq!((o.conversation, o.device), (None, None));
    assert_eq!(
        store.visitor_arrival(t, VisitorId::new()).unwrap(),
        VisitorSnapshot::default()
    );
    let before = store.data().len().unwrap();
    let data = store.visitor_data(t, v).unwrap().unwrap();
    assert_eq!((data.record.id, data.pages.len()), (v, 1));
    let mut b = WriteBatch::new();
    assert!(store.erase_visitor(&mut b, t, v).unwrap() >= 2);
    store.write_now(b).unwrap();
    assert!(store.visitor_data(t, v).unwrap().is_none());
    assert!(store
        .data()
        .scan_prefix(keys::page_views(t, v))
        .next()
        .is_none());
    assert!(
        store.visitor_data(t, other).unwrap().is_some(),
        "others stay"
    );
    assert_eq!(store.data().len().unwrap(), before - 4);
    assert_eq!(store.erased_visitors().unwrap(), [(t, v)]);
}

pub fn pending_mail_is_indexed_by_due_time_and_leaves_the_index_when_sent(store: &Store) {
    let t = TenantId::new();
    let mut m: MailRecord = MailRecordV1 {
        id: MailId::new(),
        tenant_id: t,
        to: "a@b.test".into(),
        subject: "hi".into(),
        body: "body".into(),
        created_at: Timestamp(5_000),
    }
    .into();
    let mut b = WriteBatch::new();
    store.put_mail(&mut b, &m);
    store.write_now(b).unwrap();
    assert!(store.mails_due(Timestamp(4_999), 10).unwrap().is_empty());
    assert_eq!(
        store.mails_due(Timestamp(5_000), 10).unwrap(),
        vec![(Timestamp(5_000), t, m.id)]
    );
    assert_eq!(store.next_mail_due().unwrap(), Some(Timestamp(5_000)));

    let policy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
    };
    let old = m.clone();
    m.record_attempt(Timestamp(6_000), Err("down".into()), &policy, 0.5);
    let mut b = WriteBatch::new();
    store.update_mail(&mut b, &old, &m);
    store.write_now(b).unwrap();
    assert_eq!(store.next_mail_due().unwrap(), Some(Timestamp(7_000)));

    let old = m.clone();
    m.record_attempt(Timestamp(7_000), Ok("250 ok".into()), &policy, 0.5);
    let mut b = WriteBatch::new();
    store.update_mail(&mut b, &old, &m);
    store.write_now(b).unwrap();
    assert_eq!(store.next_mail_due().unwrap(), None);
    let back = store.mail(t, m.id).unwrap().unwrap();
    assert_eq!(back.status, MailStatus::Sent);
    assert_eq!(store.mails(t, None, 10, &|_| true).unwrap(), vec![back]);
}

pub fn due_scans_pass_over_what_is_skipped_and_shared_bodies_are_filled(store: &Store) {
    let (busy, quiet) = (TenantId::new(), TenantId::new());
    let mail = |t: TenantId, at: u64| -> MailRecord {
        MailRecordV1 {
            id: MailId::new(),
            tenant_id: t,
            to: "a@b.test".into(),
            subject: "hi".into(),
            body: String::new(),
            created_at: Timestamp(at),
        }
        .into()
    };
    let mut b = WriteBatch::new();
    for i in 0..5 {
        store.put_mail(&mut b, &mail(busy, 1_000 + i));
    }
    let mut last = mail(quiet, 2_000);
    last.shared = Some(SharedBody {
        id: MailId::new(),
        vars: vec![("@@u@@".into(), "http://x/l/1?a&b".into())],
    });
    let body = MailBody {
        text: "leave: @@u@@".into(),
        html: "<a href=\"@@u@@\">leave</a>".into(),
    };
    store.put_mail_body(&mut b, quiet, last.shared.as_ref().unwrap().id, &body);
    store.put_mail(&mut b, &last);
    store.write_now(b).unwrap();
    let now = Timestamp(10_000);
    assert_eq!(store.mails_due(now, 2).unwrap().len(), 2);
    let due = store
        .mails_due_except(now, 10, 100, &|t, _| t == busy)
        .unwrap();
    assert_eq!(
        due,
        vec![(Timestamp(2_000), quiet, last.id)],
        "the busy tenant's five passed over"
    );
    assert!(
        store
            .mails_due_except(now, 10, 5, &|t, _| t == busy)
            .unwrap()
            .is_empty(),
        "at most `scan` entries looked at"
    );
    let back = store.mail(quiet, last.id).unwrap().unwrap();
    assert_eq!(back, last);
    assert_eq!(
        store.mail_body(&back).unwrap(),
        (
            "leave: http://x/l/1?a&b".to_string(),
            "<a href=\"http://x/l/1?a&amp;b\">leave</a>".to_string()
        )
    );
    assert!(store.has_mail_body(quiet, back.shared.unwrap().id).unwrap());
    // A day's bytes: mails made since then, newest first, and shared bodies once.
    let one = crate::codec::encode(&mail(busy, 1_000)).len() as u64;
    assert_eq!(
        store.mail_bytes_since(busy, Timestamp(1_000)).unwrap(),
        5 * one
    );
    assert_eq!(store.mail_bytes_since(busy, Timestamp(1_005)).unwrap(), 0);
    assert_eq!(
        store.mail_bytes_since(quiet, Timestamp(1_500)).unwrap(),
        (crate::codec::encode(&last).len() + crate::codec::encode(&body).len()) as u64
    );
    assert!(!store.has_mail_body(busy, MailId::new()).unwrap());

    let conv = ConversationId::new();
    assert!(store.transcript_log(quiet, conv).unwrap().is_none());
    let mut log = parley_engine::transcript::TranscriptLog::default();
    assert!(log.admit(now, "v@x.test", 2).is_ok());
    let mut b = WriteBatch::new();
    store.put_transcript_log(&mut b, quiet, conv, &log);
    store.write_now(b).unwrap();
    assert_eq!(store.transcript_log(quiet, conv).unwrap(), Some(log));
}

pub fn every_requester_is_answered_after_the_write(store: &Store) {
    let w = Writer::start(store.clone(), WriterConfig::default());
    let (tx, rx) = mpsc::channel();
    for i in 0u32..200 {
        let mut b = WriteBatch::new();
        b.put(i.to_be_bytes().to_vec(), vec![1]);
        let tx = tx.clone();
        let s = store.clone();
        w.submit(
            b,
            Box::new(move |r| {
                // Durable means readable too.
                let present = s.data().get(i.to_be_bytes()).unwrap().is_some();
                tx.send((r.is_ok(), present)).unwrap();
            }),
        );
    }
    for _ in 0..200 {
        assert_eq!(rx.recv().unwrap(), (true, true));
    }
    w.shutdown();
    assert_eq!(store.data().len().unwrap(), 200);
}

pub fn counts_fold_into_buckets_and_markers_count_once(store: &Store) {
    use parley_engine::analytics::Event;
    let w = Writer::start(store.clone(), WriterConfig::default());
    let key = crate::keys::bucket(
        parley_engine::TenantId::new(),
        crate::keys::Tally::Site(parley_engine::SiteId::new()),
        7,
    );
    let (tx, rx) = mpsc::channel();
    for i in 0..50u32 {
        let mut b = WriteBatch::new();
        b.put(i.to_be_bytes().to_vec(), vec![1]);
        b.count(key, Event::Message { staff: i % 2 == 0 });
        b.count_once(key, b"once".to_vec(), Event::Conversation);
        let tx = tx.clone();
        w.submit(b, Box::new(move |r| tx.send(r.is_ok()).unwrap()));
    }
    for _ in 0..50 {
        assert!(rx.recv().unwrap());
    }
    w.shutdown();
    let b: Bucket =
        crate::codec::decode(&store.data().get(key.to_bytes()).unwrap().unwrap()).unwrap();
    assert_eq!(
        (b.messages_staff, b.messages_visitor, b.conversations),
        (25, 25, 1)
    );
    // A stored marker holds across writers (a restart).
    let mut again = WriteBatch::new();
    again.count_once(key, b"once".to_vec(), Event::Conversation);
    store.write_now(again).unwrap();
    let b: Bucket =
        crate::codec::decode(&store.data().get(key.to_bytes()).unwrap().unwrap()).unwrap();
    assert_eq!(b.conversations, 1);
}

pub fn counts_keep_daily_rollups_that_a_long_range_reads(store: &Store) {
    use parley_engine::analytics::{hour_start, report, report_from, Event, Resolution, DAY_HOURS};
    let (t, site) = (parley_engine::TenantId::new(), parley_engine::SiteId::new());
    let who = crate::keys::Tally::Site(site);
    let d0 = 20_000 * DAY_HOURS;
    // Days 0 and 5 counted before rollups were kept: plain hourly buckets.
    let mut legacy = WriteBatch::new();
    for h in (d0..d0 + DAY_HOURS).chain(d0 + 5 * DAY_HOURS..d0 + 6 * DAY_HOURS) {
        let mut b = Bucket::default();
        b.apply(&Event::Conversation);
        legacy.put(
            crate::keys::bucket(t, who, h).to_bytes(),
            crate::codec::encode(&b),
        );
    }
    store.write_now(legacy).unwrap();
    // Counts in days 0 to 3 (day 0's first one starts its rollup from the
    // hours already stored), and a staff member's, which has no day.
    for h in (d0 + 5..d0 + 4 * DAY_HOURS).step_by(5) {
        let mut b = WriteBatch::new();
        b.count(
            crate::keys::bucket(t, who, h),
            Event::PageView(format!("/p{}", h % 3)),
        );
        b.count(
            crate::keys::bucket(t, who, h),
            Event::Message { staff: false },
        );
        let staff = crate::keys::Tally::Staff(parley_engine::StaffId::new());
        b.count(crate::keys::bucket(t, staff, h), Event::Chat);
        store.write_now(b).unwrap();
    }
    let days = store.days(t, site, d0, d0 + 10 * DAY_HOURS).unwrap();
    let starts: Vec<u32> = days.iter().map(|(h, _)| *h - d0).collect();
    assert_eq!(starts, [0, 24, 48, 72], "one rollup a day counted in");
    assert_eq!(days[0].1.all.conversations, 24, "day 0 kept its past");
    assert!(days[0].1.all.page_views > 0 && days[0].1.all.pages.len() == 3);
    let hourly = store.buckets(t, who, d0, d0 + 10 * DAY_HOURS).unwrap();
    let (from, to) = (d0 + 13, d0 + 5 * DAY_HOURS + 9);
    let r = store.site_range(t, site, from, to).unwrap();
    // Whole days 1 to 3 as rollups; day 4 has none and nothing counted;
    // day 5 has none but was counted: its hours, with the range's ends.
    let starts: Vec<u32> = r.days.iter().map(|(h, _)| *h - d0).collect();
    assert_eq!(starts, [24, 48, 72]);
    assert!(r
        .buckets
        .iter()
        .all(|(h, _)| *h < d0 + 24 || *h >= d0 + 5 * DAY_HOURS));
    assert_eq!(
        r.buckets.len(),
        hourly
            .iter()
            .filter(|(h, _)| (from..d0 + 24).contains(h) || (d0 + 96..=to).contains(h))
            .count()
    );
    let tz = parley_engine::analytics::TimeZone::get("Europe/Paris").unwrap();
    let (a, b) = (hour_start(from), hour_start(to + 1));
    let whole = report(
        a,
        b,
        &tz,
        Resolution::Day,
        hourly.iter().map(|(h, b)| (*h, b)),
        "timezone",
    );
    let rolled = report_from(
        a,
        b,
        &tz,
        Resolution::Day,
        r.buckets.iter().map(|(h, b)| (*h, b)),
        r.days.iter().map(|(h, d)| (*h, d)),
        "timezone",
    );
    assert_eq!(whole, rolled);
    assert!(whole.totals.conversations > 0 && whole.totals.page_views > 0);
}

pub fn many_keys_are_read_at_once_in_the_order_asked(store: &Store) {
    let mut b = WriteBatch::new();
    for i in [1u32, 3, 5] {
        b.put(key(i), i.to_be_bytes().to_vec());
    }
    b.put_global(key(2), vec![9]);
    store.write_now(b).unwrap();
    let (k1, k2, k3, k5) = (key(1), key(2), key(3), key(5));
    let asked: [&[u8]; 5] = [&k5, &k2, &k1, &k5, &k3];
    let got: Vec<Option<u32>> = store
        .data()
        .get_many(&asked)
        .unwrap()
        .iter()
        .map(|v| v.as_ref().map(|v| number(v)))
        .collect();
    // Missing keys (and the other tree's) are None; repeats answer twice.
    assert_eq!(got, [Some(5), None, Some(1), Some(5), Some(3)]);
    assert_eq!(
        store.global().get_many(&[&k2, &k1]).unwrap(),
        [Some(Bytes::from(&[9u8][..])), None]
    );
    assert!(store.data().get_many(&[]).unwrap().is_empty());
}

pub fn mixed_trees_apply_together(store: &Store) {
    let mut b = WriteBatch::new();
    b.put(b"a".to_vec(), b"1".to_vec());
    b.put_global(b"g".to_vec(), b"2".to_vec());
    store.write_now(b).unwrap();
    assert!(store.data().get(b"a").unwrap().is_some());
    assert!(store.global().get(b"g").unwrap().is_some());
}

pub fn staff_prefs_keep_their_time_zone_and_the_first_layout_still_reads(store: &Store) {
    let (t, old, new) = (TenantId::new(), StaffId::new(), StaffId::new());
    assert_eq!(store.staff_prefs(t, new).unwrap(), StaffPrefs::default());
    let mut b = WriteBatch::new();
    // Written before the time zone existed.
    b.put(
        keys::staff_prefs(t, old),
        crate::codec::encode(&StaffPrefsV1 {
            contact_alerts: false,
        }),
    );
    let prefs = StaffPrefs {
        contact_alerts: true,
        timezone: "Asia/Tokyo".into(),
    };
    store.put_staff_prefs(&mut b, t, new, &prefs);
    store.write_now(b).unwrap();
    let read = store.staff_prefs(t, old).unwrap();
    assert!(!read.contact_alerts && read.timezone.is_empty(), "{read:?}");
    assert_eq!(store.staff_prefs(t, new).unwrap(), prefs);
}

pub fn site_settings_from_before_the_widget_theme_read_as_auto(store: &Store) {
    use parley_engine::account::{SiteSettings, SiteSettingsV1, Theme};
    let (t, s) = (parley_engine::TenantId::new(), parley_engine::SiteId::new());
    let old = SiteSettingsV1 {
        allowed_origins: vec!["https://a.test".into()],
        color: "#112233".into(),
        position: Default::default(),
        greeting: "Hej".into(),
        offline_message: "Away".into(),
        business_hours: None,
        pre_chat_fields: Vec::new(),
        identity_secret: None,
    };
    let mut b = WriteBatch::new();
    b.put(crate::keys::site_settings(t, s), crate::codec::encode(&old));
    store.write_now(b).unwrap();
    let read = store.site_settings(t, s).unwrap();
    assert_eq!((read.greeting.as_str(), read.theme), ("Hej", Theme::Auto));
    let mut b = WriteBatch::new();
    let dark = SiteSettings {
        theme: Theme::Dark,
        ..read
    };
    store.put_site_settings(&mut b, t, s, &dark);
    store.write_now(b).unwrap();
    assert_eq!(store.site_settings(t, s).unwrap(), dark);
}

pub fn site_settings_from_before_the_reopen_window_read_as_the_servers(store: &Store) {
    use parley_engine::account::{SiteSettings, SiteSettingsV2, Theme};
    let (t, s) = (parley_engine::TenantId::new(), parley_engine::SiteId::new());
    let old = SiteSettingsV2 {
        allowed_origins: Vec::new(),
        color: "#112233".into(),
        position: Default::default(),
        greeting: "Hej".into(),
        offline_message: "Away".into(),
        business_hours: None,
        pre_chat_fields: Vec::new(),
        identity_secret: None,
        theme: Theme::Dark,
    };
    let mut b = WriteBatch::new();
    b.put(crate::keys::site_settings(t, s), crate::codec::encode(&old));
    store.write_now(b).unwrap();
    let read = store.site_settings(t, s).unwrap();
    assert_eq!((read.theme, read.reopen_window_secs), (Theme::Dark, None));
    let mut b = WriteBatch::new();
    let own = SiteSettings {
        reopen_window_secs: Some(600),
        ..read
    };
    store.put_site_settings(&mut b, t, s, &own);
    store.write_now(b).unwrap();
    assert_eq!(store.site_settings(t, s).unwrap(), own);
}

pub fn site_settings_from_before_the_chat_gate_read_as_gated_by_hours(store: &Store) {
    use parley_engine::account::{BusinessHours, DayHours, SiteSettings, SiteSettingsV3, Theme};
    let (t, s) = (parley_engine::TenantId::new(), parley_engine::SiteId::new());
    let old = SiteSettingsV3 {
        allowed_origins: Vec::new(),
        color: "#112233".into(),
        position: Default::default(),
        greeting: "Hej".into(),
        offline_message: "Away".into(),
        business_hours: Some(BusinessHours {
            timezone: "UTC".into(),
            days: vec![DayHours {
                day: "mon".into(),
                open: "09:00".into(),
                close: "17:00".into(),
            }],
        }),
        pre_chat_fields: Vec::new(),
        identity_secret: None,
        theme: Theme::Light,
        reopen_window_secs: Some(60),
    };
    let mut b = WriteBatch::new();
    b.put(crate::keys::site_settings(t, s), crate::codec::encode(&old));
    store.write_now(b).unwrap();
    let read = store.site_settings(t, s).unwrap();
    assert_eq!(
        (
            read.reopen_window_secs,
            read.chat_only_in_hours,
            read.business_hours.is_some()
        ),
        (Some(60), true, true)
    );
    let mut b = WriteBatch::new();
    let open = SiteSettings {
        chat_only_in_hours: false,
        ..read
    };
    store.put_site_settings(&mut b, t, s, &open);
    store.write_now(b).unwrap();
    assert_eq!(store.site_settings(t, s).unwrap(), open);
}

pub fn bookings_keep_the_visitors_zone_and_older_ones_still_read(store: &Store) {
    use parley_engine::booking::{BookingRecord, BookingRecordV1, BookingStatus, Span};
    let (t, s) = (TenantId::new(), SiteId::new());
    let at = Timestamp::now();
    let old = BookingRecordV1 {
        id: BookingId::new(),
        tenant_id: t,
        site_id: s,
        name: "Old".into(),
        email: "old@example.test".into(),
        phone: String::new(),
        company: String::new(),
        topic: String::new(),
        message: String::new(),
        span: Span { start: at, end: at },
        status: BookingStatus::Requested,
        assignee: None,
        notes: String::new(),
        link_version: 0,
        reminded: false,
        history: Vec::new(),
        created_at: at,
    };
    let new = BookingRecord {
        id: BookingId::new(),
        name: "New".into(),
        timezone: "America/New_York".into(),
        ..BookingRecord::from(old.clone())
    };
    let mut b = WriteBatch::new();
    b.put(
        keys::by_id(t, keys::ks::BOOKING, old.id.to_bytes()),
        crate::codec::encode(&old),
    );
    store.put_booking(&mut b, &new);
    store.write_now(b).unwrap();
    let read = store.booking(t, old.id).unwrap().unwrap();
    assert_eq!((read.name.as_str(), read.timezone.as_str()), ("Old", ""));
    assert_eq!(store.booking(t, new.id).unwrap().unwrap(), new);
    let all = store.bookings(t, None, 10, &|_| true).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&new) && all.iter().any(|b| b.id == old.id));
}

pub fn a_site_keeps_when_its_snippet_was_installed_until_it_is_deleted(store: &Store) {
    let site = SiteRecord {
        id: SiteId::new(),
        tenant_id: TenantId::new(),
        name: "S".into(),
        key: "key-installed".into(),
        created_at: Timestamp::now(),
    };
    let (t, s) = (site.tenant_id, site.id);
    let mut b = WriteBatch::new();
    store.put_site(&mut b, &site);
    store.write_now(b).unwrap();
    assert_eq!(store.site_installed_at(t, s).unwrap(), None, "never seen");
    let at = Timestamp::now();
    let mut b = WriteBatch::new();
    store.put_site_installed_at(&mut b, t, s, at);
    store.write_now(b).unwrap();
    assert_eq!(store.site_installed_at(t, s).unwrap(), Some(at));
    assert_eq!(
        store.site_installed_at(t, SiteId::new()).unwrap(),
        None,
        "another site"
    );
    let mut b = WriteBatch::new();
    store.delete_site(&mut b, &site);
    store.write_now(b).unwrap();
    assert_eq!(
        store.site_installed_at(t, s).unwrap(),
        None,
        "gone with the site"
    );
}
