# The box store through the CLI, without a network: disk images and .box
# files from paths, local catalogs with relative URLs, $VMENV_BOX_SERVER,
# hostile archives, list/remove/prune/outdated/update, in-use protection.
. "$VMENV_SRCDIR/tests/lib.sh"
. "$VMENV_SRCDIR/tests/integration/box-lib.sh"
cd "$T_TMP"

# --- disk images
qemu-img create -q -f qcow2 disk.qcow2 2G
run_vmenv box add local/disk ./disk.qcow2
expect_eq "box add NAME ./disk.qcow2" 0 "$RC"
J=$VMENV_HOME/boxes/local-VAGRANTSLASH-disk/0/libvirt/vmenv.json
check "format qcow2 recorded" -- grep -q '"format": "qcow2"' "$J"
check "virtual size from the qcow2 header (2 GiB)" -- grep -q '"virtual_size": 2147483648' "$J"
check "a metadata.json is written for it" -- grep -q '"provider": "libvirt"' "${J%vmenv.json}metadata.json"
head -c 3000000 /dev/urandom > disk.raw
run_vmenv box add disk.raw --name local/raw --box-version 1.2.3
expect_eq "raw image with an exact --box-version" 0 "$RC"
J=$VMENV_HOME/boxes/local-VAGRANTSLASH-raw/1.2.3/libvirt/vmenv.json
check "format raw recorded" -- grep -q '"format": "raw"' "$J"
check "raw virtual size = file size" -- grep -q '"virtual_size": 3000000' "$J"
run_vmenv box add disk.raw --name local/raw2 --box-version ">= 1"
expect_eq "a box file needs an exact version" 64 "$RC"
# --json output is escaped: a $VMENV_HOME holding '"' and '\' still gives JSON
OUT=$(VMENV_HOME="$T_TMP/we\"ird\\home" "$VMENV" box add disk.raw --name local/json --box-version 1 --json 2>"$T_TMP/stderr")
check "box add --json is JSON even when the path holds quotes" -- python3 -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["name"] == "local/json" and o["dir"].startswith(sys.argv[2]), o' "$OUT" "$T_TMP/we\"ird\\home"
run_vmenv box add local/a ./no-such.qcow2
expect_eq "a missing file exits 66" 66 "$RC"

# --- .box files from paths
make_box_file tiny.box 1
make_box_file tiny.tar.gz 1 -z
run_vmenv box add tiny.box --name local/box --box-version 1.0
expect_eq "a .box path" 0 "$RC"
run_vmenv box add tiny.tar.gz --name local/gz --checksum "sha256:$(sha256 tiny.tar.gz)"
expect_eq "a gzipped box with its checksum" 0 "$RC"
# A local .box is read once, through one descriptor, into a private copy
# that is both hashed and extracted: hashing the path and opening it again
# let whoever can write it swap the bytes in between.
if command -v strace >/dev/null; then
    strace -f -qq -e trace=open,openat -o "$T_TMP/strace" \
        "$VMENV" box add tiny.box --name local/once --box-version 1 >/dev/null 2>&1
    expect_eq "the local .box is opened once" 1 "$(grep -c '"tiny\.box"' "$T_TMP/strace")"
    ls "$VMENV_HOME"/cache/local-* >/dev/null 2>&1; [ $? -ne 0 ]; ok $? "the private copy is deleted"
    expect_eq "the copy was the one extracted" "$(sha256 tiny.box)" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checksum"].split(":")[1])' \
            "$VMENV_HOME/boxes/local-VAGRANTSLASH-once/1/libvirt/vmenv.json" 2>/dev/null)"
    "$VMENV" box remove local/once -f >/dev/null 2>&1
