#!/usr/bin/env python3
"""Prints a PostgreSQL SCRAM-SHA-256 secret (RFC 5803 form, as in pg_authid) for a password with
a chosen PBKDF2 iteration count, which PostgreSQL 15's CREATE ROLE cannot choose:

  scram_secret.py PASSWORD ITERATIONS

bench/run.sh gives the role of the storm's and the idle clients' logins 256 iterations: a pooler checks a login with a few HMACs
whatever the count, but libpq derives the salted password at every login (about 3 ms at 4096),
which would make the storm measure the client rather than the pooler.
"""
import base64
import hashlib
import hmac
import os
import sys


def main():
    password, iterations = sys.argv[1].encode(), int(sys.argv[2])
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac('sha256', password, salt, iterations)
    client_key = hmac.new(salted, b'Client Key', 'sha256').digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b'Server Key', 'sha256').digest()

    def b64(data):
        return base64.b64encode(data).decode()

    print(f'SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}')


if __name__ == '__main__':
    main()
