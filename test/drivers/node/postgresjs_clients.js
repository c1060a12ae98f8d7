#!/usr/bin/env node
// postgres.js (npm `postgres`) through a pooler in transaction mode (test/integration/drivers_test.cpp;
// the scenario is in test/drivers/README.md). It prepares every query by default, under names of
// its own (random per connection), and sends a new statement's Parse and Describe with a Flush,
// not a Sync, waiting for the description before its Bind: the server must stay with the client
// in between. Queries sent together are pipelined on the wire.
//
// Usage: node postgresjs_clients.js LABEL=HOST:PORT ...   (DRIVER_USER, DRIVER_PASSWORD,
// DRIVER_DB, DRIVER_CLIENTS, DRIVER_ROUNDS in the environment). Exit 0 only when every value was right.
'use strict'
const postgres = require('postgres')
const { env, check, report, runEveryTarget } = require('./common')

const DRIVER = 'postgres.js'
const TABLE = 'drivers_postgresjs'
const expectA = (i, v) => (i % 2 === 0 ? v + 1 : `${v}x`)

class Rollback extends Error {}

async function client(i, config, stats) {
  const sql = postgres({ ...config, max: 1, prepare: true, onnotice: () => {} })
  const stmtA = (q, v) => (i % 2 === 0 ? q`select ${v}::int + 1` : q`select ${v}::text || 'x'`).values()
  const stmtB = (q, v, tag) => q`select ${v}::int * 2, ${tag}::text`.values()
  const stmtCnt = (q) => q`select count(*)::int from ${q(TABLE)} where client = ${i}`.values()
  try {
    let committed = 0
    for (let k = 0; k < env.rounds; k++) {
      const v = i * 1000 + k
      check('stmt_a', (await stmtA(sql, v))[0][0], expectA(i, v))
      check('stmt_b', (await stmtB(sql, v, `c${i}`))[0], [2 * v, `c${i}`])
      stats.executions += 2
      // Other work between them: unprepared, and tells which server this was.
      stats.backends.add((await sql.unsafe('select pg_backend_pid() as pid', [], { prepare: false }))[0].pid)
      // Pipelined: both sent before either answer.
      const [a, b] = await Promise.all([stmtA(sql, v + 1), stmtB(sql, v + 1, 'q')])
      check('pipelined stmt_a', a[0][0], expectA(i, v + 1))
      check('pipelined stmt_b', b[0], [2 * (v + 1), 'q'])
      stats.executions += 2
      // A transaction: committed four times out of five, else rolled back.
      const rollback = k % 5 === 4
      try {
        await sql.begin(async (tx) => {
          await tx`insert into ${tx(TABLE)} (client, k) values (${i}, ${k})`
          check('count in transaction', (await stmtCnt(tx))[0][0], committed + 1)
          check('stmt_a in transaction', (await stmtA(tx, v))[0][0], expectA(i, v))
          stats.executions += 3
          if (rollback) throw new Rollback()
        })
      } catch (error) {
        if (!(error instanceof Rollback)) throw error
      }
      if (!rollback) committed++
    }
    check('final count', (await stmtCnt(sql))[0][0], committed)
    stats.executions += 1
  } finally {
    await sql.end({ timeout: 1 })
  }
}

async function runTarget(label, host, port) {
  const config = { host, port, user: env.user, pass: env.password, database: env.db }
  const setup = postgres({ ...config, max: 1, onnotice: () => {} })
  await setup.unsafe(`drop table if exists ${TABLE}`)
  await setup.unsafe(`create table ${TABLE} (client int, k int)`)
  await setup.end({ timeout: 1 })
  return report(DRIVER, label, client, config)
}

runEveryTarget(runTarget)
