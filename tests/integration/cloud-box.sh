#!/bin/bash
# Cloud images by alias as boxes, against a mirror on 127.0.0.1 laid out like
# cloud.debian.org (tests/fixtures/cloud/mirror/debian): box add resolves the
# index and verifies the image, a second add downloads nothing, outdated and
# update notice a new build, a wrong digest and a hostile index are refused
# with the store untouched.
. "$VMENV_SRCDIR/tests/lib.sh"

WWW=$T_TMP/www
mkdir -p "$WWW"
cp -r "$VMENV_SRCDIR/tests/fixtures/cloud/mirror/debian/." "$WWW/"
LATEST=$WWW/bookworm/latest
serve_dir "$WWW" "$T_TMP/server.log" || exit 1
export VMENV_IMAGE_MIRROR_DEBIAN="http://127.0.0.1:$SERVE_PORT"
image_gets() { grep -c "GET /bookworm/latest/debian-12-genericcloud-amd64.qcow2" "$T_TMP/server.log"; }
versions() { ls "$VMENV_HOME/boxes/debian-VAGRANTSLASH-12" 2>/dev/null | wc -l; }

run_vmenv box add debian/12
expect_eq "box add debian/12 through the mirror's SHA512SUMS" 0 "$RC"
case $OUT in *"box 'debian/12' ("[0-9]*.[0-9]*") is in the store"*) ok 0 "stored under the alias, dated" ;;
    *) ok 1 "box add said: $OUT $ERR" ;; esac
DIGEST=$(sha512sum "$LATEST/debian-12-genericcloud-amd64.qcow2" | cut -d' ' -f1)
grep -rq "sha512:$DIGEST" "$VMENV_HOME/boxes/debian-VAGRANTSLASH-12"/*/libvirt/vmenv.json
ok $? "the store records the index's sha512"

run_vmenv box add debian/12
expect_eq "adding it again succeeds" 0 "$RC"
expect_eq "and downloads nothing (same digest, same version)" "1 1" "$(image_gets) $(versions)"

run_vmenv box outdated --global
case $OUT in *"box 'debian/12' ("*") is up to date"*) ok 0 "outdated: up to date" ;; *) ok 1 "outdated: $OUT $ERR" ;; esac

# a new build in the mirror
sleep 1 # versions are dated to the second
printf 'a newer build\n' >"$LATEST/debian-12-genericcloud-amd64.qcow2"
(cd "$LATEST" && sha512sum debian-12-genericcloud-amd64.qcow2 >SHA512SUMS)
run_vmenv box outdated --global
case $OUT in *"box 'debian/12' ("*") is outdated: "*" is available"*) ok 0 "outdated notices the new build" ;;
    *) ok 1 "outdated: $OUT $ERR" ;; esac
run_vmenv box update --box debian/12
expect_eq "box update --box debian/12" 0 "$RC"
expect_eq "the new build is a second version" 2 "$(versions)"

# a digest that does not match: refused, nothing stored
sleep 1
printf '%s  debian-12-genericcloud-amd64.qcow2\n' "$(printf other | sha512sum | cut -d' ' -f1)" >"$LATEST/SHA512SUMS"
run_vmenv box add debian/12
expect_eq "a wrong digest is refused (exit 65)" 65 "$RC"
case $ERR in *"checksum mismatch"*) ok 0 "the error says checksum mismatch" ;; *) ok 1 "error: $ERR" ;; esac
expect_eq "nothing new in the store" 2 "$(versions)"

# a hostile index
printf '%s  ../../etc/passwd\n' "$DIGEST" >"$LATEST/SHA512SUMS"
run_vmenv box add debian/12
expect_eq "an index naming a path is refused (exit 65)" 65 "$RC"
case $ERR in *"SHA512SUMS:1: not a plain file name"*) ok 0 "the error names the index line" ;; *) ok 1 "error: $ERR" ;; esac

# --architecture picks that architecture's image (not on this mirror: 404)
cp "$VMENV_SRCDIR/tests/fixtures/cloud/mirror/debian/bookworm/latest/SHA512SUMS" "$LATEST/"
run_vmenv box add debian/12 --architecture arm64
case $ERR in *"debian-12-genericcloud-arm64.qcow2"*) ok 0 "--architecture arm64 asks for the arm64 image (exit $RC)" ;;
    *) ok 1 "arm64: $RC $ERR" ;; esac

# cloud_init.user_data must be a file of the project: refused at up before
# anything is fetched (libvirt's test driver: nothing boots)
Q=$T_TMP/proj
mkdir -p "$Q/sub" && echo secret >"$T_TMP/outside.yaml"
ln -s "$T_TMP/outside.yaml" "$Q/link.yaml"
for ud in ../outside.yaml link.yaml sub; do
    printf 'box: debian/12\ncloud_init: { user_data: %s }\n' "$ud" >"$Q/vmenv.yaml"
    rm -rf "$VMENV_HOME/boxes"
    VMENV_LIBVIRT_URI=test:///default run_vmenv -C "$Q" up
    case $RC$ERR in 78*"cloud_init.user_data"*) ok 0 "user_data: $ud is refused (exit 78)" ;;
        *) ok 1 "user_data: $ud: $RC $ERR" ;; esac
    [ ! -e "$VMENV_HOME/boxes" ]; ok $? "nothing was fetched for user_data: $ud"
done

# A project may not store other bytes under a distribution's name, which every
# project of this user shares: not by box_url, not by its vmenv.lock.
H=$T_TMP/hostile
mkdir -p "$H" && echo 'not debian' >"$H/evil.img"
printf 'box: debian/12\nbox_url: evil.img\n' >"$H/vmenv.yaml"
run_vmenv -C "$H" validate
case $RC$ERR in 78*"is a distribution's image: box_url cannot replace it"*) ok 0 "box_url beside an alias is refused (exit 78)" ;;
    *) ok 1 "box_url beside an alias: $RC $ERR" ;; esac
printf 'box: debian/12\n' >"$H/vmenv.yaml"
run_vmenv -C "$H" lock
ok $RC "lock of debian/12 against the mirror"
python3 - "$H/vmenv.lock" "$H/evil.img" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
def walk(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "url" and isinstance(v, str):
                o[k] = sys.argv[2]
            else:
                walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
walk(doc)
json.dump(doc, open(sys.argv[1], "w"))
EOF
rm -rf "$VMENV_HOME/boxes/debian-VAGRANTSLASH-12"
VMENV_LIBVIRT_URI=test:///default run_vmenv -C "$H" up
case $RC$ERR in 78*"is the distribution's image at"*) ok 0 "a lock pointing debian/12 elsewhere is refused (exit 78)" ;;
    *) ok 1 "hostile lock: $RC $ERR" ;; esac
[ "$(versions)" = 0 ]; ok $? "nothing was stored under debian/12"

done_testing
