/* Private networks in the guest, the way Vagrant's guest plugins do it: the
 * NIC is found by its MAC (names differ between systems), the guest's own
 * network system gets a persistent configuration for it, and it is brought
 * up now. Run after every boot, so a changed address (reload) is applied. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmenv/cleanup.h"
#include "vmenv/log.h"
#include "vmenv/privnet.h"
#include "vmenv/ssh.h"
#include "vmenv/util.h"

/* The part that does not depend on the machine. $1 MAC, $2 ADDRESS/PREFIX,
 * $3 the network's name (a-z, 0-9, '-': safe in file names). */
static const char script_head[] =
    "set -e\n"
    "umask 022\n"
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    "nic_of() {\n"
    "  for d in /sys/class/net/*; do\n"
    "    [ \"$(cat \"$d/address\" 2>/dev/null)\" = \"$1\" ] && { echo \"${d##*/}\"; return 0; }\n"
    "  done\n"
    "  return 1\n"
    "}\n"
    "kind=busybox\n"
    "if command -v netplan >/dev/null 2>&1 && [ -d /etc/netplan ]; then kind=netplan\n"
    "elif [ -d /run/systemd/system ] && systemctl is-active -q systemd-networkd 2>/dev/null; "
    "then kind=networkd\n"
    "elif command -v nmcli >/dev/null 2>&1 && nmcli -t -f RUNNING general 2>/dev/null | "
    "grep -q running; then kind=nm\n"
    "elif [ -f /etc/network/interfaces ] && command -v ifup >/dev/null 2>&1 && "
    "! readlink -f \"$(command -v ifup)\" | grep -q busybox; then kind=ifupdown\n"
    "fi\n"
    "configure() {\n"
    "  mac=$1 addr=$2 net=$3 i=0\n"
    "  while ! nic=$(nic_of \"$mac\"); do\n"
    "    i=$((i + 1))\n"
    "    if [ $i -gt 100 ]; then echo \"no network card with MAC $mac\" >&2; exit 3; fi\n"
    "    sleep 0.1\n"
    "  done\n"
    "  case $kind in\n"
    "  netplan)\n"
    "    f=/etc/netplan/60-vmenv-$net.yaml\n"
    "    printf 'network:\\n  version: 2\\n  ethernets:\\n    vmenv-%s:\\n      match:\\n"
    "        macaddress: \"%s\"\\n      addresses: [\"%s\"]\\n' \"$net\" \"$mac\" \"$addr\" "
    ">\"$f\"\n"
    "    chmod 600 \"$f\"\n"
    "    netplan apply ;;\n"
    "  networkd)\n"
    "    printf '[Match]\\nMACAddress=%s\\n\\n[Network]\\nAddress=%s\\n' \"$mac\" \"$addr\" "
    ">/etc/systemd/network/50-vmenv-$net.network\n"
    "    networkctl reload\n"
    "    networkctl reconfigure \"$nic\" ;;\n"
    "  nm)\n"
    "    nmcli connection delete \"vmenv-$net\" >/dev/null 2>&1 || true\n"
    "    nmcli connection add type ethernet con-name \"vmenv-$net\" ifname \"$nic\" "
    "ipv4.method manual ipv4.addresses \"$addr\" ipv6.method ignore >/dev/null\n"
    "    nmcli connection up \"vmenv-$net\" >/dev/null ;;\n"
    "  ifupdown)\n"
    "    f=/etc/network/interfaces.d/vmenv-$net\n"
    "    mkdir -p /etc/network/interfaces.d\n"
    "    grep -qs '^source.*/etc/network/interfaces.d' /etc/network/interfaces || "
    "echo 'source /etc/network/interfaces.d/*' >>/etc/network/interfaces\n"
    /* down with the old file, so that the old address goes */
    "    [ -f \"$f\" ] && ifdown --force \"$nic\" >/dev/null 2>&1 || true\n"
    "    printf '# written by vmenv: private network %s\\nauto %s\\niface %s inet static\\n"
    "    address %s\\n' \"$net\" \"$nic\" \"$nic\" \"$addr\" >\"$f\"\n"
    "    ifup \"$nic\" ;;\n"
    "  *)\n"
    /* busybox: no network system to write for; vmenv applies it at every boot */
    "    ip addr flush dev \"$nic\"\n"
    "    ip addr add \"$addr\" dev \"$nic\"\n"
    "    ip link set \"$nic\" up ;;\n"
    "  esac\n"
    "}\n";

