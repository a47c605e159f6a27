// Kinesis stand-in: kinesalite (pinned in package.json) bound to 127.0.0.1 with its data on disk.
// Usage: node kinesalite.js PORT DATA_DIR
'use strict'
const kinesalite = require('kinesalite')

const port = parseInt(process.argv[2], 10)
const path = process.argv[3]
if (!port || !path) {
  console.error('usage: node kinesalite.js PORT DATA_DIR')
  process.exit(2)
}
// shardLimit: AWS's default shard quota in us-east-1 (kinesalite's own default is 10)
const server = kinesalite({path, createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 500})
server.listen(port, '127.0.0.1', () => console.log(`kinesalite listening on 127.0.0.1:${port}`))

// Close the server (and with it LevelDB) on SIGTERM so every write is on disk.
function shutdown () {
  server.close(() => process.exit(0))
  if (server.closeIdleConnections) server.closeIdleConnections()
  setTimeout(() => process.exit(0), 1000).unref()
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
