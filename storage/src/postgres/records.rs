//! Records on PostgreSQL: the `kv` table read through a small pool of
//! connections, each on a thread of its own (`http/CLUSTER.md`, "Records").
//!
//! The storage traits read synchronously (sled answers from memory), so a
//! read here is a job handed to a pool thread, which runs it on its own
//! current-thread runtime and answers on a channel. A caller on a
//! multi-threaded runtime waits inside `block_in_place`, so the runtime
//! moves its other work to another worker meanwhile; anywhere else it just
//! waits. No caller ever needs a runtime of its own.
//!
//! A connection that fails is dropped and made again for the next job; the
//! job that met the failure answers [`StorageError::Database`]. Every
//! statement has a time limit, and so does the wait for an answer.

use crate::kv::Bytes;
use crate::{Op, Result, StorageError};
use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::ToSql;

/// How long one statement may run before PostgreSQL cancels it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a caller waits for its answer (a statement, plus a reconnect).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
/// How long making a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Rows a scan fetches first from either end, and at most per page after.
const FIRST_PAGE: i64 = 16;
const MAX_PAGE: i64 = 1024;
/// One key's value.
const GET: &str = "SELECT value FROM kv WHERE tree = $1 AND key = $2";

#[derive(Clone)]
enum Query {
    Get {
        tree: i16,
        key: Vec<u8>,
    },
    /// Several keys, pipelined: one round trip, each key looked up by the
    /// statement `Get` uses (a plan PostgreSQL keeps, as for one key).
    GetMany {
        tree: i16,
        keys: Vec<Vec<u8>>,
    },
    Scan {
        tree: i16,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        rev: bool,
        limit: i64,
        keys_only: bool,
    },
    Count {
        tree: i16,
    },
    /// Puts and deletes in one transaction, no fence (offline writes).
    Write(Vec<Op>),
    /// Sets `key` unless it is set; answers what it holds then.
    Claim {
        tree: i16,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Size,
}

enum Answer {
    Value(Option<Vec<u8>>),
    Values(Vec<Option<Vec<u8>>>),
    Rows(Vec<(Vec<u8>, Vec<u8>)>),
    Number(i64),
    Done,
}

struct Job {
    query: Query,
    answer: mpsc::SyncSender<Result<Answer>>,
}

/// The reading side of a PostgreSQL-backed store: a few connections on
/// threads of their own. Dropping the last handle stops the threads.
pub struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
    url: String,
}

impl Pool {
    /// Opens `threads` connections to `url` and checks the schema is there
    /// (`parley admin migrate` puts it there).
    pub fn open(url: &str, threads: usize) -> Result<Arc<Self>> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let (url, rx) = (url.to_string(), rx.clone());
            std::thread::Builder::new()
                .name(format!("parley-pg-{i}"))
                .spawn(move || work(&url, &rx))?;
        }
        let pool = Arc::new(Self {
            jobs: Mutex::new(tx),
            url: url.to_string(),
        });
        pool.count(0)?;
        Ok(pool)
    }

    /// Where the records are (with its password: never log it, see
    /// [`super::redacted`]).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn ask(&self, query: Query) -> Result<Answer> {
        let (tx, rx) = mpsc::sync_channel(1);
        let sent = self
            .jobs
            .lock()
            .map_err(|_| gone())?
            .send(Job { query, answer: tx });
        sent.map_err(|_| gone())?;
        wait(move || rx.recv_timeout(ANSWER_TIMEOUT)).unwrap_or_else(|_| {
            Err(StorageError::Database(
                "PostgreSQL did not answer in time".into(),
            ))
        })
    }

    pub(crate) fn get(&self, tree: i16, key: &[u8]) -> Result<Option<Bytes>> {
        match self.ask(Query::Get {
            tree,
            key: key.to_vec(),
        })? {
            Answer::Value(v) => Ok(v.map(Bytes::from)),
            _ => Err(odd()),
        }
    }

    /// The values at `keys`, in their order, in one round trip.
    pub(crate) fn get_many(&self, tree: i16, keys: &[&[u8]]) -> Result<Vec<Option<Bytes>>> {
        match self.ask(Query::GetMany {
            tree,
            keys: keys.iter().map(|k| k.to_vec()).collect(),
        })? {
            Answer::Values(v) if v.len() == keys.len() => {
                Ok(v.into_iter().map(|v| v.map(Bytes::from)).collect())
            }
            _ => Err(odd()),
        }
    }

    pub(crate) fn count(&self, tree: i16) -> Result<usize> {
        match self.ask(Query::Count { tree })? {
            Answer::Number(n) => Ok(n.max(0) as usize),
            _ => Err(odd()),
        }
    }

    /// Bytes the records take in PostgreSQL, indexes included.
    pub(crate) fn size(&self) -> Result<u64> {
        match self.ask(Query::Size)? {
            Answer::Number(n) => Ok(n.max(0) as u64),
            _ => Err(odd()),
        }
    }

    /// Writes `ops` in one transaction, unfenced: offline commands and
    /// tests only (the server writes through its fenced writer).
    pub(crate) fn write(&self, ops: Vec<Op>) -> Result<()> {
        match self.ask(Query::Write(ops))? {
            Answer::Done => Ok(()),
            _ => Err(odd()),
        }
    }

    /// Sets `key` to `value` unless it is set already; the value it holds
    /// afterwards (so two nodes starting at once agree on one).
    pub(crate) fn claim(&self, tree: i16, key: &[u8], value: Vec<u8>) -> Result<Vec<u8>> {
        match self.ask(Query::Claim {
            tree,
            key: key.to_vec(),
            value,
        })? {
            Answer::Value(Some(v)) => Ok(v),
            _ => Err(odd()),
        }
    }

    fn scan(
        &self,
        tree: i16,
        (lo, hi): (&Bound<Vec<u8>>, &Bound<Vec<u8>>),
        rev: bool,
        limit: i64,
        keys_only: bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        match self.ask(Query::Scan {
            tree,
            lo: lo.clone(),
            hi: hi.clone(),
            rev,
            limit,
            keys_only,
        })? {
            Answer::Rows(r) => Ok(r),
            _ => Err(odd()),
        }
    }
}

