#!/usr/bin/env python3
"""Formats the benchmark's records: prints the aligned table, writes results.md,
results.json and ratios.dat (the data of the chart bench/ratios.gp draws) into --out.

  report.py --records records.jsonl --meta meta.json --out bench/results
"""
import argparse
import json
import os

TARGETS = [('direct', 'PostgreSQL'), ('pgbouncer', 'PgBouncer'), ('sluice', 'Sluice')]
# Scenarios of Sluice alone, each with a table of its own below the comparison.
OWN_TABLES = ('contention', 'workers')

# (record key, figure name, format, which way is better for Sluice: 'up' or 'down')
PGBENCH_FIGURES = [
    ('tps', 'tps', '{:,.0f}', 'up'),
    ('latency_ms', 'avg latency ms', '{:.3f}', 'down'),
    ('cpu_us_per_tx', 'pooler CPU us/tx', '{:.1f}', 'down'),
    ('user_cpu_us_per_tx', 'of it user mode us/tx', '{:.1f}', 'down'),
]
LOGIN_FIGURES = [
    ('tps', 'logins/s', '{:,.0f}', 'up'),
    ('latency_ms', 'avg latency ms', '{:.3f}', 'down'),
    ('cpu_us_per_tx', 'pooler CPU us/login', '{:.1f}', 'down'),
    ('user_cpu_us_per_tx', 'of it user mode us/login', '{:.1f}', 'down'),
]
IDLE_FIGURES = [
    ('bytes_per_idle_client', 'RSS bytes/idle client', '{:,.0f}', 'down'),
    ('idle_cpu_percent', 'pooler CPU % while idle', '{:.2f}', 'down'),
]

STORM_FIGURES = [
    ('quiet_latency_ms', 'avg latency ms, quiet', '{:.3f}', 'down'),
    ('storm_latency_ms', 'avg latency ms, in the storm', '{:.3f}', 'down'),
    ('storm_latency_factor', 'latency in the storm / quiet', '{:.2f}', 'down'),
    ('storm_seconds', 'seconds for the logins', '{:.1f}', 'down'),
]
COPY_FIGURES = [
    ('copy_out_mb_s', 'COPY out MB/s', '{:,.0f}', 'up'),
    ('copy_in_mb_s', 'COPY in MB/s', '{:,.0f}', 'up'),
    ('copy_out_cpu_s_per_gb', 'pooler CPU s/GB out', '{:.2f}', 'down'),
    ('copy_in_cpu_s_per_gb', 'pooler CPU s/GB in', '{:.2f}', 'down'),
    ('peak_rss_growth_mb', 'pooler peak RSS growth MB', '{:.1f}', 'down'),
]


def figures_for(scenario):
    return {'logins': LOGIN_FIGURES, 'idle': IDLE_FIGURES, 'storm': STORM_FIGURES,
            'copy': COPY_FIGURES}.get(scenario, PGBENCH_FIGURES)


def ratio(key, sluice, pgbouncer):
    if sluice is None or pgbouncer is None or pgbouncer <= 0:
        return None
    # Idle CPU is ~0 for a good pooler: a ratio of two rounding errors means nothing.
    if key == 'idle_cpu_percent' and pgbouncer < 0.1:
        return None
    return sluice / pgbouncer


