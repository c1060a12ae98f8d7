#!/usr/bin/env python3
"""Turns the raw outputs of one benchmark run into one JSON line (bench/run.sh appends it
to records.jsonl; bench/report.py reads them).

  record.py pgbench --scenario S --label L --target T --out pgbench.out --agg-prefix P
                    --cpu samples --clk-tck 100 --warmup 4 --exit-status 0 [--note N]
  record.py idle    --scenario idle --label L --target T --ready "READY ok=..." --rss-before-kb K
                    --rss-after-kb K --idle-ticks N --idle-window "t0 t1" --clk-tck 100 [--note N]
  record.py storm   --scenario storm --label L --target T --out pgbench.out --agg-prefix P
                    --ready "READY ok=..." --storm-window "t0 t1" --warmup 4 --exit-status 0 [--note N]
  record.py copy    --scenario copy --label L --target T --bytes N --copy-times "t0 t1 t2"
                    [--copy-ticks "c0 c1 c2" --clk-tck 100 --rss-before-kb K --hwm-out-kb K
                    --hwm-in-kb K] [--note N]
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


def per_second_aggregates(prefix):
    """{epoch second: [transactions, sum of latencies in us]} summed over pgbench's per-thread
    aggregate logs (fields: interval_start num_transactions sum_latency ...)."""
    seconds = {}
    for path in glob.glob(glob.escape(prefix) + '.*'):
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3:
                    entry = seconds.setdefault(int(fields[0]), [0, 0])
                    entry[0] += int(fields[1])
                    entry[1] += int(fields[2])
    return seconds


def per_second_transactions(prefix):
    """{epoch second: transactions} summed over pgbench's per-thread aggregate logs."""
    return {second: entry[0] for second, entry in per_second_aggregates(prefix).items()}


def cpu_samples(path):
    samples = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) == 3:  # time, CPU ticks, user-mode CPU ticks
                    samples.append((float(fields[0]), int(fields[1]), int(fields[2])))
    except FileNotFoundError:
        pass
    return samples


def ticks_at(samples, when, column=1):
    """CPU ticks (column 1: all, 2: user mode) at time `when`, linear between the samples
    around it."""
    if not samples or when < samples[0][0] or when > samples[-1][0]:
        return None
    for before, after in zip(samples, samples[1:]):
        t0, t1, c0, c1 = before[0], after[0], before[column], after[column]
        if t0 <= when <= t1:
            return c0 + (c1 - c0) * ((when - t0) / (t1 - t0) if t1 > t0 else 0)
    return samples[-1][column]


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
        # The kernel's part (sockets, waking peers) is alike for every pooler; the user-mode
        # part is the pooler's own code. The kernel splits the two by sampling at its ticks.
        u0, u1 = ticks_at(samples, start, 2), ticks_at(samples, end, 2)
        result['user_cpu_us_per_tx'] = (u1 - u0) / clk_tck * 1e6 / transactions
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
    logins = parse_ready(a.ready)
    if logins:
        rec.update(clients_ok=logins[0], clients_failed=logins[1], login_seconds=logins[2])
        if rec['clients_failed']:
            a.note = '; '.join(filter(None, [a.note, f"{rec['clients_failed']} clients did not log in: {logins[3]}"]))
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


def parse_ready(ready):
    """bench_idle_clients' READY line: (ok, failed, seconds, first error) or None."""
    m = re.search(r'ok=(\d+) failed=(\d+) seconds=([\d.]+) first_error=(.*)', ready or '')
    return (int(m.group(1)), int(m.group(2)), float(m.group(3)), m.group(4)) if m else None


def mean_latency_ms(seconds, chosen):
    transactions = sum(seconds[s][0] for s in chosen)
    return sum(seconds[s][1] for s in chosen) / transactions / 1000 if transactions else None


