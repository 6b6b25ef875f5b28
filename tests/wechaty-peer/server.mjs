#!/usr/bin/env node
/**
 * wxlink's test peer for the Wechaty Puppet Service protocol.
 *
 * A real `wechaty.Puppet` gRPC server (PuppetServer from wechaty-puppet-service)
 * over PuppetMock (wechaty-puppet-mock) instead of a WeChat account, with fixed
 * seed data and a JSON control API on 127.0.0.1 so that tests can inject
 * incoming messages, read what the client sent, change payloads, and stop or
 * restart the gRPC side. See README.md in this folder.
 *
 * stdout carries exactly one line, once both servers listen:
 *   {"ready":true,"grpcPort":P,"controlPort":C,"grpc":"127.0.0.1:P","control":"http://127.0.0.1:C","token":"...","tls":false,"pid":N}
 * Everything else (logs) goes to stderr.
 */
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import process from 'node:process'

import * as PUPPET from 'wechaty-puppet'
import { PuppetMock } from 'wechaty-puppet-mock'
import { PuppetServer } from 'wechaty-puppet-service'
import { FileBox } from 'file-box'
// Not re-exported by the package entry point: the Wechaty community root CA that signed
// the built-in "insecure" server certificate. Served on GET /tls/ca.pem.
import { TLS_CA_CERT } from './node_modules/wechaty-puppet-service/dist/esm/src/auth/ca.js'

const env = process.env
const HOST = '127.0.0.1'
const TOKEN = env.WECHATY_PEER_TOKEN || 'insecure_7d0c5a52-wxlink-test-peer-0001'
// '1': TLS with the package's built-in "insecure" certificate (X.509 v1, rustls rejects it).
// WECHATY_PEER_TLS_CERT_FILE + WECHATY_PEER_TLS_KEY_FILE: TLS with this certificate instead.
const TLS_CERT_FILE = env.WECHATY_PEER_TLS_CERT_FILE || ''
const TLS_KEY_FILE = env.WECHATY_PEER_TLS_KEY_FILE || ''
const TLS = env.WECHATY_PEER_TLS === '1' || Boolean(TLS_CERT_FILE)
// ms between the puppet's start (the client's Start RPC) and the login; negative: wait for POST /login
const LOGIN_DELAY_MS = Number(env.WECHATY_PEER_LOGIN_DELAY_MS ?? 200)
// period of the puppet's `heartbeat` events; 0 = none
const HEARTBEAT_MS = Number(env.WECHATY_PEER_HEARTBEAT_MS ?? 15000)
const QRCODE = env.WECHATY_PEER_QRCODE || 'https://login.weixin.qq.com/l/wxlink-test-peer'

const T = PUPPET.types

function log (what, obj = {}) {
  process.stderr.write(JSON.stringify({ t: new Date().toISOString(), what, ...obj }) + '\n')
}

/* ------------------------------------------------------------------ seed */
const SELF = { id: 'wxid_bot', name: '小助手Bot' }
const SEED = {
  contacts: [
    { id: 'wxid_alice', name: 'Alice', alias: 'Alice (work)', gender: T.ContactGender.Female, city: 'Shanghai' },
    { id: 'wxid_bob', name: 'Bob', gender: T.ContactGender.Male },
    { id: 'wxid_zhangsan', name: '张三', alias: '老张', gender: T.ContactGender.Male, city: '北京', province: '北京' },
    { id: 'wxid_lisi', name: '李四', alias: '四哥', gender: T.ContactGender.Male },
    // two contacts with the same nickname (one with a remark): "more than one match"
    { id: 'wxid_wangwu_1', name: '王五', alias: '王五（同事）' },
    { id: 'wxid_wangwu_2', name: '王五' },
    { id: 'gh_news', name: '新闻早报', type: T.Contact.Official, friend: false },
  ],
  rooms: [
    {
      id: 'r_team@chatroom',
      topic: '项目组',
      ownerId: 'wxid_alice',
      memberIdList: ['wxid_bot', 'wxid_alice', 'wxid_bob', 'wxid_zhangsan'],
      // room aliases ("my nickname in this group") and inviters
      members: { wxid_zhangsan: { roomAlias: '张工', inviterId: 'wxid_alice' } },
    },
    { id: 'r_family@chatroom', topic: '家庭群', ownerId: 'wxid_bot', memberIdList: ['wxid_bot', 'wxid_zhangsan', 'wxid_lisi'] },
    // two rooms with the same topic
    { id: 'r_book_1@chatroom', topic: '读书会', ownerId: 'wxid_bob', memberIdList: ['wxid_bot', 'wxid_bob'] },
    { id: 'r_book_2@chatroom', topic: '读书会', ownerId: 'wxid_lisi', memberIdList: ['wxid_bot', 'wxid_alice', 'wxid_lisi'] },
    { id: 'r_hiking@chatroom', topic: 'Weekend Hiking', ownerId: 'wxid_bob', memberIdList: ['wxid_bot', 'wxid_alice', 'wxid_bob'] },
  ],
}