fn gone() -> StorageError {
    StorageError::Database("the PostgreSQL pool has stopped".into())
}

fn odd() -> StorageError {
    StorageError::Database("the PostgreSQL pool answered out of turn".into())
}

/// Runs a blocking wait, telling a multi-threaded runtime first so its
/// other tasks move to another worker.
fn wait<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// One pool thread: takes jobs until every handle is gone.
fn work(url: &str, jobs: &Mutex<mpsc::Receiver<Job>>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "a PostgreSQL pool thread has no runtime");
            return;
        }
    };
    let mut conn: Option<Conn> = None;
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let out = rt.block_on(async {
            // A connection the server closed (a restart, an idle cut) since
            // its last job is made again before this one, not failed on.
            if conn.as_ref().is_some_and(|c| c.client.is_closed()) {
                conn = None;
            }
            let reused = conn.is_some();
            if conn.is_none() {
                conn = Some(Conn::open(url).await?);
            }
            let Some(c) = conn.as_mut() else {
                return Err(StorageError::Database("no connection".into()));
            };
            match c.run(job.query.clone()).await {
                // A kept connection found dead only now: once more on a new
                // one (every query here may run twice: puts and deletes
                // land the same, reads read again).
                Err(_) if reused && c.client.is_closed() => {
                    let mut fresh = Conn::open(url).await?;
                    let out = fresh.run(job.query).await;
                    conn = Some(fresh);
                    out
                }
                out => out,
            }
        });
        if out.is_err() {
            // Made again for the next job: a broken connection never lingers.
            conn = None;
        }
        let _ = job.answer.send(out);
    }
}

/// A connection and its prepared statements.
struct Conn {
    client: tokio_postgres::Client,
    statements: HashMap<String, tokio_postgres::Statement>,
}

pub(crate) fn db(e: tokio_postgres::Error) -> StorageError {
    StorageError::Database(super::describe(&e))
}

impl Conn {
    async fn open(url: &str) -> Result<Self> {
        let client = connect_with_limits(url).await.map_err(db)?;
        Ok(Self {
            client,
            statements: HashMap::new(),
        })
    }

