// Record what the real poolee 1.0.1 does, for tests/test_presets.py to replay into
// Pool.preset("poolee").
//
//   cd tests/poolee && npm ci && node record.js      (node_modules/ is ignored by git)
//
// Nothing here touches the network: poolee is given a fake `http` module whose requests are
// answered by a scripted cluster on a virtual clock (setTimeout, setInterval and Date.now are
// replaced before poolee is loaded). Math.random is replaced by a seeded generator and every
// draw is logged with the file that made it, so the replay can feed the same numbers to the
// pool. Writes traces/*.json.
'use strict'

const fs = require('fs')
const path = require('path')
const { EventEmitter } = require('events')

// -- virtual time -----------------------------------------------------------------------------
let now = 0
let seq = 0
const timers = [] // [time, seq, fn]
function schedule(at, fn) {
  timers.push([at, seq++, fn])
}
global.setTimeout = function (fn, delay) {
  const from = new Error().stack.includes('pinger.js') ? 'pinger' : 'other'
  if (from === 'pinger') log({ ev: 'ping_scheduled', at: now + delay, delay: delay, node: currentPing })
  schedule(now + delay, fn)
  return { unref() {}, ref() {} }
}
global.setInterval = function () { return { unref() {}, ref() {} } } // clock/timeout sweeps: unused
global.clearTimeout = function () {}
Date.now = function () { return now }

function runUntil(limit) {
  while (timers.length) {
    timers.sort((a, b) => a[0] - b[0] || a[1] - b[1])
    if (timers[0][0] > limit) break
    const [at, , fn] = timers.shift()
    now = at
    fn()
  }
}

// -- seeded randomness, every draw logged -----------------------------------------------------
function mulberry32(seed) {
  return function () {
    seed |= 0; seed = seed + 0x6D2B79F5 | 0
    let t = Math.imul(seed ^ seed >>> 15, 1 | seed)
    t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t
    return ((t ^ t >>> 14) >>> 0) / 4294967296
  }
}
let poolRandom = mulberry32(1)
let events = []
function log(e) { e.t = now; events.push(e) }
Math.random = function () {
  const stack = new Error().stack
  const from = stack.includes('pinger.js') ? 'pinger' : stack.includes('pool.js') ? 'pool'
    : stack.includes('request_set.js') ? 'retry' : 'other'
  const u = poolRandom()
  log({ ev: 'draw', from: from, u: u })
  return u
}

// -- the scripted cluster ---------------------------------------------------------------------
let down = {}          // node name -> [[from, to], ...] in ms
let serviceTime = () => 10
let currentPing = null
let nextId = 0
function isDown(name, t) {
  return (down[name] || []).some(([a, b]) => a <= t && t < b)
}
const fakeHttp = {
  Agent: function () { this.sockets = {}; this.maxSockets = 20 },
  request(options) {
    const req = new EventEmitter()
    const name = options.host + ':' + options.port
    const ping = options.path === '/ping'
    const id = nextId++
    req.setHeader = function () {}
    req.abort = function () {}
    req.end = function () {
      log({ ev: 'send', node: name, id: id, ping: ping })
      const failing = isDown(name, now)
      const delay = failing ? 1 : (ping ? 1 : serviceTime())
      schedule(now + delay, function () {
        const ok = !isDown(name, now) && !failing
        log({ ev: 'done', node: name, id: id, ping: ping, ok: ok })
        if (ping) currentPing = name
        if (!ok) {
          req.emit('error', new Error('connect ECONNREFUSED'))
          return
        }
        const res = new EventEmitter()
        res.statusCode = 200
        req.emit('response', res)
        res.emit('data', Buffer.from('ok'))
        res.emit('end')
      })
    }
    return req
  },
}

const Pool = require('poolee')
const origGetNode = Pool.prototype.get_node
Pool.prototype.get_node = function () {
  const node = origGetNode.call(this)
  log({ ev: 'pick', node: node.ip === null ? null : node.name })
  return node
}

