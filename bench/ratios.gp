# Bar chart of Sluice / PgBouncer per scenario, from report.py's ratios.dat:
#   gnuplot -e "datafile='ratios.dat'; outfile='ratios.png'" bench/ratios.gp
# Throughput (tps, logins/s): above 1.0 Sluice is faster. Cost (pooler CPU per transaction,
# bytes per idle client): below 1.0 Sluice is cheaper.
set terminal pngcairo size 1100,600 font "sans,10"
set output outfile
set title "Sluice / PgBouncer (1.0 = same as PgBouncer)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set datafile missing "?"
set key top left
set ylabel "ratio"
set yrange [0:*]
set grid ytics
set xtics rotate by -25 scale 0 noenhanced
set offsets 0, 0, graph 0.1, 0
set style textbox opaque noborder
n = system("grep -vc '^#' " . datafile) + 0
set xrange [-0.6:n - 0.4]
plot datafile using 2:xtic(1) title "throughput: tps or logins/s (higher is better)" lc rgb "#3b7dd8", \
     '' using 3 title "cost: pooler CPU per tx, or RSS per idle client (lower is better)" lc rgb "#e0913a", \
     1 with lines dt 2 lw 2 lc rgb "black" title "1.0 = PgBouncer", \
     '' using ($0 - 1.0/6):2:(sprintf("%.2f", $2)) with labels boxed offset 0,0.8 notitle, \
     '' using ($0 + 1.0/6):3:(sprintf("%.2f", $3)) with labels boxed offset 0,0.8 notitle
