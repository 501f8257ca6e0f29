// Starts the Node reference Durable Streams server, file-backed in --dir,
// listening on 127.0.0.1:--port, until SIGTERM or SIGINT.
import { DurableStreamTestServer } from "@durable-streams/server"

function flag(name, def) {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def
}

const port = Number(flag("port", "0"))
const dataDir = flag("dir", "")
const longPoll = Number(flag("long-poll-ms", "30000"))
const server = new DurableStreamTestServer({
  port,
  host: "127.0.0.1",
  dataDir: dataDir || undefined,
  longPollTimeout: longPoll,
})
const url = await server.start()
console.log(`listening ${url}`)
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, async () => {
    await server.stop()
    process.exit(0)
  })
}
