#!/usr/bin/env python3
"""Turns the raw outputs of one benchmark run into one JSON line (bench/run.sh appends it
to records.jsonl; bench/report.py reads them).

  record.py pgbench --scenario S --label L --target T --out pgbench.out --agg-prefix P
                    --cpu samples --clk-tck 100 --warmup 4 --exit-status 0 [--note N]
  record.py idle    --scenario idle --label L --target T --ready "READY ok=..." --rss-before-kb K
                    --rss-after-kb K --idle-ticks N --idle-window "t0 t1" --clk-tck 100 [--note N]
  record.py contention --scenario contention --label L --target sluice --json out.json [--note N]
  record.py skip    --scenario S --label L --target T --reason R [--error]
  record.py brief   < records.jsonl      (one line about the last record, for the console)

A pgbench record may name the Sluice workers it ran with and the server logins PostgreSQL
counted during the run (--workers, --server-logins: the workers sweep).

Pooler CPU per transaction: pgbench logs transactions per whole epoch second
(--aggregate-interval=1); the sampler logs the pooler's utime+stime every 0.1 s. The
window is the whole seconds after the warm-up and before the last (partial) second; CPU
at its edges is interpolated between samples.
"""
import argparse
import glob
import json
import os
import re
import sys


def pgbench_summary(text):
    """The figures pgbench prints at the end of a run."""
    def number(pattern):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else None

    errors = [line for line in text.splitlines() if 'error' in line.lower() or 'aborted' in line.lower()]
    return {
        'tps': number(r'^tps = ([\d.]+)'),
        'latency_ms': number(r'^latency average = ([\d.]+) ms'),
        'transactions': number(r'^number of transactions actually processed: (\d+)'),
        'failed_transactions': number(r'^number of failed transactions: (\d+)'),
        'connection_time_ms': number(r'^initial connection time = ([\d.]+) ms'),
        'errors': errors[:5],
    }


def per_second_transactions(prefix):
    """{epoch second: transactions} summed over pgbench's per-thread aggregate logs."""
    counts = {}
    for path in glob.glob(glob.escape(prefix) + '.*'):
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 2:
                    second = int(fields[0])
                    counts[second] = counts.get(second, 0) + int(fields[1])
    return counts


def cpu_samples(path):
    samples = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) == 2:
                    samples.append((float(fields[0]), int(fields[1])))
    except FileNotFoundError:
        pass
    return samples


def ticks_at(samples, when):
    """CPU ticks at time `when`, linear between the samples around it."""
    if not samples or when < samples[0][0] or when > samples[-1][0]:
        return None
    for (t0, c0), (t1, c1) in zip(samples, samples[1:]):
        if t0 <= when <= t1:
            return c0 + (c1 - c0) * ((when - t0) / (t1 - t0) if t1 > t0 else 0)
    return samples[-1][1]


def cpu_window(counts, samples, warmup, clk_tck):
    seconds = sorted(counts)
    if len(seconds) < 3:
        return {}
    first, last = seconds[0], seconds[-1]
    window = [s for s in seconds if first + warmup <= s < last]
    if not window:
        window = seconds[1:-1]
    start, end = window[0], window[-1] + 1
    transactions = sum(counts[s] for s in window)
    result = {'window_seconds': end - start, 'window_transactions': transactions,
              'window_tps': transactions / (end - start)}
    c0, c1 = ticks_at(samples, start), ticks_at(samples, end)
    if c0 is not None and c1 is not None and transactions > 0:
        cpu_us = (c1 - c0) / clk_tck * 1e6
        result['cpu_us_per_tx'] = cpu_us / transactions
        result['cpu_percent'] = cpu_us / 1e6 / (end - start) * 100
    return result


def pgbench_record(a):
    with open(a.out, errors='replace') as f:
        text = f.read()
    rec = pgbench_summary(text)
    rec.update(cpu_window(per_second_transactions(a.agg_prefix), cpu_samples(a.cpu), a.warmup, a.clk_tck))
    rec['exit_status'] = a.exit_status
    problems = []
    if a.note:
        problems.append(a.note)
    if a.exit_status != 0:
        problems.append(f'pgbench exit status {a.exit_status}')
    if rec['failed_transactions']:
        problems.append(f"{int(rec['failed_transactions'])} failed transactions")
    if rec['tps'] is None:
        problems.append('pgbench printed no tps')
    if problems:
        rec['error'] = '; '.join(problems + rec['errors'][:2])
    rec['pgbench_args'] = a.args
    return rec