fi
mkfifo "$T_TMP/fifo.box"
run_vmenv box add "$T_TMP/fifo.box" --name local/fifo --box-version 1
case $ERR in *"not a regular file"*) ok 0 "a local box that is not a regular file is refused";; *) ok 1 "fifo: $ERR";; esac
BEFORE=$(store_listing)
run_vmenv box add tiny.box --name local/bad --checksum "md5:00000000000000000000000000000000"
expect_eq "a local checksum mismatch exits 65" 65 "$RC"
case $ERR in *"checksum mismatch"*"expected md5:0000"*"got md5:"*) ok 0 "mismatch message";; *) ok 1 "mismatch: $ERR";; esac
python3 "$VMENV_SRCDIR/tests/fixtures/hostile/gen.py" "$T_TMP/hostile"
for h in symlink.tar dotdot.tar abs-path.tar device.tar duplicate.tar not-json.tar header-mismatch.tar; do
    want=$(grep "^$h	" hostile/manifest.tsv | cut -f2)
    run_vmenv box add "hostile/$h" --name "evil/${h%%.*}"
    expect_eq "hostile $h exits 65" 65 "$RC"
    case $ERR in *"$want"*) ok 0 "hostile $h: $want";; *) ok 1 "hostile $h: $ERR";; esac
done
expect_eq "the store is unchanged after refused boxes" "$BEFORE" "$(store_listing)"
expect_eq "no temp debris after refused boxes" 0 "$(tmp_debris)"
check "nothing escaped" -- test ! -e "$T_TMP/escaped-dotdot" -a ! -e "hostile/escaped-abs"

# --- present boxes, --force
INO=$(stat -c %i "$VMENV_HOME/boxes/local-VAGRANTSLASH-box/1.0/libvirt/box.img")
run_vmenv box add tiny.box --name local/box --box-version 1.0
expect_eq "adding a present version is refused without --force (as Vagrant)" 65 "$RC"
case $ERR in *"box 'local/box' (1.0) is already in the store"*"--force"*) ok 0 "refusal names the box and --force";; *) ok 1 "refusal: $ERR";; esac
expect_eq "and leaves it alone" "$INO" "$(stat -c %i "$VMENV_HOME/boxes/local-VAGRANTSLASH-box/1.0/libvirt/box.img")"
run_vmenv box add tiny.box --name local/box --box-version 1.0 --checksum "sha256:$(sha256 tiny.box)"
expect_eq "a present version with --checksum is refused too, not reported as stored" 65 "$RC"
case $OUT in *"is in the store"*) ok 1 "reported as stored: $OUT";; *) ok 0 "not reported as stored";; esac
run_vmenv box add tiny.box --name local/box --box-version 1.0 -f
expect_eq "--force replaces it" 0 "$RC"
check "with a new file" -- test "$INO" != "$(stat -c %i "$VMENV_HOME/boxes/local-VAGRANTSLASH-box/1.0/libvirt/box.img")"

# --- list
run_vmenv box list
expect_eq "box list" "local/box (libvirt, 1.0)
local/disk (libvirt, 0)
local/gz (libvirt, 0)
local/raw (libvirt, 1.2.3)" "$OUT"
run_vmenv box list --json
echo "$OUT" > list.json
check "box list --json is JSON with name/version/format/virtual_size/images" -- python3 -c '
import json, sys
l = json.load(open("list.json"))
assert [b["name"] for b in l] == ["local/box", "local/disk", "local/gz", "local/raw"]
assert l[1]["format"] == "qcow2" and l[1]["virtual_size"] == 2 << 30
assert l[1]["images"][0].endswith("/box.img") and l[0]["checksum"].startswith("sha256:")'
run_vmenv box frob
expect_eq "unknown box subcommand exits 64" 64 "$RC"
run_vmenv box lst
case $ERR in *"did you mean 'vmenv box list'"*) ok 0 "subcommand hint";; *) ok 1 "hint: $ERR";; esac
run_vmenv box list --dry-run
expect_eq "an option of another subcommand is refused" 64 "$RC"

# --- remove and in-use protection (the machine index)
echo '[{"project_dir": "/p", "machine": "web", "box": "local/disk", "box_version": "0"}]' > "$VMENV_HOME/machines.json"
run_vmenv box remove local/disk
expect_eq "removing a box in use fails" 1 "$RC"
case $ERR in *"in use by machine '/p:web'"*) ok 0 "in-use message";; *) ok 1 "in use: $ERR";; esac
run_vmenv box remove local/disk -f
expect_eq "-f removes it anyway" 0 "$RC"
check "its folders are gone" -- test ! -e "$VMENV_HOME/boxes/local-VAGRANTSLASH-disk"
run_vmenv box remove local/disk
expect_eq "removing a missing box exits 66" 66 "$RC"