def median(values):
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def build_rows(records):
    """One row per scenario and figure. With --rounds, a (scenario, target) has a record per
    round: the cell is the median, the ratio the median of the rounds' own ratios (the two
    poolers of one round ran back to back, so a noisy stretch of the machine hits both)."""
    by_key = {}
    for r in records:
        by_key.setdefault((r['scenario'], r['target']), []).append(r)
    scenarios = []
    for r in records:
        if r['scenario'] not in [s for s, _ in scenarios]:
            scenarios.append((r['scenario'], r['label']))
    rows, notes = [], []
    for scenario, label in scenarios:
        for target, name in TARGETS:
            for r in by_key.get((scenario, target), []):
                when = f' (round {r["round"]})' if len(by_key[(scenario, target)]) > 1 else ''
                if r.get('error'):
                    notes.append(f'{label} / {name}{when}: ERROR: {r["error"]}')
                elif 'skipped' in r:
                    notes.append(f'{label} / {name}: n/a: {r["skipped"]}')
        for i, (key, figure, fmt, better) in enumerate(figures_for(scenario)):
            values, cells, per_round = {}, {}, {}
            for target, _ in TARGETS:
                runs = by_key.get((scenario, target), [])
                measured = [r for r in runs if r.get(key) is not None and 'skipped' not in r]
                per_round[target] = {r.get('round', 1): r[key] for r in measured}
                if not runs:
                    cells[target] = '-'
                elif any('skipped' in r for r in runs) or (target == 'direct' and key.startswith(('cpu_us', 'user_cpu_us', 'peak_rss', 'copy_out_cpu', 'copy_in_cpu'))):
                    cells[target] = 'n/a'
                elif not measured:
                    cells[target] = 'error' if any(r.get('error') for r in runs) else '?'
                else:
                    values[target] = median([r[key] for r in measured])
                    cells[target] = fmt.format(values[target]) + ('*' if any(r.get('error') for r in runs) else '')
            paired = sorted(set(per_round['sluice']) & set(per_round['pgbouncer']))
            round_ratios = [q for q in (ratio(key, per_round['sluice'][n], per_round['pgbouncer'][n]) for n in paired)
                            if q is not None]
            q = median(round_ratios)
            if len(round_ratios) > 1 and key == 'cpu_us_per_tx':
                notes.append(f'{label} / {figure}: Sluice/PgBouncer per round: '
                             + ', '.join(f'{x:.2f}x' for x in round_ratios))
            rows.append({'scenario': scenario, 'label': label if i == 0 else '', 'full_label': label,
                         'key': key, 'figure': figure, 'better': better, 'values': values, 'cells': cells,
                         'ratio': q, 'round_ratios': round_ratios,
                         'ratio_cell': f'{q:.2f}x' if q is not None else 'n/a'})
    return rows, notes


