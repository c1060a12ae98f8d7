#!/usr/bin/env python3
"""Writes the seed corpora of test/fuzz/corpus/<target>/: small, real messages and files.

Run from anywhere; it rewrites only the seed-*.bin / seed-*.txt files it makes (regression
inputs, named crash-*, are kept). The SCRAM seeds are real exchanges with the fixed nonces,
salt and keys of test/fuzz/scram.cpp, so the fuzzer starts from a login that succeeds.
"""
import base64
import hashlib
import hmac
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def msg(kind, body=b""):
    return kind.encode() + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


# ---- startup packets
def startup(params, version=196608):
    body = struct.pack("!I", version) + b"".join(cstr(k) + cstr(v) for k, v in params) + b"\0"
    return struct.pack("!I", len(body) + 4) + body


write("proto_startup", "seed-startup.bin", startup([("user", "alice"), ("database", "app")]))
write("proto_startup", "seed-startup-options.bin",
      startup([("user", "bob"), ("application_name", "psql"), ("options", "-c search_path=x"), ("_pq_.foo", "1")]))
write("proto_startup", "seed-ssl.bin", struct.pack("!II", 8, 80877103))
write("proto_startup", "seed-gss.bin", struct.pack("!II", 8, 80877104))
write("proto_startup", "seed-cancel.bin", struct.pack("!IIii", 16, 80877102, 4242, -17))
write("proto_startup", "seed-v32.bin", startup([("user", "u")], version=196610))
write("proto_startup", "seed-bad-length.bin", struct.pack("!II", 3, 196608))

# ---- client messages after the startup
def parse(name, query, types=()):
    return msg("P", cstr(name) + cstr(query) + struct.pack("!H", len(types)) + b"".join(struct.pack("!I", t) for t in types))


def bind(portal, stmt):
    return msg("B", cstr(portal) + cstr(stmt) + struct.pack("!HHH", 0, 0, 0))


sync = msg("S")
write("proto_client", "seed-query.bin", msg("Q", cstr("SELECT 1")))
write("proto_client", "seed-prepare-sql.bin",
      msg("Q", cstr("PREPARE q1 (int) AS SELECT $1")) + msg("Q", cstr('EXECUTE "Q1"(1);'))
      + msg("Q", cstr("DEALLOCATE ALL")) + msg("Q", cstr("ROLLBACK WORK;")))
write("proto_client", "seed-extended.bin",
      parse("s1", "SELECT $1::int", [23]) + bind("", "s1") + msg("D", b"P\0") + msg("E", b"\0" + struct.pack("!I", 0))
      + msg("C", b"Ss1\0") + sync)
write("proto_client", "seed-password.bin", msg("p", cstr("md5" + "0" * 32)))
write("proto_client", "seed-sasl.bin", msg("p", cstr("SCRAM-SHA-256") + struct.pack("!i", 23) + b"n,,n=,r=rOprNGfwEbeRWgbN"))

# ---- server messages (first byte: which credentials the authenticator holds)
def auth(code, payload=b""):
    return msg("R", struct.pack("!i", code) + payload)


def error(fields):
    return msg("E", b"".join(k.encode() + cstr(v) for k, v in fields) + b"\0")


login_tail = (msg("S", cstr("server_version") + cstr("16.4")) + msg("K", struct.pack("!ii", 1234, 5678))
              + msg("Z", b"I"))
write("proto_server", "seed-md5.bin", b"\x00" + auth(5, b"salt") + auth(0) + login_tail)
write("proto_server", "seed-cleartext.bin", b"\x00" + auth(3) + auth(0) + login_tail)
write("proto_server", "seed-sasl.bin", b"\x02" + auth(10, cstr("SCRAM-SHA-256-PLUS") + cstr("SCRAM-SHA-256") + b"\0")
      + auth(11, b"r=abc,s=QSXCR+Q6sek8bf92,i=4096") + auth(12, b"v=abc"))
