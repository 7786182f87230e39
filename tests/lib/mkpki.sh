#!/bin/sh
# mkpki.sh DIR [ec|rsa] — a test PKI made with the openssl CLI only.
#   ca.*         the test CA (10 years)
#   server.*     CN localhost, SAN localhost, 127.0.0.1, ::1 (825 days);
#                server-chain.crt is the leaf followed by the CA
#   wronghost.*  SAN wrong.example only (host name mismatch)
#   soon.*       valid 10 days (endpoint certificate warnings)
#   expired.*    valid 2024-01-01 .. 2025-01-01
#   inter.*      an intermediate CA that expires in 5 days, and
#   chain.*      a leaf it signed (825 days): chain.crt holds leaf and
#                intermediate, so the chain's earliest notAfter is the
#                intermediate's
#   rogue-ca.crt, rogue.*  the same names as server, signed by a CA
#                nobody trusts
# Keys are EC P-256 (fast), or RSA-2048 with "rsa".
set -eu
dir=$1
kind=${2:-ec}
mkdir -p "$dir"
cd "$dir"
if [ "$kind" = rsa ]; then
    NEWKEY="-newkey rsa:2048 -nodes"
else
    NEWKEY="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
fi
q() { "$@" 2>/dev/null || { echo "mkpki: failed: $*" >&2; exit 1; }; }

q openssl req -x509 $NEWKEY -keyout ca.key -out ca.crt -days 3650 -subj "/CN=tomslink test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

csr() {   # csr NAME CN SAN
    q openssl req $NEWKEY -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
    printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' "$3" > "$1.ext"
}
sign() {  # sign NAME DAYS [CA-NAME]
    ca=${3:-ca}
    q openssl x509 -req -in "$1.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days "$2" \
        -extfile "$1.ext" -out "$1.crt" -sha256
}

csr server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
sign server 825
cat server.crt ca.crt > server-chain.crt

csr wronghost wrong.example "DNS:wrong.example"
sign wronghost 825

csr soon localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
sign soon 10

q openssl req $NEWKEY -keyout inter.key -out inter.csr -subj "/CN=tomslink test intermediate"
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > inter.ext
sign inter 5
csr chain localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
sign chain 825 inter
cat inter.crt >> chain.crt

# an explicit past validity window needs `openssl ca`
csr expired localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
mkdir -p ca-db/newcerts
: > ca-db/index.txt
echo 1000 > ca-db/serial
cat > ca.cnf <<'CNF'
[ca]
default_ca = testca
[testca]
dir = ./ca-db
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = ./ca.crt
private_key = ./ca.key
default_md = sha256
policy = pol_any
unique_subject = no
[pol_any]
commonName = supplied
CNF
q openssl ca -batch -notext -config ca.cnf -startdate 20240101000000Z -enddate 20250101000000Z \
    -in expired.csr -extfile expired.ext -out expired.crt
# a CA nobody trusts, and a server certificate from it
q openssl req -x509 $NEWKEY -keyout rogue-ca.key -out rogue-ca.crt -days 3650 -subj "/CN=tomslink test rogue-ca"
csr rogue localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
sign rogue 825 rogue-ca

rm -f ./*.csr
