// What the Node.js driver scripts share: settings from the environment, the targets from the
// command line, value checks, and running the clients concurrently with a one-line summary.
'use strict'
const assert = require('node:assert')

const env = {
  user: process.env.DRIVER_USER || 'app',
  password: process.env.DRIVER_PASSWORD || 'apppass',
  db: process.env.DRIVER_DB || 'app',
  clients: Number(process.env.DRIVER_CLIENTS || 8),
  rounds: Number(process.env.DRIVER_ROUNDS || 50),
}

// LABEL=HOST:PORT arguments as [label, host, port].
function targets() {
  return process.argv.slice(2).map((arg) => {
    const [label, address] = arg.split('=')
    const colon = address.lastIndexOf(':')
    return [label, address.slice(0, colon), Number(address.slice(colon + 1))]
  })
}

function check(what, got, want) {
  try {
    assert.deepStrictEqual(got, want)
  } catch {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
  }
}

// Runs client(i, config, stats) for every client at once and prints the summary line; true when
// none failed.
async function report(driver, label, client, config) {
  const stats = { executions: 0, backends: new Set() }
  const outcomes = await Promise.allSettled(
    Array.from({ length: env.clients }, (_, i) => client(i, config, stats))
  )
  const errors = []
  outcomes.forEach((outcome, i) => {
    if (outcome.status === 'rejected') {
      const error = outcome.reason
      errors.push(`client ${i}: ${error && error.code ? error.code + ' ' : ''}${error && error.message ? error.message : error}`)
    }
  })
  for (const error of errors) console.log(`ERROR ${error}`)
  console.log(`${driver} ${label}: clients=${env.clients} rounds=${env.rounds} executions=${stats.executions} ` +
              `backends=${stats.backends.size} errors=${errors.length}`)
  return errors.length === 0
}

// Runs `runTarget(label, host, port)` for each target in turn and exits 0 only if all passed.
function runEveryTarget(runTarget) {
  ;(async () => {
    let ok = true
    for (const [label, host, port] of targets()) ok = (await runTarget(label, host, port)) && ok
    process.exit(ok ? 0 : 1)
  })().catch((error) => {
    console.log(`ERROR ${error.stack || error}`)
    process.exit(1)
  })
}

module.exports = { env, targets, check, report, runEveryTarget }
