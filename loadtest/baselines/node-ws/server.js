// The seeds' own stack, as a baseline for `parley-loadtest compare`.
//
//   node server.js [--port 0] [--pg postgres://user@host:port/db]
//
// Speaks Parley's visitor frames: hello -> welcome, send -> ack + message,
// ping -> pong. Relay only by default; with --pg every message is INSERTed
// into PostgreSQL (one row, committed) before it is acknowledged, the way
// the original company-site design stores chat messages. Messages of one
// conversation are stored one after another so seqs stay in order.
'use strict';

const http = require('http');
const crypto = require('crypto');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const port = Number(opt('--port', '0'));
const pgUrl = opt('--pg', null);

let pool = null;
async function setup() {
  if (!pgUrl) return;
  const { Pool } = require('pg');
  pool = new Pool({ connectionString: pgUrl, max: 20 });
  await pool.query(`CREATE TABLE IF NOT EXISTS messages (
    id text PRIMARY KEY,
    conversation_id text NOT NULL,
    seq bigint NOT NULL,
    client_id text NOT NULL,
    sender text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, client_id)
  )`);
}

// Ids in ULID form (Crockford base32: 48-bit time, 80 random bits), as Parley's.
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const id = () => {
  let t = Date.now();
  let s = '';
  for (let i = 0; i < 10; i++) {
    s = B32[t % 32] + s;
    t = Math.floor(t / 32);
  }
  const r = crypto.randomBytes(16);
  for (let i = 0; i < 16; i++) s += B32[r[i] % 32];
  return s;
};

function onConnection(ws) {
  const visitor = id();
  const conversation = id();
  const from = { kind: 'visitor', id: visitor, name: null };
  let seq = 0;
  let chain = Promise.resolve();

  const deliver = (clientId, body, mid, n) => {
    const ts = new Date().toISOString();
    ws.send(JSON.stringify({ type: 'ack', client_id: clientId, conversation_id: conversation, id: mid, seq: n, ts }));
    ws.send(JSON.stringify({ type: 'message', conversation_id: conversation, id: mid, seq: n, from, body, private: false, ts }));
  };

  ws.on('message', (data) => {
    let f;
    try {
      f = JSON.parse(data.toString());
    } catch (e) {
      ws.send(JSON.stringify({ type: 'error', code: 'bad_frame', message: 'not JSON' }));
      return;
    }
    switch (f.type) {
      case 'hello':
        ws.send(JSON.stringify({ type: 'welcome', visitor_id: visitor, visitor_token: 'node', conversation: null, agents_online: true }));
        break;
      case 'send': {
        const n = ++seq;
        const mid = id();
        if (!pool) {
          deliver(f.client_id, f.body, mid, n);
          break;
        }
        chain = chain
          .then(() => pool.query(
            'INSERT INTO messages (id, conversation_id, seq, client_id, sender, body) VALUES ($1, $2, $3, $4, $5, $6)',
            [mid, conversation, n, f.client_id, visitor, f.body]))
          .then(() => deliver(f.client_id, f.body, mid, n))
          .catch((e) => ws.send(JSON.stringify({ type: 'error', code: 'internal', message: String(e), client_id: f.client_id })));
        break;
      }
      case 'ping':
        ws.send('{"type":"pong"}');
        break;
      default:
        break;
    }
  });
}

setup().then(() => {
  const server = http.createServer((req, res) => {
    res.writeHead(426);
    res.end();
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', onConnection);
  server.listen(port, '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`);
  });
  process.on('SIGTERM', () => process.exit(0));
}).catch((e) => {
  console.error(`node baseline: ${e}`);
  process.exit(1);
});