def storm_record(a):
    """The busy clients' mean latency in the whole seconds after the warm-up and before the storm,
    and in the seconds the storm overlaps (from its first login to the last one done)."""
    with open(a.out, errors='replace') as f:
        rec = pgbench_summary(f.read())
    problems = [a.note] if a.note else []
    logins = parse_ready(a.ready)
    if logins:
        rec.update(storm_logins_ok=logins[0], storm_logins_failed=logins[1], storm_seconds=logins[2],
                   storm_logins_per_s=logins[0] / logins[2] if logins[2] > 0 else None)
        if logins[1]:
            problems.append(f'{logins[1]} storm logins failed: {logins[3]}')
    seconds = per_second_aggregates(a.agg_prefix)
    t0, t1 = (float(x) for x in a.storm_window.split())
    if seconds:
        first, last = min(seconds), max(seconds)
        quiet = [s for s in seconds if first + a.warmup <= s and s + 1 <= t0]
        storm = [s for s in seconds if int(t0) <= s <= int(t1)]
        rec['quiet_seconds'], rec['storm_window_seconds'] = len(quiet), len(storm)
        rec['quiet_latency_ms'] = mean_latency_ms(seconds, quiet)
        rec['storm_latency_ms'] = mean_latency_ms(seconds, storm)
        if rec['quiet_latency_ms'] and rec['storm_latency_ms']:
            rec['storm_latency_factor'] = rec['storm_latency_ms'] / rec['quiet_latency_ms']
        if t1 >= last:
            problems.append('the storm outlasted pgbench\'s run')
    if a.exit_status != 0:
        problems.append(f'pgbench exit status {a.exit_status}')
    if rec['failed_transactions']:
        problems.append(f"{int(rec['failed_transactions'])} failed transactions")
    if problems:
        rec['error'] = '; '.join(problems + rec['errors'][:2])
    return rec


def copy_record(a):
    rec = {'bytes': int(a.bytes) if a.bytes else None}
    t0, t1, t2 = (float(x) for x in (a.copy_times or '0 0 0').split())
    if rec['bytes'] and t1 > t0 and t2 > t1 and not a.note:
        rec['copy_out_mb_s'] = rec['bytes'] / 1e6 / (t1 - t0)
        rec['copy_in_mb_s'] = rec['bytes'] / 1e6 / (t2 - t1)
        ticks = a.copy_ticks.split()
        if len(ticks) == 3:  # the pooler's CPU seconds per GB moved
            c0, c1, c2 = (int(x) for x in ticks)
            rec['copy_out_cpu_s_per_gb'] = (c1 - c0) / a.clk_tck / (rec['bytes'] / 1e9)
            rec['copy_in_cpu_s_per_gb'] = (c2 - c1) / a.clk_tck / (rec['bytes'] / 1e9)
    if a.rss_before_kb and a.hwm_out_kb and a.hwm_in_kb:
        rec['rss_before_kb'] = int(a.rss_before_kb)
        rec['peak_rss_growth_mb'] = (max(int(a.hwm_out_kb), int(a.hwm_in_kb)) - int(a.rss_before_kb)) / 1024
    if a.note:
        rec['error'] = a.note
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
    for key, fmt in (('server_logins', '{} server logins'), ('tps', '{:.0f} tps'), ('latency_ms', 'lat {:.3f} ms'), ('cpu_us_per_tx', 'CPU {:.1f} us/tx'), ('user_cpu_us_per_tx', 'user {:.1f}'),
                     ('bytes_per_idle_client', '{:.0f} B/idle client'), ('idle_cpu_percent', 'idle CPU {:.2f}%'),
                     ('login_seconds', 'logins took {:.1f} s'), ('quiet_latency_ms', 'quiet lat {:.3f} ms'),
                     ('storm_latency_ms', 'storm lat {:.3f} ms'), ('storm_seconds', 'storm took {:.1f} s'),
                     ('copy_out_mb_s', 'COPY out {:.0f} MB/s'), ('copy_in_mb_s', 'COPY in {:.0f} MB/s'),
                     ('copy_out_cpu_s_per_gb', 'out {:.2f} CPU s/GB'), ('copy_in_cpu_s_per_gb', 'in {:.2f} CPU s/GB'),
                     ('peak_rss_growth_mb', 'peak RSS +{:.1f} MB')):
        if r.get(key) is not None:
            parts.append(fmt.format(r[key]))
    if r.get('error'):
        parts.append('ERROR: ' + r['error'])
    return head + ', '.join(parts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('kind', choices=['pgbench', 'idle', 'storm', 'copy', 'contention', 'skip', 'brief'])
    for name in ('scenario', 'label', 'target', 'args', 'out', 'agg_prefix', 'cpu', 'note', 'reason', 'ready',
                 'rss_before_kb', 'rss_after_kb', 'idle_window', 'storm_window', 'bytes', 'copy_times',
                 'hwm_out_kb', 'hwm_in_kb', 'copy_ticks', 'json', 'workers', 'server_logins'):
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
    elif a.kind == 'storm':
        rec = storm_record(a)
    elif a.kind == 'copy':
        rec = copy_record(a)
    else:
        rec = idle_record(a)
    rec = {'scenario': a.scenario, 'label': a.label, 'target': a.target,
           'round': int(os.environ.get('BENCH_ROUND', '1')), **rec}
    print(json.dumps(rec))


if __name__ == '__main__':
    main()