write("proto_server", "seed-error.bin", b"\x03" + error([("S", "FATAL"), ("V", "FATAL"), ("C", "57P03"),
                                                        ("M", "the database system is starting up"), ("D", "d"), ("H", "h")]))
write("proto_server", "seed-rows.bin", b"\x00" + msg("T", b"\0\1" + cstr("a") + b"\0" * 18)
      + msg("D", struct.pack("!hi", 2, 1) + b"1" + struct.pack("!i", -1)) + msg("C", cstr("SELECT 1"))
      + msg("N", b"SWARNING\0C01000\0Mnote\0\0") + msg("Z", b"T"))

# ---- SCRAM (test/fuzz/scram.cpp's fixed nonces, salt, password and keys)
SALT = b"fuzzsaltfuzzsalt"
CNONCE, SNONCE = "fuzzclientnonce", "fuzzservernonce"
b64 = lambda b: base64.b64encode(b).decode()
H = lambda b: hashlib.sha256(b).digest()
HMAC = lambda k, m: hmac.new(k, m.encode() if isinstance(m, str) else m, hashlib.sha256).digest()

first_bare = "n=,r=" + CNONCE
server_first = "r=%s%s,s=%s,i=4096" % (CNONCE, SNONCE, b64(SALT))
final_bare = "c=biws,r=" + CNONCE + SNONCE
auth_message = ",".join([first_bare, server_first, final_bare])
salted = hashlib.pbkdf2_hmac("sha256", b"pencil", SALT, 4096)
client_key = HMAC(salted, "Client Key")
proof = bytes(a ^ b for a, b in zip(client_key, HMAC(H(client_key), auth_message)))
write("scram", "seed-server-login.bin", b"\x00" + ("n,,n=,r=" + CNONCE).encode() + b"\0"
      + (final_bare + ",p=" + b64(proof)).encode())
write("scram", "seed-server-bad-proof.bin", b"\x00" + ("n,,n=,r=" + CNONCE).encode() + b"\0"
      + (final_bare + ",p=" + b64(b"\0" * 32)).encode())
write("scram", "seed-server-channel-binding.bin", b"\x02" + ("p=tls-server-end-point,,n=,r=" + CNONCE).encode() + b"\0"
      + ("c=" + b64(b"p=tls-server-end-point,," + b"\x5a" * 32) + ",r=" + CNONCE + SNONCE + ",p=" + b64(proof)).encode())
# Client side, pass-through keys 0x07… / 0x09…: the server's signature over the same exchange.
server_signature = HMAC(bytes([9]) * 32, auth_message)
write("scram", "seed-client-login.bin", b"\x01" + server_first.encode() + b"\0" + ("v=" + b64(server_signature)).encode())
write("scram", "seed-client-checked.bin", b"\x03" + server_first.encode() + b"\0" + b"e=invalid-proof")
write("scram", "seed-client-extension.bin", b"\x01" + ("m=ext," + server_first).encode() + b"\0" + b"v=")

# ---- configuration files
write("config_ini", "seed-basic.ini", '''[databases]
app = host=127.0.0.1 port=5432 dbname=app pool_size=10
multi = host=db1,db2,/tmp port=5432,5433,5434 target_session_attrs=read-write load_balance_hosts=random
"quoted ""db""" = host=localhost auth_user=auth connect_query='SELECT 1; SELECT 2'
* = host=127.0.0.1

[users]
alice = pool_mode=session max_user_connections=5 query_timeout=2.5

[pooler]
listen_addr = 127.0.0.1
listen_port = 6432
auth_type = scram-sha-256
auth_file = userlist.txt
pool_mode = transaction
max_client_conn = 100
max_prepared_statements = 100
server_tls_sslmode = prefer
unknown_thing = 1
''')
write("config_ini", "seed-include.ini", "[pgbouncer]\nlisten_port = 6433\n%include included.conf\n")
write("config_ini", "included.conf", "[databases]\nincluded = host=127.0.0.1 dbname=inc\n")
write("config_ini", "seed-bad.ini", "[pooler]\npool_mode = sometimes\n")