const contactPayload = (p) => ({
  id: p.id,
  name: p.name,
  alias: p.alias,
  avatar: '',
  gender: p.gender ?? T.ContactGender.Unknown,
  type: p.type ?? T.Contact.Individual,
  friend: p.friend ?? true,
  city: p.city,
  province: p.province,
  signature: `signature of ${p.name}`,
  star: false,
  phone: [],
  handle: p.id,
  weixin: p.id,
})

/* ------------------------------------------------------------- the puppet */
let msgSeq = 0
const sent = []     // what the gRPC client made the bot send
const received = [] // what was injected as incoming
const roomMembers = new Map() // roomId -> { memberId -> { roomAlias, inviterId } }

/**
 * PuppetMock whose sends return a message id and are recorded, whose room member
 * payloads carry room aliases, and whose RoomTopic/ContactAlias return real values.
 */
class PeerPuppetMock extends PuppetMock {
  createMessage ({ talkerId, conversationId, text, fileBoxJson, type, mentionIdList }) {
    const id = `msg_${++msgSeq}`
    const base = { id, talkerId, timestamp: Date.now(), type: type ?? T.Message.Text, text }
    if (fileBoxJson) {
      this.mocker.cacheFileBoxPayload.set(id, fileBoxJson)
      base.filename = fileBoxJson.name
    }
    let payload
    if (/@/.test(conversationId)) { // PuppetMock routes to a room by the "@"
      this.mocker.roomPayload(conversationId) // throws for an unknown room
      payload = { ...base, roomId: conversationId, mentionIdList: mentionIdList || [] }
    } else {
      this.mocker.contactPayload(conversationId) // throws for an unknown contact
      payload = { ...base, listenerId: conversationId }
    }
    this.mocker.MessageMock.create(payload)
    this.emit('message', { messageId: id })
    return payload
  }

  async botSend (conversationId, extra, record = {}) {
    if (!this.isLoggedIn) throw new Error('not logged in')
    const payload = this.createMessage({ talkerId: this.currentUserId, conversationId, ...extra })
    sent.push({
      id: payload.id,
      conversationId,
      talkerId: payload.talkerId,
      type: payload.type,
      text: payload.text,
      mentionIds: extra.mentionIdList || [],
      ...record,
    })
    log('sent', { conversationId, id: payload.id, type: payload.type, text: payload.text })
    return payload.id
  }

  async messageSendText (conversationId, text, mentionIdList) {
    return this.botSend(conversationId, { text, mentionIdList })
  }

  async messageSendFile (conversationId, fileBox) {
    // A FileBox from gRPC is a UUID box bound to the server's registry (or an inline
    // base64 one): read it now so that /sent can show the bytes and messageFile() can
    // serve it back later.
    const base64 = await fileBox.toBase64()
    const json = FileBox.fromBase64(base64, fileBox.name).toJSON()
    const type = /\.(png|jpe?g|gif|webp)$/i.test(fileBox.name) ? T.Message.Image : T.Message.Attachment
    return this.botSend(
      conversationId,
      { fileBoxJson: json, type, text: fileBox.name },
      { filename: fileBox.name, fileSize: Buffer.from(base64, 'base64').length, fileBase64: base64 },
    )
  }

  async messageSendContact (conversationId, contactId) {
    return this.botSend(conversationId, { type: T.Message.Contact, text: `contact card: ${contactId}` })
  }

  async messageSendUrl (conversationId, urlLinkPayload) {
    return this.botSend(conversationId, { type: T.Message.Url, text: JSON.stringify(urlLinkPayload) })
  }

