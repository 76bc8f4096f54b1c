# A real OpenSSH server on 127.0.0.1 for the sync tests and benchmark.
# Source after tests/lib.sh (or define on_exit yourself). start_sshd sets
# SSHD_PORT, SSHD_KEY (a root login key) and SSHD_BB_KEY (a second root key
# whose sessions get a PATH of busybox applets only, like a tiny box).
# The server is killed by the pid we started, on exit.

sshd_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_sshd() { # start_sshd DIR
    local d=$1 bb=$1/bb-bin a
    mkdir -p "$d" "$bb" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -C host -f "$d/host_key"
    ssh-keygen -q -t ed25519 -N '' -C sync-test -f "$d/key"
    ssh-keygen -q -t ed25519 -N '' -C sync-test-busybox -f "$d/bb_key"
    if [ -x /bin/busybox ]; then
        for a in sh find stat readlink printf tar mkdir rm id chown cat mktemp mv dirname chmod sleep touch; do
            ln -sf /bin/busybox "$bb/$a"
        done
    fi
    {
        cat "$d/key.pub"
        # sudo is not a busybox applet: it stays reachable after the applets.
        printf 'environment="PATH=%s:/usr/bin:/bin" %s\n' "$bb" "$(cat "$d/bb_key.pub")"
    } >"$d/authorized_keys"
    SSHD_PORT=$(sshd_free_port)
    cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $d/host_key
AuthorizedKeysFile $d/authorized_keys
PermitRootLogin prohibit-password
PermitUserEnvironment yes
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
PidFile $d/sshd.pid
MaxStartups 100
MaxSessions 100
EOF
    /usr/sbin/sshd -D -e -f "$d/sshd_config" >"$d/sshd.log" 2>&1 &
    SSHD_PID=$!
    on_exit "kill $SSHD_PID 2>/dev/null; wait $SSHD_PID 2>/dev/null"
    SSHD_KEY=$d/key
    SSHD_BB_KEY=$d/bb_key
    local i
    for i in $(seq 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $SSHD_PORT), 1)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "# sshd did not start:"; sed 's/^/#   /' "$d/sshd.log"
    return 1
}

# Options for the system ssh client against this server.
sshd_ssh_opts() { # sshd_ssh_opts KEY
    echo "-i $1 -p $SSHD_PORT -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes"
}
