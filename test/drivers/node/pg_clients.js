#!/usr/bin/env node
// node-postgres (npm `pg`) through a pooler in transaction mode (test/integration/drivers_test.cpp;
// the scenario is in test/drivers/README.md). Named queries ({name, text, values}): pg sends the
// Parse once per connection and then only Bind/Execute, so every client's "stmt_a" must stay its
// own text (half the clients give that name a different text) on whichever server it lands.
//
// Usage: node pg_clients.js LABEL=HOST:PORT ...   (DRIVER_USER, DRIVER_PASSWORD, DRIVER_DB,
// DRIVER_CLIENTS, DRIVER_ROUNDS in the environment). Exit 0 only when every value was right.
'use strict'
const { Client } = require('pg')
const { env, check, report, runEveryTarget } = require('./common')

const DRIVER = 'pg'
const TABLE = 'drivers_node_pg'
const STMT_A = ['select $1::int + 1', "select $1::text || 'x'"]
const STMT_B = 'select $1::int * 2, $2::text'
const STMT_INS = `insert into ${TABLE} (client, k) values ($1, $2)`
const STMT_CNT = `select count(*)::int from ${TABLE} where client = $1`
const expectA = (i, v) => (i % 2 === 0 ? v + 1 : `${v}x`)

async function client(i, config, stats) {
  const conn = new Client(config)
  await conn.connect()
  try {
    const named = async (name, text, values) =>
      (await conn.query({ name, text, values, rowMode: 'array' })).rows[0]
    let committed = 0
    for (let k = 0; k < env.rounds; k++) {
      const v = i * 1000 + k
      check('stmt_a', (await named('stmt_a', STMT_A[i % 2], [v]))[0], expectA(i, v))
      check('stmt_b', await named('stmt_b', STMT_B, [v, `c${i}`]), [2 * v, `c${i}`])
      stats.executions += 2
      // Other work between them: unprepared, and tells which server this was.
      stats.backends.add((await conn.query('select pg_backend_pid() as pid')).rows[0].pid)
      // Several queued at once (pg sends each after the previous answer).
      const [a, b] = await Promise.all([named('stmt_a', STMT_A[i % 2], [v + 1]), named('stmt_b', STMT_B, [v + 1, 'q'])])
      check('queued stmt_a', a[0], expectA(i, v + 1))
      check('queued stmt_b', b, [2 * (v + 1), 'q'])
      stats.executions += 2
      // A transaction: committed four times out of five, else rolled back.
      const rollback = k % 5 === 4
      await conn.query('BEGIN')
      await named('stmt_ins', STMT_INS, [i, k])
      check('count in transaction', (await named('stmt_cnt', STMT_CNT, [i]))[0], committed + 1)
      check('stmt_a in transaction', (await named('stmt_a', STMT_A[i % 2], [v]))[0], expectA(i, v))
      stats.executions += 3
      await conn.query(rollback ? 'ROLLBACK' : 'COMMIT')
      if (!rollback) committed++
    }
    check('final count', (await named('stmt_cnt', STMT_CNT, [i]))[0], committed)
    stats.executions += 1
  } finally {
    await conn.end()
  }
}

async function runTarget(label, host, port) {
  const config = { host, port, user: env.user, password: env.password, database: env.db }
  const setup = new Client(config)
  await setup.connect()
  await setup.query(`drop table if exists ${TABLE}`)
  await setup.query(`create table ${TABLE} (client int, k int)`)
  await setup.end()
  return report(DRIVER, label, client, config)
}

runEveryTarget(runTarget)