  async roomTopic (roomId, topic) {
    if (typeof topic === 'undefined') return this.mocker.roomPayload(roomId).topic
    this.mocker.roomPayload(roomId).topic = topic
    await this.dirtyPayload(T.Dirty.Room, roomId)
  }

  async contactAlias (contactId, alias) {
    const p = this.mocker.contactPayload(contactId)
    if (typeof alias === 'undefined') return p.alias || ''
    p.alias = alias || undefined
    await this.dirtyPayload(T.Dirty.Contact, contactId)
  }

  async contactAvatar (contactId, file) {
    if (file) return
    return FileBox.fromBase64(Buffer.from('avatar of ' + contactId).toString('base64'), `${contactId}.txt`)
  }

  async roomMemberRawPayload (roomId, contactId) {
    const room = this.mocker.roomPayload(roomId)
    if (!room.memberIdList.includes(contactId)) {
      throw new Error(`contact ${contactId} is not a member of room ${roomId}`)
    }
    const contact = await this.contactPayload(contactId)
    const extra = roomMembers.get(roomId)?.[contactId] || {}
    return { id: contactId, name: contact.name, avatar: contact.avatar, roomAlias: extra.roomAlias, inviterId: extra.inviterId }
  }
}

const puppet = new PeerPuppetMock()
const mocker = puppet.mocker

const selfMock = mocker.createContact(contactPayload(SELF))
for (const c of SEED.contacts) mocker.createContact(contactPayload(c))
for (const r of SEED.rooms) {
  mocker.createRoom({ id: r.id, topic: r.topic, ownerId: r.ownerId, memberIdList: r.memberIdList, adminIdList: [], avatar: '' })
  if (r.members) roomMembers.set(r.id, r.members)
}

function doLogin () {
  if (puppet.isLoggedIn) return false
  mocker.scan(QRCODE, T.ScanStatus.Scanned)
  mocker.scan(QRCODE, T.ScanStatus.Confirmed)
  mocker.login(selfMock)
  setTimeout(() => puppet.emit('ready', { data: 'test peer ready' }), 100)
  return true
}

// Runs when the puppet starts (the client's first Start RPC).
mocker.use(() => {
  log('mocker-start', { loginDelayMs: LOGIN_DELAY_MS })
  const timers = []
  mocker.scan(QRCODE, T.ScanStatus.Waiting)
  if (LOGIN_DELAY_MS >= 0) timers.push(setTimeout(doLogin, LOGIN_DELAY_MS))
  if (HEARTBEAT_MS > 0) {
    const beat = () => puppet.emit('heartbeat', { data: 'test peer heartbeat' })
    setImmediate(beat)
    timers.push(setInterval(beat, HEARTBEAT_MS))
  }
  return () => timers.forEach(t => { clearTimeout(t); clearInterval(t) })
})

for (const ev of ['scan', 'login', 'logout', 'ready', 'message', 'dirty', 'room-join', 'room-leave', 'room-topic', 'error']) {
  puppet.on(ev, payload => log('puppet-event', { event: ev, payload }))
}

function resolveContactId (x) {
  if (!x) return undefined
  if (mocker.cacheContactPayload.has(x)) return x
  const found = [...mocker.cacheContactPayload.values()].filter(p => p.name === x || p.alias === x)
  if (found.length !== 1) throw new Error(`${found.length ? 'ambiguous' : 'unknown'} contact ${x}`)
  return found[0].id
}
function resolveRoomId (x) {
  if (!x) return undefined
  if (mocker.cacheRoomPayload.has(x)) return x
  const found = [...mocker.cacheRoomPayload.values()].filter(p => p.topic === x)
  if (found.length !== 1) throw new Error(`${found.length ? 'ambiguous' : 'unknown'} room ${x}`)
  return found[0].id
}

/** a mocked contact sends the bot a message, or a message into a room */
function inject ({ from, room, text, file, mentions }) {
  if (!puppet.isLoggedIn) throw new Error('not logged in')
  const talkerId = resolveContactId(from || 'wxid_alice')
  const roomId = resolveRoomId(room)
  if (roomId && !mocker.roomPayload(roomId).memberIdList.includes(talkerId)) {
    throw new Error(`${talkerId} is not a member of ${roomId}`)
  }
  let fileBoxJson, type
  if (file) {
    fileBoxJson = FileBox.fromBase64(file.base64, file.name || 'file.bin').toJSON()
    type = /\.(png|jpe?g|gif|webp)$/i.test(fileBoxJson.name) ? T.Message.Image : T.Message.Attachment
  }
  const payload = puppet.createMessage({
    talkerId,
    conversationId: roomId || puppet.currentUserId,
    text: text ?? (file ? file.name || 'file.bin' : ''),
    fileBoxJson,
    type,
    mentionIdList: (mentions || []).map(resolveContactId),
  })
  received.push(payload)
  return payload
}

