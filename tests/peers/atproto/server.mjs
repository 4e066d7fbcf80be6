// A real AT Protocol network for the tests: a PLC directory and a PDS, and on request the
// Bluesky AppView (@atproto/bsky) that indexes the PDS's repositories.
//
// Environment:
//   ATPROTO_PLC_PORT, ATPROTO_PDS_PORT  free ports to listen on (127.0.0.1 only)
//   ATPROTO_DATA_DIR                    an empty directory for the PDS's data (SQLite, blobs)
//   ATPROTO_APPVIEW_DB                  a PostgreSQL URL: start the AppView too, its tables in
//   ATPROTO_APPVIEW_SCHEMA              this schema (created; the caller drops it after)
//   ATPROTO_APPVIEW_PORT                its free port
//
// When both servers answer, one JSON line is printed on stdout:
//   {"ready": true, "pds": "http://localhost:<port>", "plc": "http://127.0.0.1:<port>", ...}
// SIGTERM or SIGINT closes both and exits with 0.
//
// The PDS runs in development mode as @atproto/dev-env configures it: handles end in ".test",
// no invite codes, no AppView (app.bsky.* reads that need one fail), no rate limits. Its
// public URL is http://localhost:<port>: that is what DID documents name as the PDS.

import net from 'node:net'
import path from 'node:path'
import fs from 'node:fs'

const dataDir = process.env.ATPROTO_DATA_DIR
const plcPort = Number(process.env.ATPROTO_PLC_PORT)
const pdsPort = Number(process.env.ATPROTO_PDS_PORT)
if (!dataDir || !plcPort || !pdsPort) {
  console.error('set ATPROTO_DATA_DIR, ATPROTO_PLC_PORT and ATPROTO_PDS_PORT')
  process.exit(2)
}
fs.mkdirSync(dataDir, { recursive: true })

// dev-env places the PDS's database and blobs in os.tmpdir(): keep them in our directory.
process.env.TMPDIR = dataDir
process.env.LOG_ENABLED ??= 'false'

// Both servers call listen(port) with no host, which binds every interface: bind loopback.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const { default: devEnv } = await import('@atproto/dev-env')

const plcUrl = `http://127.0.0.1:${plcPort}`
for (const name of ['pds', 'blobs']) fs.mkdirSync(path.join(dataDir, name), { recursive: true })
const pdsConfig = {
  port: pdsPort,
  didPlcUrl: plcUrl,
  dataDirectory: path.join(dataDir, 'pds'),
  blobstoreDiskLocation: path.join(dataDir, 'blobs'),
}
const appviewDb = process.env.ATPROTO_APPVIEW_DB
const network = appviewDb
  ? await withAppView(appviewDb)
  : await devEnv.TestNetworkNoAppView.create({ plc: { port: plcPort }, pds: pdsConfig })

// PLC, then the AppView (its DID in the PLC directory, following the PDS's event stream), then
// the PDS, which sends app.bsky.* reads to the AppView as a production PDS does.
async function withAppView(dbUrl) {
  const plc = await devEnv.TestPlc.create({ port: plcPort })
  const bsky = await devEnv.TestBsky.create({
    port: Number(process.env.ATPROTO_APPVIEW_PORT),
    plcUrl: plc.url,
    pdsPort,
    repoProvider: `ws://localhost:${pdsPort}`,
    dbPostgresUrl: dbUrl,
    dbPostgresSchema: process.env.ATPROTO_APPVIEW_SCHEMA,
  })
  const pds = await devEnv.TestPds.create({
    ...pdsConfig,
    bskyAppViewUrl: bsky.url,
    bskyAppViewDid: bsky.ctx.cfg.serverDid,
  })
  devEnv.mockNetworkUtilities(pds, bsky)
  return {
    pds,
    bsky,
    async close() {
      await pds.close()
      await bsky.close()
      await plc.close()
    },
  }
}

let closing = false
async function close() {
  if (closing) return
  closing = true
  setTimeout(() => process.exit(0), 5000).unref()
  try {
    await network.close()
  } finally {
    process.exit(0)
  }
}
process.on('SIGTERM', close)
process.on('SIGINT', close)

console.log(
  JSON.stringify({
    ready: true,
    pds: network.pds.url,
    plc: plcUrl,
    pdsDid: network.pds.ctx.cfg.service.did,
    handleDomains: network.pds.ctx.cfg.identity.serviceHandleDomains,
    adminPassword: devEnv.ADMIN_PASSWORD,
    jwtSecret: devEnv.JWT_SECRET,
    appview: network.bsky ? network.bsky.url : null,
  }),
)