# --- prune keeps the newest and what is in use
for v in 1.0 1.1 2.0; do run_vmenv box add tiny.box --name multi/box --box-version $v; done
echo '[{"project_dir": "/p", "machine": "db", "box": "multi/box", "box_version": "1.0"}]' > "$VMENV_HOME/machines.json"
run_vmenv box remove multi/box
expect_eq "remove with several versions needs --box-version or --all" 64 "$RC"
run_vmenv box prune --dry-run
case $OUT in *"keeping box 'multi/box' (1.0)"*"would remove box 'multi/box' (1.1)"*) ok 0 "prune --dry-run";; *) ok 1 "dry-run: $OUT";; esac
check "dry-run removes nothing" -- test -d "$VMENV_HOME/boxes/multi-VAGRANTSLASH-box/1.1"
run_vmenv box prune
expect_eq "prune" 0 "$RC"
expect_eq "prune kept the used and the newest" "1.0 2.0" "$(ls "$VMENV_HOME/boxes/multi-VAGRANTSLASH-box" | sort | xargs)"
rm "$VMENV_HOME/machines.json"
run_vmenv box remove multi/box --all
expect_eq "remove --all" 0 "$RC"
check "all versions gone" -- test ! -e "$VMENV_HOME/boxes/multi-VAGRANTSLASH-box"

# --- local catalogs with relative URLs; outdated; update
mkdir -p srv/test
make_box_file srv/test/cat-1.0.box 1
make_box_file srv/test/cat-1.1.box 1
cat > srv/test/cat.json <<JSON
{"name": "test/cat", "versions": [{"version": "1.0", "providers": [{"name": "libvirt",
 "url": "cat-1.0.box", "checksum_type": "sha256", "checksum": "$(sha256 srv/test/cat-1.0.box)"}]}]}
JSON
run_vmenv box add ./srv/test/cat.json
expect_eq "a local catalog with a relative URL" "box 'test/cat' (1.0) is in the store" "$OUT"
run_vmenv box outdated --global
case $OUT in *"box 'test/cat' (1.0) is up to date"*) ok 0 "outdated: up to date";; *) ok 1 "outdated: $OUT $ERR";; esac
python3 - srv/test/cat.json "$(sha256 srv/test/cat-1.1.box)" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["versions"].append({"version": "1.1", "providers": [{"name": "libvirt", "url": "cat-1.1.box",
                      "checksum_type": "sha256", "checksum": sys.argv[2]}]})
json.dump(c, open(sys.argv[1], "w"))
PY
run_vmenv box outdated --global
case $OUT in *"box 'test/cat' (1.0) is outdated: 1.1 is available"*) ok 0 "outdated: newer version";; *) ok 1 "outdated: $OUT $ERR";; esac
run_vmenv box outdated --global --json
case $OUT in *'"outdated": true'*) ok 0 "outdated --json";; *) ok 1 "outdated --json: $OUT";; esac
run_vmenv box update --box test/cat
expect_eq "box update --box" "box 'test/cat' (1.1) is the newest" "$OUT"
check "1.1 is stored" -- test -d "$VMENV_HOME/boxes/test-VAGRANTSLASH-cat/1.1/libvirt"
run_vmenv box update --box local/raw
expect_eq "update of a box without a catalog exits 66" 66 "$RC"

