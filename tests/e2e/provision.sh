# Provisioners on a real VM: file order, run once/always/never across up,
# provision and reload, args and env with spaces, quotes and '$', scripts
# from files, file uploads, a changed provisioner made due again, a failing
# provisioner stopping the run with its name and status.
. "$VMENV_SRCDIR/tests/e2e/lib-vm.sh"

P=$T_TMP/prov
mkdir -p "$P/conf"
printf 'echo "script ran as $(id -u) with $# args: $1|$2"\necho script >> /var/order\n' > "$P/setup.sh"
printf 'hello file\n' > "$P/conf/app.conf"
new_project "$P" "box: vmenv/tiny
box_url: $CATALOG
memory: 192M
boot_timeout: 240
provision:
  - name: first
    shell: echo first >> /var/order
  - name: script
    script: setup.sh
    args: [\"two words\", \"it's \$HOME\"]
  - name: env
    shell: 'printf \"%s\\n\" \"\$GREETING\" > /tmp/env-out; id -u > /tmp/env-uid'
    env: { GREETING: \"hi \\\"there\\\" \$USER 'q'\" }
    privileged: false
  - name: always
    shell: echo always >> /var/always
    run: always
  - name: never
    shell: echo never > /tmp/never
    run: never
  - name: upload
    file: { source: conf, destination: /tmp/conf }"
track "$P"

run_vmenv -C "$P" up
expect_eq "up with provisioners exits 0" 0 "$RC"
[ "$RC" = 0 ] || printf '# %s\n' "$ERR" | head -40
case $OUT$ERR in *"default: script ran as 0 with 2 args: two words|it's \$HOME"*) ok 0 "script output streams with the machine prefix, args quoted";; *) ok 1 "script output: $OUT $ERR";; esac

run_vmenv -C "$P" ssh -c 'cat /var/order'
expect_eq "provisioners ran in file order" "first
script" "$OUT"
run_vmenv -C "$P" ssh -c 'cat /tmp/env-out; cat /tmp/env-uid'
expect_eq "env values arrive intact; privileged: false runs as the user" "hi \"there\" \$USER 'q'
1000" "$OUT"
run_vmenv -C "$P" ssh -c 'test -e /tmp/never'
expect_eq "run: never does not run" 1 "$RC"
run_vmenv -C "$P" ssh -c 'cat /tmp/conf/app.conf'
expect_eq "a folder is uploaded by a file provisioner" "hello file" "$OUT"

run_vmenv -C "$P" up --provision
run_vmenv -C "$P" ssh -c 'wc -l < /var/always; wc -l < /var/order'
expect_eq "up --provision reruns every provisioner" "2
4" "$(echo "$OUT" | tr -d ' ')"

run_vmenv -C "$P" provision --provision-with always
run_vmenv -C "$P" ssh -c 'wc -l < /var/always; wc -l < /var/order'
expect_eq "provision --provision-with runs only that one" "3
4" "$(echo "$OUT" | tr -d ' ')"

run_vmenv -C "$P" reload
run_vmenv -C "$P" ssh -c 'wc -l < /var/always; wc -l < /var/order'
expect_eq "reload runs run: always but not the run-once ones done" "4
4" "$(echo "$OUT" | tr -d ' ')"

# a changed run-once provisioner is due again; the untouched ones are not
sed -i 's/echo first >> \/var\/order/echo first-changed >> \/var\/order/' "$P/vmenv.yaml"
run_vmenv -C "$P" halt
run_vmenv -C "$P" up
case $ERR in *"'first' changed since it last ran"*) ok 0 "a changed provisioner is said to be due again";; *) ok 1 "changed: $ERR";; esac
run_vmenv -C "$P" ssh -c 'tail -1 /var/order; wc -l < /var/order'
expect_eq "only the changed run-once provisioner ran again" "first-changed
5" "$(echo "$OUT" | tr -d ' ')"

# a failing provisioner stops the run and up fails
cat >> "$P/vmenv.yaml" <<'Y'
  - name: broken
    shell: "echo before; exit 7"
  - name: after
    shell: "echo after > /tmp/after"
Y
run_vmenv -C "$P" provision
[ "$RC" -ne 0 ]; ok $? "a failing provisioner fails the command"
case $ERR in *"provisioner 'broken'"*"exit status 7"*) ok 0 "the error names the provisioner and status";; *) ok 1 "failure message: $ERR";; esac
run_vmenv -C "$P" ssh -c 'test -e /tmp/after'
expect_eq "provisioners after the failing one did not run" 1 "$RC"

# a missing script is a clear error
sed -i 's/script: setup.sh/script: missing.sh/' "$P/vmenv.yaml"
run_vmenv -C "$P" provision --provision-with script
case $ERR in *missing.sh*) ok 0 "a missing script is named";; *) ok 1 "missing script: $ERR";; esac

"$VMENV" -C "$P" destroy -f >/dev/null 2>&1
done_testing
