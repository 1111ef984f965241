#!/bin/sh
# Runs coturn's turnserver in the foreground as an RFC 7635 relay on loopback, holding one
# AS-RS key: the "coturn holding the same kid and key" that `relay-native probe` must also
# work against. coturn reads OAuth keys only from its user database (../shared/INTEROP.md
# section 8), so this makes one.
#
# usage: coturn-oauth.sh DIR PORT SERVER_NAME REALM KID KEY_BASE64 ALG
set -eu
[ $# -eq 7 ] || { echo "usage: $0 DIR PORT SERVER_NAME REALM KID KEY_BASE64 ALG" >&2; exit 2; }
dir=$1 port=$2 name=$3 realm=$4 kid=$5 key=$6 alg=$7
case "$kid$key$alg" in *"'"*) echo "$0: quote in kid, key or alg" >&2; exit 2 ;; esac
db=$dir/coturn-$port.sqlite
rm -f "$db"
# turnadmin creates the schema with a throwaway long-term user.
turnadmin -a -b "$db" -u schema-only -r "$realm" -p "$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')" >/dev/null
# A long-term user the probe's long-term tests sign in as (coturn: MD5 keys, SHA-1 only).
turnadmin -a -b "$db" -u probe-user -r "$realm" -p probe-pass >/dev/null
sqlite3 "$db" "INSERT INTO oauth_key(kid, ikm_key, timestamp, lifetime, as_rs_alg, realm) VALUES('$kid', '$key', 0, 0, '$alg', '');"
exec turnserver -n --listening-ip 127.0.0.1 --relay-ip 127.0.0.1 --listening-port "$port" \
  --oauth --server-name "$name" --userdb "$db" --lt-cred-mech --realm "$realm" \
  --allow-loopback-peers --no-tls --no-dtls --no-cli \
  --min-port $((port + 1)) --max-port $((port + 200)) \
  --log-file "$dir/coturn-$port.log" --simple-log --pidfile "$dir/coturn-$port.pid"
