// An application's view of pg_pat through pgbouncer in transaction pooling mode, with pgjdbc
// (TAP 011): the checks of client.py, made the way docs/application.md tells JDBC users.
//
//   java -cp /usr/share/java/postgresql.jar JdbcClient.java HOST PORT USER TOKEN OTHER_TOKEN
//
// Prints one "name=value" line per observation as soon as it is made, so a client that dies
// half-way still shows how far it got.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import org.postgresql.util.PSQLException;

public class JdbcClient {
  static String host, port, user;

  static void show(String name, Object value) {
    System.out.println(name + "=" + value);
    System.out.flush();
  }

  // The HTTP status and WWW-Authenticate header for a pg_pat error (docs/application.md): one
  // generic 401 for every invalid token; the reason (the DETAIL) is for the logs only.
  static String httpAnswer(SQLException e, List<String> required) {
    String state = e.getSQLState();
    if ("28000".equals(state)) return "401 Bearer error=\"invalid_token\"";
    if ("42501".equals(state))
      return "403 Bearer error=\"insufficient_scope\", scope=\""
          + String.join(" ", required)
          + "\"";
    if (List.of("22023", "22004", "22001", "22007").contains(state)) return "400";
    return "500 " + state;
  }

  static String detail(SQLException e) {
    if (e instanceof PSQLException && ((PSQLException) e).getServerErrorMessage() != null)
      return ((PSQLException) e).getServerErrorMessage().getDetail();
    return "none";
  }

  // A connection with docs/application.md's setting (prepareThreshold=0), or with pgjdbc's
  // defaults.
  static Connection connect(boolean docsSettings) throws SQLException {
    Properties props = new Properties();
    props.setProperty("user", user);
    if (docsSettings) props.setProperty("prepareThreshold", "0");
    String url = "jdbc:postgresql://" + host + ":" + port + "/postgres";
    return DriverManager.getConnection(url, props);
  }

  static String text(String s) {
    return s == null ? "NULL" : s;
  }

  // One request: BEGIN, pat_authenticate(token, required), COMMIT; the HTTP answer of its
  // error, or "no error".
  static SQLException lastError;

  static String request(Connection c, String token, List<String> required) throws SQLException {
    lastError = null;
    c.setAutoCommit(false);
    try (PreparedStatement ps = c.prepareStatement("SELECT pat_authenticate(?, ?)")) {
      ps.setString(1, token);
      ps.setArray(2, c.createArrayOf("text", required.toArray()));
      ps.executeQuery().close();
      c.commit();
      return "no error";
    } catch (SQLException e) {
      c.rollback();
      lastError = e;
      return httpAnswer(e, required);
    }
  }

  public static void main(String[] args) throws Exception {
    host = args[0];
    port = args[1];
    user = args[2];
    String token = args[3], otherToken = args[4];

    // Two clients, one server connection (default_pool_size = 1): a's context never reaches b.
    Connection a = connect(true);
    Connection b = connect(true);
    a.setAutoCommit(false);
    int aPid;
    try (PreparedStatement ps = a.prepareStatement("SELECT pat_authenticate(?, ?)")) {
      ps.setString(1, token);
      ps.setArray(2, a.createArrayOf("text", new String[] {"notes:read"}));
      ResultSet rs = ps.executeQuery();
      rs.next();
      show("a_user", rs.getString(1));
    }
    try (Statement st = a.createStatement()) {
      ResultSet rs = st.executeQuery("SELECT pat_current_scopes()");
      rs.next();
      show("a_scopes", String.join(",", (String[]) rs.getArray(1).getArray()));
      rs = st.executeQuery("SELECT pg_backend_pid()");
      rs.next();
      aPid = rs.getInt(1);
    }
    a.commit();
    try (Statement st = b.createStatement()) {
      ResultSet rs = st.executeQuery("SELECT pat_current_user(), pg_backend_pid()");
      rs.next();
      String bUser = rs.getString(1);
      int bPid = rs.getInt(2);
      show("same_server_connection", bPid == aPid ? "yes" : "no (" + bPid + " and " + aPid + ")");
      show("b_user", text(bUser));
    }

    // Autocommit (JDBC's default): pat_authenticate warns, and the next statement has no
    // context. pgjdbc hands a notice to the statement as an SQLWarning.
    a.setAutoCommit(true);
    try (PreparedStatement ps = a.prepareStatement("SELECT pat_authenticate(?)")) {
      ps.setString(1, token);
      ps.executeQuery().close();
      SQLWarning w = ps.getWarnings();
      String severity = "?";
      if (w instanceof org.postgresql.util.PSQLWarning
          && ((org.postgresql.util.PSQLWarning) w).getServerErrorMessage() != null)
        severity = ((org.postgresql.util.PSQLWarning) w).getServerErrorMessage().getSeverity();
      show("autocommit_warning", w == null ? "none" : severity + " " + w.getSQLState());
    }
    try (Statement st = a.createStatement()) {
      ResultSet rs = st.executeQuery("SELECT pat_current_user()");
      rs.next();
      show("autocommit_next_user", text(rs.getString(1)));
    }

    // A missing scope is 403; a token revoked by another client is 401 on the very next request.
    show("missing_scope", request(a, token, List.of("notes:write")));
    try (PreparedStatement ps =
        b.prepareStatement("SELECT pat_revoke(t.token_id) FROM pat_validate(?) t")) {
      ps.setString(1, otherToken);
      ps.executeQuery().close();
    }
    show("revoked", request(a, otherToken, List.of()));
    show("revoked_detail", lastError == null ? "none" : detail(lastError));
    show("malformed", request(a, "pat_garbage", List.of()));
    a.close();
    b.close();

    // With pgjdbc's defaults (prepareThreshold 5) a PreparedStatement run 5 times becomes a
    // named server statement (S_1, ...) of its connection: the second client's S_1 lands on the
    // same server connection.
    String clash = "none";
    Connection c = connect(false);
    Connection d = connect(false);
    try {
      for (Connection conn : List.of(c, d)) {
        try (PreparedStatement ps = conn.prepareStatement("SELECT pat_current_user()")) {
          for (int i = 0; i < 6; i++) ps.executeQuery().close();
        }
      }
    } catch (SQLException e) {
      clash = e.getSQLState();
    }
    show("prepared_clash", clash);
    c.close();
    d.close();

    // With prepareThreshold=0 pgjdbc only uses the unnamed statement: nothing clashes.
    String unprepared = "none";
    Connection e1 = connect(true);
    Connection e2 = connect(true);
    try (PreparedStatement p1 = e1.prepareStatement("SELECT pat_current_user(), ?::int");
        PreparedStatement p2 = e2.prepareStatement("SELECT pat_current_user(), ?::int")) {
      for (int i = 0; i < 10; i++) {
        for (PreparedStatement ps : List.of(p1, p2)) {
          ps.setInt(1, i);
          ps.executeQuery().close();
        }
      }
    } catch (SQLException e) {
      unprepared = e.getSQLState();
    }
    show("unprepared_clash", unprepared);
    e1.close();
    e2.close();
  }
}