# --- Vagrant's rules when adding: a catalog checksum that contradicts the
# stored digest, --name against the catalog's name (BoxAddNameMismatch)
cp srv/test/cat.json cat.json.orig
python3 - srv/test/cat.json "$(sha256 srv/test/cat-1.0.box)" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["versions"][1]["providers"][0]["checksum"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PY
run_vmenv box update --box test/cat
expect_eq "a stored version whose digest the catalog contradicts is refused" 65 "$RC"
case $ERR in *"(1.1) in the store has sha256:"*"but sha256:"*"--force"*) ok 0 "digest conflict message";; *) ok 1 "conflict: $ERR";; esac
cp cat.json.orig srv/test/cat.json
run_vmenv box add ./srv/test/cat.json --name test/wrong
expect_eq "--name that disagrees with the catalog's name exits 65" 65 "$RC"
case $ERR in *"is for box 'test/cat', not 'test/wrong'"*) ok 0 "name mismatch message";; *) ok 1 "name mismatch: $ERR";; esac
check "nothing stored under the wrong name" -- test ! -e "$VMENV_HOME/boxes/test-VAGRANTSLASH-wrong"

# --- --checksum with --checksum-type, trimmed; without a type the length tells
run_vmenv box add tiny.box --name local/ct --checksum " $(sha256 tiny.box) " --checksum-type " SHA256 "
expect_eq "--checksum with --checksum-type, spaces and capitals" 0 "$RC"
run_vmenv box add tiny.box --name local/md5 --checksum "$(md5sum tiny.box | cut -d' ' -f1)"
expect_eq "a checksum without a type: 32 digits are md5" 0 "$RC"
check "recorded as md5" -- grep -q '"checksum": "md5:' "$VMENV_HOME/boxes/local-VAGRANTSLASH-md5/0/libvirt/vmenv.json"
run_vmenv box add tiny.box --name local/md5b --checksum "00000000000000000000000000000000"
expect_eq "a wrong typeless checksum is still checked" 65 "$RC"
run_vmenv box add tiny.box --name local/odd --checksum "abc123"
expect_eq "a typeless checksum of no known length exits 64" 64 "$RC"
case $ERR in *"cannot tell the type of checksum 'abc123'"*) ok 0 "with the reason";; *) ok 1 "odd checksum: $ERR";; esac
run_vmenv box add tiny.box --name local/ct2 --checksum-type sha256
expect_eq "--checksum-type alone exits 64" 64 "$RC"
run_vmenv box add tiny.box --name local/vb --provider virtualbox
expect_eq "--provider other than libvirt exits 64" 64 "$RC"
run_vmenv box add tiny.box --name local/lv --provider libvirt --clean
expect_eq "--provider libvirt --clean" 0 "$RC"

# --- --architecture picks the catalog's provider for that architecture
make_box_file srv/test/arch-arm.box 1
make_box_file srv/test/arch-amd.box 2
cat > srv/test/arch.json <<JSON
{"name": "test/arch", "versions": [{"version": "1.0", "providers": [
 {"name": "libvirt", "url": "arch-amd.box", "architecture": "amd64", "default_architecture": true},
 {"name": "libvirt", "url": "arch-arm.box", "architecture": "arm64", "default_architecture": false}]}]}
JSON
run_vmenv box add ./srv/test/arch.json --architecture arm64
expect_eq "box add --architecture arm64" 0 "$RC"
check "the arm64 box was taken" -- grep -q 'arch-arm.box' "$VMENV_HOME/boxes/test-VAGRANTSLASH-arch/1.0/libvirt/vmenv.json"
run_vmenv box add ./srv/test/arch.json --architecture s390x
expect_eq "an architecture the catalog lacks exits 66" 66 "$RC"
case $ERR in *"for libvirt on s390x"*) ok 0 "names the architecture";; *) ok 1 "arch: $ERR";; esac

# --- a store written by Vagrant 2.4 (NAME/VERSION/ARCH/libvirt); folders
# that are not versions are skipped
case $(uname -m) in x86_64) HA=amd64;; aarch64) HA=arm64;; *) HA=$(uname -m);; esac
V24=$VMENV_HOME/boxes/v24-VAGRANTSLASH-box
mkdir -p "$V24/3.0/$HA" "$V24/not a version/libvirt" "$V24/2.0"
cp -r "$VMENV_HOME/boxes/local-VAGRANTSLASH-box/1.0/libvirt" "$V24/3.0/$HA/libvirt"
rm -f "$V24/3.0/$HA/libvirt/vmenv.json"
cp -r "$VMENV_HOME/boxes/local-VAGRANTSLASH-box/1.0/libvirt" "$V24/2.0/libvirt"
run_vmenv box list
case $OUT in *"v24/box (libvirt, 2.0)"*"v24/box (libvirt, 3.0)"*) ok 0 "both layouts listed";; *) ok 1 "list: $OUT";; esac
case $OUT in *"not a version"*) ok 1 "a non-version folder listed";; *) ok 0 "a non-version folder skipped";; esac
run_vmenv box remove v24/box --box-version 3.0
expect_eq "remove a Vagrant 2.4 layout version" 0 "$RC"
check "its folders are gone" -- test ! -e "$V24/3.0"
rm -rf "$V24"

