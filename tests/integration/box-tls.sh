# Box downloads over HTTPS from a server on 127.0.0.1 with a certificate made
# for the test: refused by default, accepted with --cacert or --insecure.
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/box-lib.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T_TMP/key.pem" -out "$T_TMP/cert.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=other" \
    -keyout "$T_TMP/other-key.pem" -out "$T_TMP/other.pem" 2>/dev/null
start_server range 0 "$T_TMP/cert.pem" "$T_TMP/key.pem"
make_box_file "$T_TMP/www/tiny.box" 1
SUM=$(sha256 "$T_TMP/www/tiny.box")
BEFORE=$(store_listing)

run_vmenv box add "$BASE/tiny.box" --name tls/box
expect_eq "an unknown certificate is refused (exit 76)" 76 "$RC"
case $ERR in *"certificate"*) ok 0 "the error names the certificate";; *) ok 1 "tls error: $ERR";; esac
run_vmenv box add "$BASE/tiny.box" --name tls/box --cacert "$T_TMP/other.pem"
expect_eq "the wrong CA is refused" 76 "$RC"
expect_eq "store unchanged after TLS failures" "$BEFORE" "$(store_listing)"
run_vmenv box add "$BASE/tiny.box" --name tls/box --cacert "$T_TMP/cert.pem" --checksum "sha256:$SUM"
expect_eq "--cacert with the right CA" 0 "$RC"
run_vmenv box add "$BASE/tiny.box" --name tls/insecure --insecure
expect_eq "--insecure skips verification" 0 "$RC"
run_vmenv box list
expect_eq "both stored" "tls/box (libvirt, 0)
tls/insecure (libvirt, 0)" "$OUT"

done_testing