/** the puppet's own payload cache (wechaty-puppet CacheAgent) for one kind of payload */
function forgetPuppetCache (kind, id) {
  const cache = puppet.cache && puppet.cache[kind]
  if (cache && typeof cache.delete === 'function') cache.delete(id)
}

/**
 * Change a contact: `dirty` (default true) emits a `dirty` event like a real puppet;
 * with `dirty: false` only the server-side data changes, so a client cache keeps the
 * old value until it is told.
 */
async function updateContact ({ id, name, alias, dirty = true }) {
  const p = mocker.contactPayload(id)
  if (name !== undefined) p.name = name
  if (alias !== undefined) p.alias = alias || undefined
  forgetPuppetCache('contact', id)
  if (dirty) puppet.dirtyPayload(T.Dirty.Contact, id)
  return p
}

async function updateRoom ({ id, topic, memberIdList, dirty = true }) {
  const p = mocker.roomPayload(id)
  if (topic !== undefined) p.topic = topic
  if (memberIdList !== undefined) p.memberIdList = memberIdList
  forgetPuppetCache('room', id)
  forgetPuppetCache('roomMember', id)
  if (dirty) puppet.dirtyPayload(T.Dirty.Room, id)
  return p
}

/** add `count` synthetic contacts (for benchmarks): ids `wxid_synth_<n>`, names `<prefix><n>` */
function addSyntheticContacts ({ count = 100, prefix = '联系人' }) {
  const n = Math.max(0, Math.min(Number(count) || 0, 200000))
  const start = mocker.cacheContactPayload.size
  for (let i = 0; i < n; i++) {
    const k = start + i
    mocker.createContact(contactPayload({ id: `wxid_synth_${k}`, name: `${prefix}${k}`, alias: k % 3 === 0 ? `备注${k}` : undefined }))
  }
  return { added: n, total: mocker.cacheContactPayload.size }
}

/* ------------------------------------------------------------- gRPC side */
function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, HOST, () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

let grpcPort = Number(env.WECHATY_PEER_GRPC_PORT || 0)
let server // PuppetServer while the gRPC side is up

function tlsOptions () {
  if (!TLS) return { disable: true }
  if (TLS_CERT_FILE) {
    return { disable: false, serverCert: fs.readFileSync(TLS_CERT_FILE, 'utf8'), serverKey: fs.readFileSync(TLS_KEY_FILE, 'utf8') }
  }
  return { disable: false }
}