write("auth_file", "seed-userlist.txt", '; comment\n"alice" "secret"\n"bob" "md5' + "0" * 32 + '"\n'
      '"car""ol" "SCRAM-SHA-256$4096:' + b64(SALT) + '$' + b64(H(client_key)) + ':' + b64(b"\1" * 32) + '" extra\n\n# c\n')
write("auth_file", "seed-broken.txt", '"alice" "unterminated\n')

write("hba", "seed-hba.conf", "\0# TYPE DATABASE USER ADDRESS METHOD\nlocal all postgres peer map=omicron\n"
      "host all all 127.0.0.1/32 scram-sha-256\nhostssl app,\"Odd Db\" alice,bob ::1/128 md5\n"
      "hostnossl replication all 10.0.0.0 255.0.0.0 trust\nhost sameuser @users.txt all cert map=certs clientcert=1\n"
      "host all all all reject\n")
write("hba", "users.txt", "alice bob\n")
write("hba", "seed-ident.conf", "\1omicron bryanh alice\ncerts /^(.*)@example\\.com$ \\1\nm postgres alice\n")

write("admin_command", "seed-show.txt", "SHOW POOLS;")
write("admin_command", "seed-set.txt", "set default_pool_size = '20'")
write("admin_command", "seed-set-to.txt", 'SET "Query_Timeout" TO 5;')
write("admin_command", "seed-kill.txt", 'KILL_CLIENT "0x1f";')
write("admin_command", "seed-empty.txt", " ; ")

write("http_request", "seed-get.bin", b"\x07GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
write("http_request", "seed-head.bin", b"\x00HEAD /health?x=1 HTTP/1.0\r\n\r\n")
write("http_request", "seed-post.bin", b"\x03POST /ready HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
write("http_request", "seed-chunked.bin", b"\x10PUT http://h:1/a/b#f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
write("http_request", "seed-bad.bin", b"\x01GET /\x01 HTTP/9.9\r\n\r\n")

write("conn_string", "seed-split.txt", "\x00host=a port=5432 password='it''s' application_name='x\\'y' dbname=\\\\")
write("conn_string", "seed-multi.txt", "\x01host=db1,db2,/var/run/postgresql port=5432,6543,5432 dbname=app "
      "target_session_attrs=primary load_balance_hosts=disable pool_size=5 client_encoding=UTF8 "
      "datestyle=ISO timezone=UTC application_name=a server_lifetime=3600 query_wait_timeout=-1")
write("conn_string", "seed-fallback.txt", "\x02host=@abstract user=u password=p auth_user=a auth_dbname=d "
      "auth_query='SELECT usename, passwd FROM pg_shadow WHERE usename=$1'")
write("conn_string", "seed-user.txt", "\x03pool_mode=transaction pool_size=3 max_user_connections=2 query_timeout=1.5")
write("conn_string", "seed-options.txt", "\x03-c search_path=a,b --statement_timeout=5s -c x\\ y=1")

# ---- prepared statements: a script of steps (see test/fuzz/prepared.cpp)
write("prepared", "seed-parse-bind.bin", bytes([
    0, 1, 0, 0,        # Parse s1 "SELECT 1" no types
    4,                 # Sync
    11, 0, 11, 13,     # server: ParseComplete, ReadyForQuery
    1, 0, 1,           # Bind portal "" statement s1
    5, 4,              # Execute, Sync
    12, 11, 1, 7, 0, 13, 0,   # server: BindComplete, CommandComplete, ReadyForQuery I
    9,                 # move to the other server
    1, 0, 1, 4,        # Bind s1 there: the pooler prepares it first
    11, 0, 11, 1, 11, 13, 0,
    10, 1, 2, 1, 0, 0, 1,  # a PQprepare batch answered locally
    7, 0, 1, 1, 0,     # PREPARE s1 AS SELECT 1
    7, 3, 1, 7, 4,     # DEALLOCATE s1; DEALLOCATE ALL
    3, 0, 1, 4, 11, 14, 4,  # Close S s1, Sync, errors
]))
