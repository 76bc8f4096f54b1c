# Helpers for the box tests (sourced after tests/lib.sh): an HTTP server on
# 127.0.0.1 started by the test, small real boxes, store snapshots.
SERVER_PY="$VMENV_SRCDIR/tests/fixtures/http/server.py"

# start_server MODE [RATE [TLS-CERT TLS-KEY]]: sets PORT, BASE, SRV_LOG;
# serves $T_TMP/www
start_server() {
    mkdir -p "$T_TMP/www"
    SRV_LOG="$T_TMP/server.log"
    : > "$SRV_LOG"
    rm -f "$T_TMP/port"
    local tls=() scheme=http
    if [ $# -ge 4 ]; then tls=(--tls "$3" "$4"); scheme=https; fi
    python3 "$SERVER_PY" --root "$T_TMP/www" --port-file "$T_TMP/port" --log "$SRV_LOG" \
        --mode "$1" --rate "${2:-0}" "${tls[@]}" &
    local pid=$!
    on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    for _ in $(seq 100); do [ -s "$T_TMP/port" ] && break; sleep 0.05; done
    PORT=$(cat "$T_TMP/port")
    BASE="$scheme://127.0.0.1:$PORT"
}
# server_control mode NAME | rate N
server_control() { curl -sf "$BASE/control/$1/$2" >/dev/null; }

# make_box DIR SIZE_MIB [FORMAT]: DIR/box.img with random data, metadata.json;
# prints nothing. Then tar it yourself or use make_box_file.
make_box_dir() {
    local dir=$1 mib=$2 fmt=${3:-qcow2}
    mkdir -p "$dir"
    head -c "$((mib * 1024 * 1024))" /dev/urandom > "$dir/raw"
    if [ "$fmt" = qcow2 ]; then
        qemu-img convert -q -f raw -O qcow2 "$dir/raw" "$dir/box.img"; rm -f "$dir/raw"
    else
        mv "$dir/raw" "$dir/box.img"
    fi
    printf '{"provider": "libvirt", "format": "%s", "virtual_size": 1}\n' "$fmt" > "$dir/metadata.json"
    echo "# test box" > "$dir/Vagrantfile"
}
# make_box_file OUT.box SIZE_MIB [tar flags]
make_box_file() {
    local out=$1 d
    d=$(mktemp -d "$T_TMP/boxsrc.XXXXXX")
    make_box_dir "$d" "$2"
    tar -C "$d" ${3:-} -cf "$out" metadata.json box.img Vagrantfile
    rm -rf "$d"
}
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# A sorted listing of the store (paths + sizes), to compare before/after.
store_listing() {
    (cd "$VMENV_HOME" 2>/dev/null && find boxes -printf '%p %s\n' 2>/dev/null | sort) || true
}
# Files left in the store's temp folder (should be none after any command).
tmp_debris() { find "$VMENV_HOME/tmp" -mindepth 1 2>/dev/null | wc -l; }
# The cache files for a URL (same key as the fetcher: sha256 of the URL, 32 hex).
cache_key() { printf '%s' "$1" | sha256sum | cut -c1-32; }
