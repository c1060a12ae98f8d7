#!/usr/bin/env ruby
# ruby-pg through a pooler in transaction mode (test/integration/drivers_test.cpp; the scenario is
# in test/drivers/README.md): prepare / exec_prepared with names the script chooses, half the
# clients giving "stmt_a" a different text, also in libpq's pipeline mode and inside transactions.
#
# Usage: ruby ruby_pg_clients.rb LABEL=HOST:PORT ...   (DRIVER_USER, DRIVER_PASSWORD, DRIVER_DB,
# DRIVER_CLIENTS, DRIVER_ROUNDS in the environment). Exit 0 only when every value was right.
require 'pg'

DRIVER = 'ruby-pg'
USER = ENV.fetch('DRIVER_USER', 'app')
PASSWORD = ENV.fetch('DRIVER_PASSWORD', 'apppass')
DB = ENV.fetch('DRIVER_DB', 'app')
CLIENTS = Integer(ENV.fetch('DRIVER_CLIENTS', '8'))
ROUNDS = Integer(ENV.fetch('DRIVER_ROUNDS', '50'))
TABLE = 'drivers_ruby_pg'

STMT_A = ['select $1::int + 1', "select $1::text || 'x'"].freeze
STMT_B = 'select $1::int * 2, $2::text'
STMT_INS = "insert into #{TABLE} (client, k) values ($1, $2)"
STMT_CNT = "select count(*)::int from #{TABLE} where client = $1"

class Failure < StandardError; end

def expect_a(i, v) = i.even? ? (v + 1).to_s : "#{v}x"

def check(what, got, want)
  raise Failure, "#{what}: got #{got.inspect}, want #{want.inspect}" unless got == want
end

def client(i, params, stats)
  executions = 0
  backends = []
  conn = PG.connect(params)
  begin
    conn.prepare('stmt_a', STMT_A[i % 2])
    conn.prepare('stmt_b', STMT_B)
    conn.prepare('stmt_ins', STMT_INS)
    conn.prepare('stmt_cnt', STMT_CNT)
    committed = 0
    ROUNDS.times do |k|
      v = i * 1000 + k
      check('stmt_a', conn.exec_prepared('stmt_a', [v]).getvalue(0, 0), expect_a(i, v))
      check('stmt_b', conn.exec_prepared('stmt_b', [v, "c#{i}"]).values.first, [(2 * v).to_s, "c#{i}"])
      executions += 2
      # Other work between them: unprepared, and tells which server this was.
      backends << conn.exec('select pg_backend_pid()').getvalue(0, 0)
      # A pipeline of both (one Sync).
      conn.enter_pipeline_mode
      conn.send_query_prepared('stmt_a', [v + 1])
      conn.send_query_prepared('stmt_b', [v + 1, 'p'])
      conn.pipeline_sync
      a = conn.get_result
      a.check
      conn.get_result # the end of the first query's results
      b = conn.get_result
      b.check
      conn.get_result
      sync = conn.get_result
      check('pipeline sync', sync.result_status, PG::PGRES_PIPELINE_SYNC)
      conn.exit_pipeline_mode
      check('pipeline stmt_a', a.getvalue(0, 0), expect_a(i, v + 1))
      check('pipeline stmt_b', b.values.first, [(2 * (v + 1)).to_s, 'p'])
      executions += 2
      # A transaction: committed four times out of five, else rolled back.
      rollback = k % 5 == 4
      conn.exec('BEGIN')
      conn.exec_prepared('stmt_ins', [i, k])
      check('count in transaction', conn.exec_prepared('stmt_cnt', [i]).getvalue(0, 0), (committed + 1).to_s)
      check('stmt_a in transaction', conn.exec_prepared('stmt_a', [v]).getvalue(0, 0), expect_a(i, v))
      executions += 3
      conn.exec(rollback ? 'ROLLBACK' : 'COMMIT')
      committed += 1 unless rollback
    end
    check('final count', conn.exec_prepared('stmt_cnt', [i]).getvalue(0, 0), committed.to_s)
    executions += 1
    nil
  rescue StandardError => e
    "client #{i}: #{e.class}: #{e.message.strip}"
  ensure
    conn.close
    stats << [executions, backends]
  end
end

def run_target(label, host, port)
  params = { host: host, port: port, user: USER, password: PASSWORD, dbname: DB, sslmode: 'disable' }
  PG.connect(params) do |setup|
    setup.exec("set client_min_messages = warning")
    setup.exec("drop table if exists #{TABLE}")
    setup.exec("create table #{TABLE} (client int, k int)")
  end
  stats = Queue.new
  threads = (0...CLIENTS).map { |i| Thread.new { client(i, params, stats) } }
  errors = threads.map(&:value).compact
  executions = 0
  backends = []
  until stats.empty?
    count, seen = stats.pop
    executions += count
    backends.concat(seen)
  end
  errors.each { |error| puts "ERROR #{error}" }
  puts "#{DRIVER} #{label}: clients=#{CLIENTS} rounds=#{ROUNDS} executions=#{executions} " \
       "backends=#{backends.uniq.size} errors=#{errors.size}"
  $stdout.flush
  errors.empty?
end

ok = ARGV.map do |target|
  label, address = target.split('=', 2)
  host, _, port = address.rpartition(':')
  run_target(label, host, port)
end.all?
exit(ok ? 0 : 1)