    async fn statement(&mut self, sql: String) -> Result<tokio_postgres::Statement> {
        if let Some(s) = self.statements.get(&sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&sql).await.map_err(db)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    async fn run(&mut self, q: Query) -> Result<Answer> {
        match q {
            Query::Get { tree, key } => {
                let st = self.statement(GET.into()).await?;
                let row = self
                    .client
                    .query_opt(&st, &[&tree, &key])
                    .await
                    .map_err(db)?;
                Ok(Answer::Value(row.map(|r| r.get(0))))
            }
            Query::GetMany { tree, keys } => {
                // Sent together and answered in order (tokio-postgres
                // pipelines requests polled at once). One statement with
                // `key = ANY($2)` or a join with `unnest` was planned afresh
                // on every call, or kept a plan made while the table was
                // small that walked the whole tree: hellos timed out.
                let st = self.statement(GET.into()).await?;
                let client = &self.client;
                let params: Vec<[&(dyn ToSql + Sync); 2]> =
                    keys.iter().map(|k| [&tree as _, k as _]).collect();
                let rows = futures_util::future::try_join_all(
                    params.iter().map(|p| client.query_opt(&st, p)),
                )
                .await
                .map_err(db)?;
                Ok(Answer::Values(
                    rows.into_iter().map(|r| r.map(|r| r.get(0))).collect(),
                ))
            }
            Query::Count { tree } => {
                let st = self
                    .statement("SELECT count(*) FROM kv WHERE tree = $1".into())
                    .await?;
                let row = self.client.query_one(&st, &[&tree]).await.map_err(db)?;
                Ok(Answer::Number(row.get(0)))
            }
            Query::Size => {
                let st = self
                    .statement("SELECT pg_total_relation_size('kv')".into())
                    .await?;
                let row = self.client.query_one(&st, &[]).await.map_err(db)?;
                Ok(Answer::Number(row.get(0)))
            }
            Query::Write(ops) => {
                super::lease::write_fenced(&mut self.client, "", &[], &ops)
                    .await
                    .map_err(|e| StorageError::Database(e.to_string()))?;
                Ok(Answer::Done)
            }
            Query::Claim { tree, key, value } => {
                let st = self
                    .statement(
                        "WITH ins AS (INSERT INTO kv (tree, key, value) VALUES ($1, $2, $3)
                                      ON CONFLICT (tree, key) DO NOTHING RETURNING value)
                         SELECT value FROM ins
                         UNION ALL SELECT value FROM kv WHERE tree = $1 AND key = $2
                         LIMIT 1"
                            .into(),
                    )
                    .await?;
                let row = self
                    .client
                    .query_one(&st, &[&tree, &key, &value])
                    .await
                    .map_err(db)?;
                Ok(Answer::Value(Some(row.get(0))))
            }
            Query::Scan {
                tree,
                lo,
                hi,
                rev,
                limit,
                keys_only,
            } => {
                let mut sql = format!(
                    "SELECT key, {} FROM kv WHERE tree = $1",
                    if keys_only { "''::bytea" } else { "value" }
                );
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![&tree];
                for (bound, incl, excl) in [(&lo, ">=", ">"), (&hi, "<=", "<")] {
                    let (op, key) = match bound {
                        Bound::Included(k) => (incl, k),
                        Bound::Excluded(k) => (excl, k),
                        Bound::Unbounded => continue,
                    };
                    params.push(key);
                    sql.push_str(&format!(" AND key {op} ${}", params.len()));
                }
                params.push(&limit);
                sql.push_str(&format!(
                    " ORDER BY key {} LIMIT ${}",
                    if rev { "DESC" } else { "ASC" },
                    params.len()
                ));
                let st = self.statement(sql).await?;
                let rows = self.client.query(&st, &params).await.map_err(db)?;
                Ok(Answer::Rows(
                    rows.iter().map(|r| (r.get(0), r.get(1))).collect(),
                ))
            }
        }
    }
}

/// A connection whose statements stop at [`STATEMENT_TIMEOUT`] and whose
/// connecting stops at [`CONNECT_TIMEOUT`].
pub(crate) async fn connect_with_limits(
    url: &str,
) -> std::result::Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut cfg: tokio_postgres::Config = url.parse()?;
    cfg.connect_timeout(CONNECT_TIMEOUT);
    cfg.options(format!(
        "-c statement_timeout={}",
        STATEMENT_TIMEOUT.as_millis()
    ));
    let (client, conn) = cfg.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(client)
}

/// A scan of a key range, fetched a page at a time from whichever end is
/// asked (the pages grow from [`FIRST_PAGE`] to [`MAX_PAGE`]). Each side
/// moves its bound past what it returned, and each checks what it buffered
/// against the other's bound, so no key is returned twice.
pub(crate) struct Scan {
    pool: Arc<Pool>,
    tree: i16,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    ends: [End; 2],
    keys_only: bool,
    failed: bool,
}

#[derive(Default)]
struct End {
    buffered: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// The last page came back short: nothing lies beyond it.
    done: bool,
    page: i64,
}

impl Scan {
    pub(crate) fn new(pool: Arc<Pool>, tree: i16, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Self {
        let end = || End {
            page: FIRST_PAGE,
            ..End::default()
        };
        Self {
            pool,
            tree,
            lo,
            hi,
            ends: [end(), end()],
            keys_only: false,
            failed: false,
        }
    }

    /// The same scan, fetching keys only.
    pub(crate) fn keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }

    fn step(&mut self, rev: bool) -> Option<Result<(Bytes, Bytes)>> {
        if self.failed {
            return None;
        }
        let side = usize::from(rev);
        loop {
            if let Some((k, v)) = self.ends[side].buffered.pop_front() {
                let inside = if rev {
                    above(&self.lo, &k)
                } else {
                    below(&self.hi, &k)
                };
                if !inside {
                    // The other end has already returned this key and all beyond it.
                    self.ends = [End::default(), End::default()].map(|mut e| {
                        e.done = true;
                        e
                    });
                    return None;
                }
                let bound = if rev { &mut self.hi } else { &mut self.lo };
                *bound = Bound::Excluded(k.clone());
                return Some(Ok((Bytes::from(k), Bytes::from(v))));
            }
            if self.ends[side].done {
                return None;
            }
            let page = self.ends[side].page;
            let rows =
                match self
                    .pool
                    .scan(self.tree, (&self.lo, &self.hi), rev, page, self.keys_only)
                {
                    Ok(r) => r,
                    Err(e) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                };
            let end = &mut self.ends[side];
            end.done = (rows.len() as i64) < page;
            end.page = (page * 4).min(MAX_PAGE);
            end.buffered.extend(rows);
        }
    }
}

fn below(hi: &Bound<Vec<u8>>, k: &[u8]) -> bool {
    match hi {
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
        Bound::Unbounded => true,
    }
}

fn above(lo: &Bound<Vec<u8>>, k: &[u8]) -> bool {
    match lo {
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
        Bound::Unbounded => true,
    }
}

impl Iterator for Scan {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}