async function grpcStart () {
  if (server) return false
  if (!grpcPort) grpcPort = await freePort()
  let lastError
  // after a stop the port can take a moment to be free again
  for (let attempt = 0; attempt < 50; attempt++) {
    const s = new PuppetServer({ endpoint: `${HOST}:${grpcPort}`, puppet, token: TOKEN, tls: tlsOptions() })
    try {
      await s.start()
      server = s
      log('grpc-started', { port: grpcPort, attempt })
      return true
    } catch (e) {
      lastError = e
      try { await s.stop() } catch {}
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
  throw lastError
}

async function grpcStop () {
  if (!server) return false
  const s = server
  server = undefined
  await s.stop()
  log('grpc-stopped', { port: grpcPort })
  return true
}

/* --------------------------------------------------------- control API */
const readJson = req => new Promise((resolve, reject) => {
  const chunks = []
  req.on('data', c => chunks.push(c))
  req.on('end', () => {
    try {
      const body = Buffer.concat(chunks).toString('utf8')
      resolve(body ? JSON.parse(body) : {})
    } catch (e) { reject(e) }
  })
  req.on('error', reject)
})

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const control = http.createServer(async (req, res) => {
  const reply = (code, obj) => {
    const body = Buffer.from(JSON.stringify(obj))
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length })
    res.end(body)
  }
  try {
    const url = new URL(req.url, 'http://localhost')
    const key = `${req.method} ${url.pathname}`
    switch (key) {
      case 'GET /health':
        return reply(200, {
          ok: true,
          grpc: `${HOST}:${grpcPort}`,
          grpcUp: Boolean(server),
          tls: TLS,
          token: TOKEN,
          loggedIn: puppet.isLoggedIn,
          userId: puppet.isLoggedIn ? puppet.currentUserId : null,
        })
      case 'GET /state':
        return reply(200, {
          self: SELF,
          contacts: [...mocker.cacheContactPayload.values()],
          rooms: [...mocker.cacheRoomPayload.values()],
        })
      case 'GET /tls/ca.pem': {
        const pem = Buffer.from(TLS_CA_CERT + '\n')
        res.writeHead(200, { 'content-type': 'application/x-pem-file', 'content-length': pem.length })
        return res.end(pem)
      }
      case 'GET /sent':
        return reply(200, sent)
      case 'GET /received':
        return reply(200, received)
      case 'POST /reset-log':
        sent.length = 0; received.length = 0
        return reply(200, { ok: true })
      case 'POST /inject':
        return reply(200, inject(await readJson(req)))
      case 'POST /contact':
        return reply(200, await updateContact(await readJson(req)))
      case 'POST /room':
        return reply(200, await updateRoom(await readJson(req)))
      case 'POST /dirty': {
        // {type: 1 message | 2 contact | 3 room | 4 room member | 5 friendship, id}
        const b = await readJson(req)
        puppet.dirtyPayload(Number(b.type), String(b.id))
        return reply(200, { ok: true })
      }
      case 'POST /contacts/synthetic':
        return reply(200, addSyntheticContacts(await readJson(req)))
      case 'POST /grpc/stop':
        return reply(200, { stopped: await grpcStop() })
      case 'POST /grpc/start':
        return reply(200, { started: await grpcStart(), port: grpcPort })
      case 'POST /grpc/restart': {
        const b = await readJson(req)
        await grpcStop()
        await sleep(Number(b.downMs ?? 200))
        await grpcStart()
        return reply(200, { ok: true, port: grpcPort })
      }
      case 'POST /login':
        return reply(200, { loggedIn: doLogin() || puppet.isLoggedIn })
      case 'POST /logout':
        await puppet.logout('logout requested via the control API')
        return reply(200, { ok: true })
      case 'POST /scan': {
        const b = await readJson(req)
        mocker.scan(b.qrcode || QRCODE, b.status ?? T.ScanStatus.Waiting)
        return reply(200, { ok: true })
      }
      case 'POST /emit': {
        // any puppet event, e.g. {"event":"room-join","payload":{roomId, inviteeIdList, inviterId, timestamp}}
        const b = await readJson(req)
        puppet.emit(b.event, b.payload)
        return reply(200, { ok: true })
      }
      default:
        return reply(404, { error: `no route ${key}` })
    }
  } catch (e) {
    return reply(400, { error: String(e && e.message ? e.message : e) })
  }
})

/* ------------------------------------------------------------- start */
const controlPort = Number(env.WECHATY_PEER_CONTROL_PORT || 0)
await grpcStart()
await new Promise((resolve, reject) => {
  control.once('error', reject)
  control.listen(controlPort, HOST, resolve)
})
const ready = {
  ready: true,
  grpcPort,
  controlPort: control.address().port,
  grpc: `${HOST}:${grpcPort}`,
  control: `http://${HOST}:${control.address().port}`,
  token: TOKEN,
  tls: TLS,
  pid: process.pid,
}
process.stdout.write(JSON.stringify(ready) + '\n')

let stopping = false
async function shutdown (sig) {
  if (stopping) return
  stopping = true
  log('shutdown', { sig })
  control.close()
  try { await grpcStop() } catch (e) { log('shutdown-error', { error: String(e) }) }
  try { await puppet.stop() } catch {}
  process.exit(0)
}
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGTERM', () => shutdown('SIGTERM'))
// WECHATY_PEER_EXIT_WITH_STDIN=1: exit when stdin closes, so that a test harness that
// dies without killing us (SIGKILL, panic in a signal handler) does not leave us behind.
if (env.WECHATY_PEER_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => shutdown('stdin-closed'))
  process.stdin.on('error', () => shutdown('stdin-error'))
  process.stdin.resume()
}
