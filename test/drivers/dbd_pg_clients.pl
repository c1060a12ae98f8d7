#!/usr/bin/perl
# DBD::Pg through a pooler in transaction mode (test/integration/drivers_test.cpp; the scenario is
# in test/drivers/README.md). $dbh->prepare with server-side prepare from the first execute
# (pg_switch_prepared = 1): DBD::Pg names statements dbdpg_p<pid>_<n>, n counted per handle, so
# the two handles of each process give the same names to different texts. Each round also
# prepares two statements afresh (DBD::Pg DEALLOCATEs them in SQL when they go out of scope) and
# uses PREPARE / EXECUTE / DEALLOCATE in SQL. Clients are processes of two handles each (a handle
# finishes its transaction before the other starts, so they never wait for each other's server).
#
# Usage: perl dbd_pg_clients.pl LABEL=HOST:PORT ...   (DRIVER_USER, DRIVER_PASSWORD, DRIVER_DB,
# DRIVER_CLIENTS (even), DRIVER_ROUNDS in the environment). Exit 0 only when every value was right.
use strict;
use warnings;
use DBI;

my $DRIVER   = 'DBD::Pg';
my $USER     = $ENV{DRIVER_USER}     // 'app';
my $PASSWORD = $ENV{DRIVER_PASSWORD} // 'apppass';
my $DB       = $ENV{DRIVER_DB}       // 'app';
my $CLIENTS  = $ENV{DRIVER_CLIENTS}  // 8;
my $ROUNDS   = $ENV{DRIVER_ROUNDS}   // 50;
my $TABLE    = 'drivers_dbd_pg';

my @STMT_A   = ('select $1::int + 1', q{select $1::text || 'x'});
my $STMT_B   = 'select $1::int * 2, $2::text';
my $STMT_INS = "insert into $TABLE (client, k) values (\$1, \$2)";
my $STMT_CNT = "select count(*)::int from $TABLE where client = \$1";
# In SQL: PREPARE stmt_s, a different text by parity too.
my @STMT_S   = ('select $1::int + 1', q{select $1::text || 'x'});

sub expect_a { my ($i, $v) = @_; return $i % 2 == 0 ? $v + 1 : "${v}x" }