function newPool(n) {
  const names = []
  for (let i = 0; i < n; i++) names.push('10.0.0.' + i + ':80')
  const pool = new Pool(fakeHttp, names, { ping: '/ping', timeout: 0, resolution: 0 })
  pool.on('health', function (msg) {
    const [name, , state] = msg.split(' ')
    log({ ev: 'health', node: name, healthy: state === 'true' })
  })
  for (const node of pool.nodes) {
    // Which node a pinger timer belongs to: the pinger's request is bound to its node.
    const start = node.pinger.ping.bind(node.pinger)
    node.pinger.ping = function () { currentPing = node.name; start() }
  }
  return { pool, names }
}

function scenario(file, { seed, nodes, duration, gap, service, outages }) {
  now = 0; seq = 0; timers.length = 0; events = []; nextId = 0
  poolRandom = mulberry32(seed)
  const load = mulberry32(seed + 1000) // the workload's own stream, not logged
  serviceTime = () => service[0] + Math.floor(load() * (service[1] - service[0]))
  const { pool, names } = newPool(nodes)
  down = {}
  for (const [i, a, b] of outages) (down[names[i]] = down[names[i]] || []).push([a, b])
  for (let t = 0; t < duration; t += gap[0] + Math.floor(load() * (gap[1] - gap[0]))) {
    schedule(t, function () {
      pool.request({ path: '/x' }, function (err, res, body) {
        log({ ev: 'result', ok: !err, reason: err ? err.reason || err.message : null })
      })
    })
  }
  runUntil(duration + 60000)
  const out = { poolee: '1.0.1', seed, nodes: names, duration, gap, service, outages, events }
  fs.writeFileSync(path.join(__dirname, 'traces', file), JSON.stringify(out) + '\n')
  console.log(file, events.length, 'events')
}

// Exact enumeration of get_node: every start index r for a fixed state.
function enumeration(file, cases) {
  const out = []
  for (const c of cases) {
    const { pool } = newPool(c.pending.length)
    pool.nodes.forEach((node, i) => { node.pending = c.pending[i]; node.healthy = c.healthy[i] })
    const n = c.pending.length
    const chosen = []
    for (let r = 0; r < n; r++) {
      const u = (r + 0.5) / n
      Math.random = () => u
      const node = origGetNode.call(pool)
      chosen.push(node.ip === null ? null : pool.nodes.indexOf(node))
    }
    out.push({ pending: c.pending, healthy: c.healthy, chosen: chosen })
  }
  fs.writeFileSync(path.join(__dirname, 'traces', file), JSON.stringify(out) + '\n')
  console.log(file, out.length, 'cases')
}

fs.mkdirSync(path.join(__dirname, 'traces'), { recursive: true })
// A crash of one server for 54 s and a short one of another, light load.
scenario('outage.json', { seed: 7, nodes: 8, duration: 70000, gap: [20, 120], service: [5, 40],
  outages: [[2, 1000, 55000], [5, 20000, 21500]] })
// Heavy load (many requests in flight, so the mean-pending fallback runs) and a flapping server.
scenario('busy.json', { seed: 11, nodes: 6, duration: 2500, gap: [1, 4], service: [10, 60],
  outages: [[1, 500, 800], [1, 1500, 1600], [4, 1800, 2300], [0, 2000, 2050]] })
enumeration('walk.json', [
  { pending: [3, 1, 2, 5, 1, 4, 2, 6], healthy: [true, true, true, true, true, true, true, true] },
  { pending: [0, 0, 0, 0, 0, 0], healthy: [true, false, false, true, false, true] },
  { pending: [2, 0, 1, 3, 0, 2], healthy: [true, false, true, true, true, false] },
  { pending: [1, 2, 3], healthy: [false, false, false] },
  { pending: [4, 4, 1, 7, 2], healthy: [true, false, true, true, true] },
])
