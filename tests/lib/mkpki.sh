#!/bin/sh
# mkpki.sh DIR: a test PKI made with the openssl CLI (EC P-256, instant).
#   ca.crt          the test CA the tests trust
#   server.{crt,key} CN/SAN localhost, 127.0.0.1, ::1, signed by ca
#   rogue-ca.crt, rogue.{crt,key}  the same names, signed by a CA nobody trusts
set -eu
mkdir -p "$1"
cd "$1"
EC="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
ca() {      # ca NAME
    openssl req -x509 $EC -keyout "$1.key" -out "$1.crt" -days 3650 -subj "/CN=tomslink test $1" 2>/dev/null
}
leaf() {    # leaf NAME CA
    openssl req $EC -keyout "$1.key" -out "$1.csr" -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 825 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
}
ca ca
leaf server ca
ca rogue-ca
leaf rogue rogue-ca