def aligned(table):
    """Rows of cells as text: the first column left-aligned, the others right-aligned."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    out = []
    for n, line in enumerate(table):
        out.append('  '.join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if n == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def markdown(table):
    lines = ['| ' + ' | '.join(table[0]) + ' |', '| --- | ' + ' | '.join(['---:'] * (len(table[0]) - 1)) + ' |']
    lines += ['| ' + ' | '.join(line) + ' |' for line in table[1:]]
    return '\n'.join(lines)


def contention_table(records):
    """bench_pool_contention's rows (the last run's), or None."""
    runs = [r for r in records if r['scenario'] == 'contention' and r.get('rows')]
    if not runs:
        return None
    table = [['mode', 'threads', 'pool_size', 'total M/s', 'M/s per thread', 'slowest thread M/s',
              'M per CPU-s per thread', 'ns CPU/pair', 'slot gifts/s', 'longest wait ms']]
    for x in runs[-1]['rows']:
        table.append([x['mode'], str(x['threads']), str(x['pool_size']), f"{x['total_per_second'] / 1e6:.2f}",
                      f"{x['per_thread_per_second'] / 1e6:.2f}", f"{x['min_thread_per_second'] / 1e6:.2f}",
                      f"{x['per_thread_cpu_second'] / 1e6:.2f}",
                      f"{x['cpu_seconds'] / x['pairs'] * 1e9:,.0f}" if x['pairs'] else '?',
                      f"{x['gifts_per_second']:,.0f}", f"{x['longest_wait_ms']:.1f}"])
    return table


def workers_table(records):
    """The workers sweep: Sluice's tps and CPU per transaction per `workers` (medians over rounds),
    and CPU/tx against workers=1 (the median of each round's own ratio), or None."""
    runs = [r for r in records if r['scenario'] == 'workers' and r.get('workers')]
    if not runs:
        return None
    for r in runs:  # PostgreSQL's count covers the whole run, warm-up included
        if r.get('server_logins') is not None and r.get('transactions'):
            r['logins_per_1000_tx'] = r['server_logins'] / r['transactions'] * 1000
    by_workers = {}
    for r in runs:
        by_workers.setdefault(r['workers'], []).append(r)
    base = {r['round']: r.get('cpu_us_per_tx') for r in by_workers.get(1, [])}
    table = [['workers', 'tps', 'avg latency ms', 'pooler CPU us/tx', 'CPU/tx vs workers=1',
              'server logins per 1000 tx', 'rounds']]
    for w in sorted(by_workers):
        mine = by_workers[w]
        cell = lambda key, fmt: (fmt.format(median([r[key] for r in mine if r.get(key) is not None]))
                                 if any(r.get(key) is not None for r in mine) else 'n/a')
        ratios = [r['cpu_us_per_tx'] / base[r['round']] for r in mine
                  if r.get('cpu_us_per_tx') and base.get(r['round'])]
        star = '*' if any(r.get('error') for r in mine) else ''
        table.append([str(w), cell('tps', '{:,.0f}') + star, cell('latency_ms', '{:.3f}'),
                      cell('cpu_us_per_tx', '{:.1f}') + star,
                      f'{median(ratios):.2f}x' + (f" ({', '.join(f'{q:.2f}' for q in ratios)})" if len(ratios) > 1 else '')
                      if ratios else 'n/a', cell('logins_per_1000_tx', '{:.1f}'), str(len(mine))])
    return table


CONTENTION_TITLE = ('Shared-pool micro-benchmark (bench_pool_contention: N threads, one shared pool, no network; '
                    'acquire+release pairs; own = each shard keeps an idle server, shared = pool_size N/2, so '
                    'slots move between threads: slot gifts/s; see bench/README.md)')
WORKERS_TITLE = 'Workers sweep: select-only, 50 clients (sel50), through Sluice with workers = 1, 2'


def own_tables(records):
    """(title, table) for each table of Sluice alone that the run has."""
    out = []
    for title, table in ((CONTENTION_TITLE, contention_table(records)), (WORKERS_TITLE, workers_table(records))):
        if table:
            out.append((title, table))
    return out


def header():
    return ['scenario', 'figure'] + [name for _, name in TARGETS] + ['Sluice/PgBouncer']


def row_cells(row):
    return [row['label'], row['figure']] + [row['cells'][t] for t, _ in TARGETS] + [row['ratio_cell']]


def text_table(rows):
    table = [header()] + [row_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    out = []
    for n, line in enumerate(table):
        cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append('  '.join(cells).rstrip())
        if n == 0:
            out.append('  '.join('-' * w for w in widths))
    return '\n'.join(out)


def markdown_table(rows):
    lines = ['| ' + ' | '.join(header()) + ' |', '| --- | --- | ' + ' | '.join(['---:'] * 4) + ' |']
    for r in rows:
        lines.append('| ' + ' | '.join(c.replace('|', '\\|') for c in row_cells(r)) + ' |')
    return '\n'.join(lines)


def describe(meta):
    return [
        f"{meta['date']}, {meta['mode']} mode: pgbench -T {meta['seconds']} (CPU window skips the first "
        f"{meta['warmup_seconds']} s), scale {meta['scale']}, {meta['idle_clients']} idle clients held "
        f"{meta['idle_seconds']} s (to {meta.get('idle_addresses', '127.0.0.1')}), "
        f"storm of {meta.get('storm_logins', '?')} logins, COPY of {meta.get('copy_mb', '?')} MB"
        + (f"; {meta['rounds']} rounds per scenario, medians shown." if meta.get('rounds', 1) > 1 else "."),
        f"PostgreSQL {meta['postgresql']}, PgBouncer {meta['pgbouncer']}, Sluice {meta['sluice']} "
        f"(workers: {meta['sluice_workers']}).",
        f"Poolers: {meta['pool_mode']} mode, default_pool_size={meta['pool_size']}, {meta['auth']}, "
        f"max_client_conn={meta['max_client_conn']}, open files limit {meta['open_files_limit']}; "
        f"server login: {meta['server_login']}.",
        f"PostgreSQL durability relaxed: {meta['durability']}.",
    ] + ([f"Idle clients: {meta['idle_capped']}."] if meta.get('idle_capped') else []) + [
        f"Machine: {meta['cpu']}, {meta['cores']} cores, Linux {meta['kernel']}, "
        f"load average {' '.join(meta['load_at_start'])} at start, {' '.join(meta.get('load_at_end', ['?']))} at end; "
        "pgbench, PostgreSQL and the pooler share the machine.",
    ]


LEGEND = ('Sluice/PgBouncer is Sluice\'s figure divided by PgBouncer\'s: above 1 is better for tps and '
          'logins/s, below 1 is better for latency, CPU and memory. n/a: not measured (see notes); '
          '* after a figure: the run reported errors. With several rounds, figures are medians and the ratio '
          'is the median of the rounds\' own ratios.')


def chart_data(rows):
    """One line per scenario: label, throughput ratio, cost ratio ('?' when missing)."""
    lines = ['# scenario throughput_ratio(tps,logins/s) cost_ratio(CPU/tx; bytes/idle client)']
    scenarios = []
    for r in rows:
        if r['scenario'] not in scenarios:
            scenarios.append(r['scenario'])
    for s in scenarios:
        mine = {r['key']: r for r in rows if r['scenario'] == s}
        label = next(r['full_label'] for r in rows if r['scenario'] == s)
        throughput = (mine.get('tps') or mine.get('copy_out_mb_s') or {}).get('ratio')
        cost = (mine.get('cpu_us_per_tx') or mine.get('bytes_per_idle_client') or mine.get('storm_latency_factor')
                or {}).get('ratio')
        fmt = lambda v: f'{v:.4f}' if v is not None else '?'
        lines.append(f'"{label}" {fmt(throughput)} {fmt(cost)}')
    return '\n'.join(lines) + '\n'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--records', required=True)
    p.add_argument('--meta', required=True)
    p.add_argument('--out', required=True)
    a = p.parse_args()
    with open(a.records) as f:
        records = [json.loads(line) for line in f if line.strip()]
    with open(a.meta) as f:
        meta = json.load(f)
    rows, notes = build_rows([r for r in records if r['scenario'] not in OWN_TABLES])
    notes += [f"{r['label']}: ERROR: {r['error']}" for r in records if r['scenario'] in OWN_TABLES and r.get('error')]
    extra = own_tables(records)
    os.makedirs(a.out, exist_ok=True)

    print('\n'.join(describe(meta)))
    print()
    if rows:
        print(text_table(rows))
        print()
        print(LEGEND)
    for title, table in extra:
        print()
        print(title + ':')
        print(aligned(table))
    for note in notes:
        print('  - ' + note)

    with open(os.path.join(a.out, 'results.md'), 'w') as f:
        f.write('# Sluice vs PgBouncer vs PostgreSQL\n\n')
        f.write('\n'.join(f'- {line}' for line in describe(meta)) + '\n\n')
        if rows:
            f.write(markdown_table(rows) + '\n\n' + LEGEND + '\n')
        for title, table in extra:
            f.write(f'\n{title}:\n\n{markdown(table)}\n')
        if notes:
            f.write('\n' + '\n'.join(f'- {n}' for n in notes) + '\n')
        f.write('\n![Sluice / PgBouncer](ratios.png)\n')
    with open(os.path.join(a.out, 'results.json'), 'w') as f:
        table = [{k: r[k] for k in ('scenario', 'full_label', 'key', 'figure', 'better', 'values', 'ratio',
                                    'round_ratios')}
                 for r in rows]
        json.dump({'meta': meta, 'table': table, 'records': records, 'notes': notes,
                   'sluice_tables': [{'title': t, 'rows': tb} for t, tb in extra]}, f, indent=1)
        f.write('\n')
    with open(os.path.join(a.out, 'ratios.dat'), 'w') as f:
        f.write(chart_data(rows))
    for name in ('results.md', 'results.json'):
        print(f'{name + ":":<13} {os.path.join(a.out, name)}')


if __name__ == '__main__':
    main()