# --- outdated --global goes on past a box whose catalog fails
cp srv/test/cat.json srv/test/gone.json
sed -i 's|"test/cat"|"test/gone"|' srv/test/gone.json
run_vmenv box add ./srv/test/gone.json --box-version 1.0
expect_eq "a box from a catalog that will vanish" 0 "$RC"
rm srv/test/gone.json
run_vmenv box outdated --global
expect_eq "outdated --global with one failing catalog still succeeds" 0 "$RC"
case $OUT in *"box 'test/cat' (1.1) is up to date"*"box 'test/gone' (1.0): cannot check:"*) ok 0 "reports each box";; *) ok 1 "outdated: $OUT $ERR";; esac

# --- a bare name through $VMENV_BOX_SERVER (here a file:// base)
run_vmenv box add test/other
expect_eq "a bare name the registry (VAGRANT_SERVER_URL, a closed port) cannot answer exits 76" 76 "$RC"
case $ERR in *"cannot look up box 'test/other' at 'http://127.0.0.1:9'"*"api/v2/vagrant/test/other"*"VAGRANT_SERVER_URL"*) ok 0 "names the server, the API form and the setting";; *) ok 1 "hint: $ERR";; esac
cp srv/test/cat.json srv/test/other.json
sed -i 's|"test/cat"|"test/other"|' srv/test/other.json
VMENV_BOX_SERVER="file://$T_TMP/srv" run_vmenv box add test/other --box-version "~> 1.0"
expect_eq "a bare name via VMENV_BOX_SERVER" "box 'test/other' (1.1) is in the store" "$OUT"

# --- project-aware outdated (needs the vmenv.yaml parser)
mkdir proj && cd proj
printf 'box: test/cat\nbox_version: "< 1.1"\nbox_url: %s\n' "$T_TMP/srv/test/cat.json" > vmenv.yaml
run_vmenv box outdated
if [ "$RC" -eq 70 ] && [[ $ERR == *"not built yet"* ]]; then
    ok 0 "# SKIP vmenv.yaml parser not built yet"
else
    expect_eq "box outdated in a project" "box 'test/cat' (1.0) is up to date" "$OUT"
    run_vmenv box remove test/cat --box-version 1.1
    printf 'box: test/cat\nbox_version: ">= 1.0"\nbox_url: %s\n' "$T_TMP/srv/test/cat.json" > vmenv.yaml
    run_vmenv box outdated
    expect_eq "box outdated in a project, newer in range" "box 'test/cat' (1.0) is outdated: 1.1 is available" "$OUT"
    run_vmenv box update
    expect_eq "box update in a project" "box 'test/cat' (1.1) is the newest matching '>= 1.0'" "$OUT"
    check "1.1 is stored again" -- test -d "$VMENV_HOME/boxes/test-VAGRANTSLASH-cat/1.1/libvirt"
    # no box_url: the catalog the stored box came from (then the registry)
    printf 'box: test/other\n' > vmenv.yaml
    run_vmenv box outdated
    expect_eq "box outdated without box_url uses the stored box's catalog" "box 'test/other' (1.1) is up to date" "$OUT"
    run_vmenv box update
    expect_eq "box update without box_url uses it too" "box 'test/other' (1.1) is the newest matching 'any'" "$OUT"
    printf 'box: test/never-added\n' > vmenv.yaml
    run_vmenv box update
    expect_eq "a box never added is asked at the registry (a closed port here)" 76 "$RC"
fi
cd ..

done_testing