sub check {
    my ($what, $got, $want) = @_;
    $got  = join(',', map { $_ // 'NULL' } @$got)  if ref $got;
    $want = join(',', map { $_ // 'NULL' } @$want) if ref $want;
    die "$what: got '" . ($got // 'NULL') . "', want '$want'\n" unless defined $got && $got eq $want;
}

sub connect_to {
    my ($host, $port) = @_;
    return DBI->connect("dbi:Pg:host=$host;port=$port;dbname=$DB;sslmode=disable", $USER, $PASSWORD,
                        {RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_switch_prepared => 1});
}

# One client's state: its handle, its statements, its figures.
sub new_client {
    my ($i, $host, $port) = @_;
    my $dbh = connect_to($host, $port);
    my $c = {i => $i, dbh => $dbh, committed => 0, executions => 0, backends => {}};
    $c->{a}   = $dbh->prepare($STMT_A[$i % 2]);
    $c->{b}   = $dbh->prepare($STMT_B);
    $c->{ins} = $dbh->prepare($STMT_INS);
    $c->{cnt} = $dbh->prepare($STMT_CNT);
    $dbh->do("PREPARE stmt_s (int) AS $STMT_S[$i % 2]");
    return $c;
}

sub row { my ($sth, @values) = @_; $sth->execute(@values); my @row = $sth->fetchrow_array; $sth->finish; return \@row }

sub one_round {
    my ($c, $k) = @_;
    my ($i, $dbh) = ($c->{i}, $c->{dbh});
    my $v = $i * 1000 + $k;
    check('stmt_a', row($c->{a}, $v)->[0], expect_a($i, $v));
    check('stmt_b', row($c->{b}, $v, "c$i"), [2 * $v, "c$i"]);
    $c->{executions} += 2;
    # Other work between them: unprepared, and tells which server this was.
    $c->{backends}{($dbh->selectrow_array('select pg_backend_pid()', {pg_server_prepare => 0}))[0]} = 1;
    # Prepared afresh (a new name each time) and deallocated at the end of the block.
    {
        my $a = $dbh->prepare($STMT_A[$i % 2]);
        my $b = $dbh->prepare($STMT_B);
        check('fresh stmt_a', row($a, $v + 1)->[0], expect_a($i, $v + 1));
        check('fresh stmt_b', row($b, $v + 1, 'f'), [2 * ($v + 1), 'f']);
        $c->{executions} += 2;
    }
    # In SQL; every tenth round deallocated and prepared again.
    check('EXECUTE stmt_s', ($dbh->selectrow_array("EXECUTE stmt_s($v)", {pg_server_prepare => 0}))[0],
          expect_a($i, $v));
    if ($k % 10 == 9) {
        $dbh->do('DEALLOCATE stmt_s');
        $dbh->do("PREPARE stmt_s (int) AS $STMT_S[$i % 2]");
    }
    # A transaction: committed four times out of five, else rolled back.
    my $rollback = $k % 5 == 4;
    $dbh->begin_work;
    $c->{ins}->execute($i, $k);
    check('count in transaction', row($c->{cnt}, $i)->[0], $c->{committed} + 1);
    check('stmt_a in transaction', row($c->{a}, $v)->[0], expect_a($i, $v));
    $c->{executions} += 3;
    if ($rollback) { $dbh->rollback } else { $dbh->commit; $c->{committed}++ }
}

# A process of clients $first and $first + 1: prints "RESULT executions pid,pid,... error".
sub run_process {
    my ($first, $host, $port) = @_;
    my @clients;
    my $error = '';
    eval {
        @clients = map { new_client($_, $host, $port) } ($first, $first + 1);
        for my $k (0 .. $ROUNDS - 1) { one_round($_, $k) for @clients }
        for my $c (@clients) {
            check('final count', row($c->{cnt}, $c->{i})->[0], $c->{committed});
            $c->{executions}++;
        }
        1;
    } or do { ($error = "clients $first-" . ($first + 1) . ": $@") =~ s/\s+$//; $error =~ s/\n/ /g };
    my $executions = 0;
    my %backends;
    for my $c (@clients) { $executions += $c->{executions}; %backends = (%backends, %{$c->{backends}}) }
    print "RESULT $executions " . join(',', keys %backends) . " $error\n";
}

sub run_target {
    my ($label, $host, $port) = @_;
    my $setup = connect_to($host, $port);
    $setup->do("set client_min_messages = warning; drop table if exists $TABLE; create table $TABLE (client int, k int)");
    $setup->disconnect;
    my @pipes;
    for (my $first = 0; $first < $CLIENTS; $first += 2) {
        my $pid = open(my $pipe, '-|') // die "fork: $!";
        if ($pid == 0) { run_process($first, $host, $port); exit 0 }
        push @pipes, $pipe;
    }
    my ($executions, %backends, @errors) = (0);
    for my $pipe (@pipes) {
        my $line = <$pipe> // "RESULT 0  a client process died\n";
        close $pipe;
        chomp $line;
        my (undef, $count, $pids, $error) = split / /, $line, 4;
        $executions += $count;
        $backends{$_} = 1 for grep { length } split /,/, $pids // '';
        push @errors, $error if defined $error && length $error;
    }
    print "ERROR $_\n" for @errors;
    printf "%s %s: clients=%d rounds=%d executions=%d backends=%d errors=%d\n", $DRIVER, $label, $CLIENTS, $ROUNDS,
        $executions, scalar(keys %backends), scalar(@errors);
    return !@errors;
}

$| = 1;
my $ok = 1;
for my $target (@ARGV) {
    my ($label, $address) = split /=/, $target, 2;
    my ($host, $port) = $address =~ /^(.*):(\d+)$/ or die "bad target $target\n";
    $ok = run_target($label, $host, $port) && $ok;
}
exit($ok ? 0 : 1);
