// pgjdbc through a pooler in transaction mode (test/integration/drivers_test.cpp; the scenario is
// in test/drivers/README.md). prepareThreshold=1: every PreparedStatement is a named server-side
// statement from its first execution, under pgjdbc's names S_1, S_2, … per connection, so the
// clients' statements share names with different texts. pgjdbc prepares again, silently, after
// some errors ("prepared statement does not exist", a stale plan): the test therefore also
// checks PostgreSQL's log for errors and the pooler's count of Parses.
//
// Usage (one JVM for every target):
//   java -cp /usr/share/java/postgresql.jar PgjdbcClients.java LABEL=HOST:PORT ...
// with DRIVER_USER, DRIVER_PASSWORD, DRIVER_DB, DRIVER_CLIENTS, DRIVER_ROUNDS in the environment.
// Exit 0 only when every value was right.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

public class PgjdbcClients {
    static final String DRIVER = "pgjdbc";
    static final String USER = env("DRIVER_USER", "app");
    static final String PASSWORD = env("DRIVER_PASSWORD", "apppass");
    static final String DB = env("DRIVER_DB", "app");
    static final int CLIENTS = Integer.parseInt(env("DRIVER_CLIENTS", "8"));
    static final int ROUNDS = Integer.parseInt(env("DRIVER_ROUNDS", "50"));
    static final String TABLE = "drivers_pgjdbc";

    static final String[] STMT_A = {"select ?::int + 1", "select ?::text || 'x'"};
    static final String STMT_B = "select ?::int * 2, ?::text";
    static final String STMT_INS = "insert into " + TABLE + " (client, k) values (?, ?)";
    static final String STMT_CNT = "select count(*)::int from " + TABLE + " where client = ?";

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }

    static Object expectA(int i, int v) {
        return i % 2 == 0 ? (Object) (v + 1) : v + "x";
    }

    static void check(String what, Object got, Object want) {
        if (!Objects.equals(got, want)) throw new IllegalStateException(what + ": got " + got + ", want " + want);
    }

    // The first row of a prepared query, its columns as objects.
    static List<Object> row(PreparedStatement statement, Object... values) throws SQLException {
        for (int p = 0; p < values.length; p++) statement.setObject(p + 1, values[p]);
        try (ResultSet result = statement.executeQuery()) {
            if (!result.next()) throw new IllegalStateException("no row");
            List<Object> row = new ArrayList<>();
            for (int c = 1; c <= result.getMetaData().getColumnCount(); c++) row.add(result.getObject(c));
            return row;
        }
    }

    static Connection connect(String host, String port) throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", USER);
        props.setProperty("password", PASSWORD);
        props.setProperty("prepareThreshold", "1");
        props.setProperty("sslmode", "disable");
        return DriverManager.getConnection("jdbc:postgresql://" + host + ":" + port + "/" + DB, props);
    }

    static void client(int i, String host, String port, AtomicLong executions, Set<Integer> backends)
            throws SQLException {
        try (Connection conn = connect(host, port);
             PreparedStatement a = conn.prepareStatement(STMT_A[i % 2]);
             PreparedStatement b = conn.prepareStatement(STMT_B);
             PreparedStatement ins = conn.prepareStatement(STMT_INS);
             PreparedStatement cnt = conn.prepareStatement(STMT_CNT);
             Statement plain = conn.createStatement()) {
            int committed = 0;
            for (int k = 0; k < ROUNDS; k++) {
                int v = i * 1000 + k;
                check("stmt_a", row(a, v).get(0), expectA(i, v));
                check("stmt_b", row(b, v, "c" + i), List.of(2 * v, "c" + i));
                executions.addAndGet(2);
                // Other work between them: unprepared, and tells which server this was.
                try (ResultSet pid = plain.executeQuery("select pg_backend_pid()")) {
                    pid.next();
                    backends.add(pid.getInt(1));
                }
                // New PreparedStatements of the same texts: pgjdbc's cache gives them the same S_n.
                try (PreparedStatement a2 = conn.prepareStatement(STMT_A[i % 2]);
                     PreparedStatement b2 = conn.prepareStatement(STMT_B)) {
                    check("again stmt_a", row(a2, v + 1).get(0), expectA(i, v + 1));
                    check("again stmt_b", row(b2, v + 1, "n"), List.of(2 * (v + 1), "n"));
                }
                executions.addAndGet(2);
                // A transaction (pgjdbc sends BEGIN with its first statement): committed four
                // times out of five, else rolled back.
                boolean rollback = k % 5 == 4;
                conn.setAutoCommit(false);
                ins.setInt(1, i);
                ins.setInt(2, k);
                check("insert", ins.executeUpdate(), 1);
                check("count in transaction", row(cnt, i).get(0), committed + 1);
                check("stmt_a in transaction", row(a, v).get(0), expectA(i, v));
                executions.addAndGet(3);
                if (rollback) conn.rollback(); else conn.commit();
                conn.setAutoCommit(true);
                if (!rollback) committed++;
            }
            check("final count", row(cnt, i).get(0), committed);
            executions.incrementAndGet();
        }
    }

    static boolean runTarget(String label, String host, String port) throws Exception {
        try (Connection setup = connect(host, port); Statement statement = setup.createStatement()) {
            statement.execute("set client_min_messages = warning");
            statement.execute("drop table if exists " + TABLE);
            statement.execute("create table " + TABLE + " (client int, k int)");
        }
        AtomicLong executions = new AtomicLong();
        Set<Integer> backends = ConcurrentHashMap.newKeySet();
        List<String> errors = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            final int i = c;
            Thread thread = new Thread(() -> {
                try {
                    client(i, host, port, executions, backends);
                } catch (Exception e) {
                    String state = e instanceof SQLException ? ((SQLException) e).getSQLState() + " " : "";
                    synchronized (errors) {
                        errors.add("client " + i + ": " + state + e.getMessage());
                    }
                }
            });
            thread.start();
            threads.add(thread);
        }
        for (Thread thread : threads) thread.join();
        for (String error : errors) System.out.println("ERROR " + error.replace('\n', ' '));
        System.out.printf("%s %s: clients=%d rounds=%d executions=%d backends=%d errors=%d%n", DRIVER, label, CLIENTS,
                          ROUNDS, executions.get(), backends.size(), errors.size());
        System.out.flush();
        return errors.isEmpty();
    }

    public static void main(String[] args) throws Exception {
        boolean ok = true;
        for (String target : args) {
            String[] parts = target.split("=", 2);
            int colon = parts[1].lastIndexOf(':');
            ok = runTarget(parts[0], parts[1].substring(0, colon), parts[1].substring(colon + 1)) && ok;
        }
        System.exit(ok ? 0 : 1);
    }
}