def idle_record(a):
    rec = {}
    m = re.search(r'ok=(\d+) failed=(\d+) seconds=([\d.]+) first_error=(.*)', a.ready or '')
    if m:
        rec.update(clients_ok=int(m.group(1)), clients_failed=int(m.group(2)),
                   login_seconds=float(m.group(3)))
        if rec['clients_failed']:
            a.note = '; '.join(filter(None, [a.note, f"{rec['clients_failed']} clients did not log in: {m.group(4)}"]))
    if a.rss_before_kb and a.rss_after_kb and rec.get('clients_ok'):
        rec['rss_before_kb'] = int(a.rss_before_kb)
        rec['rss_after_kb'] = int(a.rss_after_kb)
        rec['bytes_per_idle_client'] = (rec['rss_after_kb'] - rec['rss_before_kb']) * 1024 / rec['clients_ok']
        t0, t1 = (float(x) for x in a.idle_window.split())
        if t1 > t0:
            rec['idle_cpu_percent'] = a.idle_ticks / a.clk_tck / (t1 - t0) * 100
            rec['idle_window_seconds'] = t1 - t0
    if a.note:
        rec['error'] = a.note
    elif 'bytes_per_idle_client' not in rec:
        rec['error'] = 'no measurement'
    return rec


def contention_record(a):
    """bench_pool_contention's JSON: one row per mode and thread count."""
    rec = {}
    try:
        with open(a.json) as f:
            data = json.load(f)
        rec.update(rows=data['rows'], cores=data['cores'], seconds=data['seconds'],
                   warmup_seconds=data['warmup_seconds'])
    except (OSError, ValueError, KeyError) as e:
        a.note = '; '.join(filter(None, [a.note, f'no results from bench_pool_contention ({e})']))
    if a.note:
        rec['error'] = a.note
    return rec


def brief(records):
    if not records:
        return ''
    r = records[-1]
    head = f"  {r['target']:<10}" + (f" workers={r['workers']}: " if r.get('workers') else '')
    if r.get('rows'):
        return '\n'.join(f"  {x['mode']:<6} {x['threads']} threads: {x['per_thread_cpu_second'] / 1e6:.2f} M/CPU-s "
                         f"per thread, {x['total_per_second'] / 1e6:.2f} M/s in total" for x in r['rows'])
    if 'skipped' in r:
        return f"{head} {'ERROR' if r.get('error') else 'n/a'}: {r['skipped']}"
    parts = []
    for key, fmt in (('server_logins', '{} server logins'), ('tps', '{:.0f} tps'), ('latency_ms', 'lat {:.3f} ms'), ('cpu_us_per_tx', 'CPU {:.1f} us/tx'),
                     ('bytes_per_idle_client', '{:.0f} B/idle client'), ('idle_cpu_percent', 'idle CPU {:.2f}%'),
                     ('login_seconds', 'logins took {:.1f} s')):
        if r.get(key) is not None:
            parts.append(fmt.format(r[key]))
    if r.get('error'):
        parts.append('ERROR: ' + r['error'])
    return head + ', '.join(parts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('kind', choices=['pgbench', 'idle', 'contention', 'skip', 'brief'])
    for name in ('scenario', 'label', 'target', 'args', 'out', 'agg_prefix', 'cpu', 'note', 'reason', 'ready',
                 'rss_before_kb', 'rss_after_kb', 'idle_window', 'json', 'workers', 'server_logins'):
        p.add_argument('--' + name.replace('_', '-'), default='')
    p.add_argument('--clk-tck', type=int, default=100)
    p.add_argument('--warmup', type=int, default=0)
    p.add_argument('--exit-status', type=int, default=0)
    p.add_argument('--idle-ticks', type=int, default=0)
    p.add_argument('--error', action='store_true')
    a = p.parse_args()

    if a.kind == 'brief':
        print(brief([json.loads(line) for line in sys.stdin if line.strip()]))
        return
    if a.kind == 'skip':
        rec = {'skipped': a.reason}
        if a.error:
            rec['error'] = a.reason
    elif a.kind == 'pgbench':
        rec = pgbench_record(a)
        if a.workers:
            rec['workers'] = int(a.workers)
        if a.server_logins:
            rec['server_logins'] = int(a.server_logins)
    elif a.kind == 'contention':
        rec = contention_record(a)
    else:
        rec = idle_record(a)
    rec = {'scenario': a.scenario, 'label': a.label, 'target': a.target,
           'round': int(os.environ.get('BENCH_ROUND', '1')), **rec}
    print(json.dumps(rec))


if __name__ == '__main__':
    main()