char *vmenv_privnet_guest_script(const struct vmenv_machine_config *m,
                                 const struct vmenv_privnet_plan *plans, size_t n)
{
        struct vmenv_buf b = {0};

        vmenv_buf_puts(&b, script_head);
        for (size_t i = 0; i < m->n_privnets; i++) {
                const struct vmenv_privnet_member *me =
                    vmenv_privnet_member(plans, n, m->privnets[i].name, m->name);
                const struct vmenv_network_def *d = NULL;
                _cleanup_free_ char *addr = NULL, *qmac = NULL, *qaddr = NULL, *qnet = NULL;
                for (size_t k = 0; k < n; k++)
                        if (!strcmp(plans[k].net->name, m->privnets[i].name))
                                d = plans[k].net;
                if (!me || !d)
                        continue;
                addr = vmenv_strdupf("%s/%d", me->ip, d->prefix);
                qmac = vmenv_shell_quote(me->mac);
                qaddr = vmenv_shell_quote(addr);
                qnet = vmenv_shell_quote(m->privnets[i].name);
                vmenv_buf_printf(&b, "configure %s %s %s\n", qmac, qaddr, qnet);
        }
        /* names: a block of /etc/hosts, replaced as a whole */
        vmenv_buf_puts(&b, "{\n  grep -v ' # vmenv-privnet$' /etc/hosts || true\n");
        for (size_t i = 0; i < m->n_privnets; i++)
                for (size_t k = 0; k < n; k++) {
                        if (strcmp(plans[k].net->name, m->privnets[i].name))
                                continue;
                        for (size_t j = 0; j < plans[k].n_members; j++) {
                                const struct vmenv_privnet_member *o = &plans[k].members[j];
                                _cleanup_free_ char *line =
                                    vmenv_strdupf("%s\t%s %s.%s # vmenv-privnet", o->ip, o->machine,
                                                  o->machine, plans[k].dns_domain);
                                _cleanup_free_ char *q = vmenv_shell_quote(line);
                                vmenv_buf_printf(&b, "  echo %s\n", q);
                        }
                }
        vmenv_buf_puts(&b, "} >/etc/hosts.vmenv-new\n"
                           "cat /etc/hosts.vmenv-new >/etc/hosts\n"
                           "rm -f /etc/hosts.vmenv-new\n");
        return vmenv_buf_steal(&b);
}

int vmenv_privnet_guest_configure(const struct vmenv_config *c,
                                  const struct vmenv_machine_config *m, struct vmenv_ssh *s,
                                  vmenv_error *err)
{
        struct vmenv_privnet_plan *plans = NULL;
        _cleanup_free_ char *script = NULL;
        size_t n = 0;
        int status = 0, r;

        if (!m->n_privnets)
                return 0;
        if (vmenv_privnet_plan(c, NULL, NULL, &plans, &n, err) < 0)
                return vmenv_error_prefix(err, "machine '%s'", m->name);
        script = vmenv_privnet_guest_script(m, plans, n);
        r = vmenv_ssh_exec(s, "sudo -n sh -s", script, strlen(script), -1, STDERR_FILENO, &status,
                           err);
        if (r == 0 && status != 0) {
                vmenv_error_set(err, VMENV_EXIT_FAILURE,
                                "machine '%s': cannot configure its private networks in the "
                                "guest (exit status %d)",
                                m->name, status);
                vmenv_error_hint(err, "the guest's message is above; see docs/networking.md for "
                                      "the systems vmenv knows");
                r = -1;
        }
        for (size_t i = 0; r == 0 && i < m->n_privnets; i++) {
                const struct vmenv_privnet_member *me =
                    vmenv_privnet_member(plans, n, m->privnets[i].name, m->name);
                if (me)
                        vmenv_info("%s: private network '%s': %s", m->name, m->privnets[i].name,
                                   me->ip);
        }
        vmenv_privnet_plan_free(plans, n);
        return r;
}
