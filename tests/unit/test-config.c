/* vmenv.yaml: parsing, inheritance, defaults, every key, name rules, limits,
 * finding the file and the JSON view. Error wording is covered in depth by the
 * golden corpus in tests/config/bad (run by tests/integration/config.sh). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "vmenv/cleanup.h"
#include "vmenv/config.h"
#include "vmenv/log.h"
#include "vmenv/state.h"
#include "vmenv/util.h"

static struct vmenv_config *parse(const char *yaml, vmenv_error *err)
{
        vmenv_error_clear(err);
        return vmenv_config_parse(yaml, strlen(yaml), "vmenv.yaml", err);
}

/* Parses text that must fail; returns the message (static storage). */
static const char *parse_err(const char *yaml)
{
        static char msg[1024];
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = parse(yaml, &err);

        if (c) {
                vmenv_config_free(c);
                return "(parsed)";
        }
        snprintf(msg, sizeof(msg), "%d %s", err.code, err.msg ? err.msg : "(no message)");
        vmenv_error_clear(&err);
        return msg;
}

static void test_defaults(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = parse("box: vmenv/tiny\n", &err);
        const struct vmenv_machine_config *m;

        if (!ok(c != NULL, "a file with only a box parses")) {
                printf("# %s\n", err.msg);
                return;
        }
        ok(c->n_machines == 1, "one machine");
        m = &c->machines[0];
        is_str(m->name, "default", "without machines: the machine is 'default'");
        is_str(m->box, "vmenv/tiny", "box");
        ok(m->cpus == 1, "cpus defaults to 1");
        ok(m->memory == 512ull << 20, "memory defaults to 512M");
        ok(m->disk == 0, "disk defaults to 0 (the box's size)");
        is_str(m->hostname, "default", "hostname defaults to the machine name");
        ok(m->boot_timeout == 300, "boot_timeout defaults to 300");
        is_str(m->network, "user", "network defaults to user");
        is_str(m->ssh.user, "vagrant", "ssh.user defaults to vagrant");
        ok(m->ssh.port == 22, "ssh.port defaults to 22");
        ok(m->ssh.private_key == NULL, "no private key by default");
        is_str(m->libvirt.machine_type, "q35", "libvirt.machine_type defaults to q35");
        ok(!m->libvirt.uri && !m->libvirt.cpu_mode && !m->libvirt.storage_pool &&
               !m->libvirt.video && !m->libvirt.graphics,
           "other libvirt settings default to unset");
        ok(!m->primary && !m->n_forwards && !m->n_folders && !m->n_provisioners,
           "no ports, folders or provisioners by default");
        ok(m->where.line == 1 && m->where.column == 1, "the default machine is at 1:1");
        ok(vmenv_config_machine(c, "default") == m, "vmenv_config_machine finds it");
        ok(vmenv_config_machine(c, "web") == NULL, "and not a missing one");
        vmenv_config_free(c);
}

static const char every_key[] =
    "box: vmenv/tiny\n"
    "box_version: \">= 1.0, < 2\"\n"
    "box_url: https://example.org/catalog.json\n"
    "box_checksum: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
    "cpus: 2\n"
    "memory: 1.5G\n"
    "disk: 20G\n"
    "hostname: build.example\n"
    "boot_timeout: 120\n"
    "network: user\n"
    "forwarded_ports:\n"
    "  - { guest: 80, host: 8080 }\n"
    "  - { guest: 53, host: 5353, host_ip: \"::1\", protocol: udp, auto_correct: true, id: dns }\n"
    "synced_folders:\n"
    "  - { host: ., guest: /vagrant, type: rsync, exclude: [.git, build] }\n"
    "  - { host: data, guest: /data, type: 9p, disabled: true }\n"
    "provision:\n"
    "  - name: deps\n"
    "    shell: |\n"
    "      apk add nginx\n"
    "    env: { A: one, TOKEN: { value: s3cret, sensitive: true }, EMPTY: }\n"
    "    privileged: false\n"
    "  - script: setup.sh\n"
    "    args: [--fast, \"two words\"]\n"
    "    run: always\n"
    "  - file: { source: nginx.conf, destination: /etc/nginx/nginx.conf }\n"
    "    run: never\n"
    "  - file: motd\n"
    "    destination: /etc/motd\n"
    "ssh: { user: alpine, port: 2222, private_key: /keys/id }\n"
    "kernel: vmlinuz\n"
    "initrd: initrd.img\n"
    "cmdline: console=ttyS0\n"
    "libvirt:\n"
    "  uri: qemu:///session\n"
    "  machine_type: pc\n"
    "  cpu_mode: host-model\n"
    "  storage_pool: fast\n"
    "  video: virtio\n"
    "  graphics: vnc\n";

static void test_every_key(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = parse(every_key, &err);
        const struct vmenv_machine_config *m;
        const struct vmenv_provisioner *p;

        if (!ok(c != NULL, "a file with every key parses")) {
                printf("# %s\n", err.msg);
                vmenv_error_clear(&err);
                return;
        }
        m = &c->machines[0];
        is_str(m->box_version, ">= 1.0, < 2", "box_version");
        is_str(m->box_url, "https://example.org/catalog.json", "box_url");
        ok(vmenv_startswith(m->box_checksum, "sha256:0123"), "box_checksum");
        ok(m->cpus == 2, "cpus");
        ok(m->memory == 1536ull << 20, "memory 1.5G in bytes");
        ok(m->disk == 20ull << 30, "disk 20G in bytes");
        is_str(m->hostname, "build.example", "hostname");
        ok(m->boot_timeout == 120, "boot_timeout");
        is_str(m->network, "user", "network");
        ok(m->n_forwards == 2, "two forwarded ports");
        ok(m->forwards[0].guest == 80 && m->forwards[0].host == 8080, "guest and host ports");
        is_str(m->forwards[0].host_ip, "127.0.0.1", "host_ip defaults to 127.0.0.1");
        is_str(m->forwards[0].protocol, "tcp", "protocol defaults to tcp");
        ok(!m->forwards[0].auto_correct && !m->forwards[0].id, "auto_correct and id default off");
        is_str(m->forwards[1].host_ip, "::1", "an IPv6 host_ip");
        is_str(m->forwards[1].protocol, "udp", "protocol udp");
        ok(m->forwards[1].auto_correct, "auto_correct");
        is_str(m->forwards[1].id, "dns", "id");
        ok(m->forwards[1].where.line == 13 && m->forwards[1].where.column == 5,
           "a forward records where it was written");
        ok(m->n_folders == 2, "two synced folders");
        is_str(m->folders[0].type, "rsync", "folder type");
        ok(vmenv_strv_len(m->folders[0].exclude) == 2 && !strcmp(m->folders[0].exclude[1], "build"),
           "exclude list");
        ok(m->folders[1].disabled && !strcmp(m->folders[1].type, "9p"), "disabled 9p folder");
        ok(m->n_provisioners == 4, "four provisioners");
        p = &m->provisioners[0];
        ok(p->kind == VMENV_PROV_SHELL, "shell provisioner");
        is_str(p->inline_text, "apk add nginx\n", "inline shell text");
        ok(!p->privileged, "privileged: false");
        ok(p->run == VMENV_RUN_ONCE, "run defaults to once");
        ok(p->n_env == 3, "three env variables");
        ok(!strcmp(p->env[0].name, "A") && !strcmp(p->env[0].value, "one") && !p->env[0].sensitive,
           "plain env value");
        ok(!strcmp(p->env[1].value, "s3cret") && p->env[1].sensitive, "sensitive env value");
        is_str(p->env[2].value, "", "an empty env value");
        p = &m->provisioners[1];
        is_str(p->name, "shell-2", "default name shell-N, 1-based");
        is_str(p->path, "setup.sh", "script path");
        ok(vmenv_strv_len(p->args) == 2 && !strcmp(p->args[1], "two words"), "args");
        ok(p->privileged, "privileged defaults to true");
        ok(p->run == VMENV_RUN_ALWAYS, "run: always");
        p = &m->provisioners[2];
        ok(p->kind == VMENV_PROV_FILE, "file provisioner");
        is_str(p->name, "file-3", "default name file-N");
        is_str(p->source, "nginx.conf", "file source");
        is_str(p->destination, "/etc/nginx/nginx.conf", "file destination");
        ok(p->run == VMENV_RUN_NEVER, "run: never");
        p = &m->provisioners[3];
        ok(p->kind == VMENV_PROV_FILE && !strcmp(p->source, "motd") &&
               !strcmp(p->destination, "/etc/motd"),
           "the short form 'file: SRC' + destination");
        is_str(m->ssh.user, "alpine", "ssh.user");
        ok(m->ssh.port == 2222, "ssh.port");
        is_str(m->ssh.private_key, "/keys/id", "ssh.private_key");
        is_str(m->kernel, "vmlinuz", "kernel");
        is_str(m->initrd, "initrd.img", "initrd");
        is_str(m->cmdline, "console=ttyS0", "cmdline");
        is_str(m->libvirt.uri, "qemu:///session", "libvirt.uri");
        is_str(m->libvirt.machine_type, "pc", "libvirt.machine_type");
        is_str(m->libvirt.cpu_mode, "host-model", "libvirt.cpu_mode");
        is_str(m->libvirt.storage_pool, "fast", "libvirt.storage_pool");
        is_str(m->libvirt.video, "virtio", "libvirt.video");
        is_str(m->libvirt.graphics, "vnc", "libvirt.graphics");
        vmenv_config_free(c);
}

static void test_inheritance(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c =
            parse("box: vmenv/tiny\n"
                  "memory: 1G\n"
                  "cpus: 2\n"
                  "synced_folders: [{ host: ., guest: /vagrant }]\n"
                  "provision: [{ shell: echo top }]\n"
                  "ssh: { user: alpine, port: 2200 }\n"
                  "libvirt: { machine_type: pc, video: vga }\n"
                  "machines:\n"
                  "  web:\n"
                  "    primary: true\n"
                  "    memory: 2G\n"
                  "    synced_folders: []\n"
                  "    ssh: { port: 2222 }\n"
                  "    libvirt: { video: none, graphics: spice }\n"
                  "  db: {}\n"
                  "  cache:\n"
                  "    box: other/box\n"
                  "    hostname: redis\n"
                  "    provision: [{ shell: echo mine }, { shell: echo two }]\n",
                  &err);
        const struct vmenv_machine_config *web, *db, *cache;

        if (!ok(c != NULL, "a file with three machines parses")) {
                printf("# %s\n", err.msg);
                vmenv_error_clear(&err);
                return;
        }
        ok(c->n_machines == 3, "three machines");
        web = &c->machines[0], db = &c->machines[1], cache = &c->machines[2];
        ok(!strcmp(web->name, "web") && !strcmp(db->name, "db") && !strcmp(cache->name, "cache"),
           "machines keep the file's order");
        ok(web->primary && !db->primary && !cache->primary, "primary: true marks only web");
        ok(web->memory == 2ull << 30 && db->memory == 1ull << 30, "memory: override and default");
        ok(web->cpus == 2 && db->cpus == 2 && cache->cpus == 2, "cpus inherited by all");
        ok(web->n_folders == 0 && db->n_folders == 1, "an override of a list replaces it");
        ok(cache->n_provisioners == 2 && !strcmp(cache->provisioners[0].inline_text, "echo mine"),
           "provision list replaced, not appended");
        ok(db->n_provisioners == 1 && !strcmp(db->provisioners[0].inline_text, "echo top"),
           "provision list inherited");
        ok(web->ssh.port == 2222 && !strcmp(web->ssh.user, "alpine"), "ssh merges key by key");
        ok(db->ssh.port == 2200, "ssh inherited whole");
        ok(!strcmp(web->libvirt.machine_type, "pc") && !web->libvirt.video &&
               !strcmp(web->libvirt.graphics, "spice"),
           "libvirt merges key by key, 'none' clears");
        ok(!strcmp(db->libvirt.video, "vga"), "libvirt inherited");
        is_str(cache->box, "other/box", "box override");
        is_str(db->box, "vmenv/tiny", "box inherited");
        is_str(cache->hostname, "redis", "hostname override");
        is_str(db->hostname, "db", "hostname defaults to each machine's name");
        ok(web->where.line == 9 && web->where.column == 3, "a machine records its line");
        vmenv_config_free(c);

        c = parse("box: b\nmachines:\n  web:\n", &err);
        ok(c && c->n_machines == 1 && !strcmp(c->machines[0].box, "b"),
           "a machine with an empty body inherits everything");
        vmenv_config_free(c);
        c = parse("machines:\n  a: { box: x }\n  b: { box: y }\n", &err);
        ok(c && !strcmp(c->machines[1].box, "y"), "each machine may name its own box");
        vmenv_config_free(c);
        vmenv_error_clear(&err);
}

static void test_names(void)
{
        static const struct {
                const char *name;
                bool valid;
        } cases[] = {
            {"web", true},
            {"a", true},
            {"0db", true},
            {"web-1", true},
            {"a-b-c", true},
            {"", false},
            {"Web", false},
            {"-web", false},
            {"web-", false},
            {"we_b", false},
            {"we.b", false},
            {"wéb", false},
            {"web 1", false},
            {"abcdefghijklmnopqrstuvwxyz012345", true},
            {"abcdefghijklmnopqrstuvwxyz0123456", false},
        };

        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++)
                ok(vmenv_machine_name_valid(cases[i].name) == cases[i].valid,
                   "machine name '%s' is %s", cases[i].name, cases[i].valid ? "valid" : "invalid");
        ok(!vmenv_machine_name_valid(NULL), "NULL is not a name");
}

static void test_errors(void)
{
        static const struct {
                const char *yaml, *want;
        } cases[] = {
            {"box: b\nmemory: lots\n",
             "78 vmenv.yaml:2:9: memory: expected a size like 512M or 2G, got \"lots\""},
            {"box: b\nmachines:\n  web:\n    memory: 8M\n",
             "78 vmenv.yaml:4:13: machines.web.memory: 8M is less than the minimum of 16M"},
            {"box: b\nmemory: 2T\n",
             "78 vmenv.yaml:2:9: memory: 2T is more than the maximum of 1T"},
            {"box: b\nmemory: 1024\n",
             "78 vmenv.yaml:2:9: memory: 1024 bytes is less than the minimum of 16M; did "
             "you mean 1024M?"},
            {"box: b\ndisk: 17T\n", "78 vmenv.yaml:2:7: disk: 17T is more than the maximum of 16T"},
            {"box: b\ncpus: 0\n", "78 vmenv.yaml:2:7: cpus: 0 is out of range (1 to 256)"},
            {"box: b\ncpus: 257\n", "78 vmenv.yaml:2:7: cpus: 257 is out of range (1 to 256)"},
            {"box: b\ncpus: two\n",
             "78 vmenv.yaml:2:7: cpus: expected a number of CPUs, got \"two\""},
            {"box: b\ncpus: [1]\n",
             "78 vmenv.yaml:2:7: cpus: expected a number of CPUs, got a list"},
            {"box: b\nmemroy: 1G\n",
             "78 vmenv.yaml:2:1: memroy: unknown key; did you mean 'memory'?"},
            {"box: b\nbox: c\n", "78 vmenv.yaml:2:1: box: duplicate key (first given on line 1)"},
            {"machines:\n  web: {}\n", "78 vmenv.yaml:2:3: machines.web: machine 'web' has no box"},
            {"memory: 1G\n", "78 vmenv.yaml:1:1: no box: say which box to boot"},
            {"box: b\nmachines:\n  Web: {}\n",
             "78 vmenv.yaml:3:3: machines.Web: invalid machine name: use a-z, 0-9 and '-', "
             "starting with a letter or digit, at most 32 characters, not ending in '-'"},
            {"box: b\nnetwork: bridge\n",
             "78 vmenv.yaml:2:10: network: \"bridge\" is not one of user or nat"},
            {"box: b\nnetwork: nat\nforwarded_ports: [{guest: 80, host: 8080}]\n",
             "78 vmenv.yaml:3:19: forwarded_ports[0]: forwarded ports need 'network: user', and "
             "machine 'default' has 'network: nat'"},
            {"box: b\nforwarded_ports: [{guest: 80, host: 70000}]\n",
             "78 vmenv.yaml:2:37: forwarded_ports[0].host: 70000 is out of range (1 to 65535)"},
            {"box: b\nmachines:\n  a: {forwarded_ports: [{guest: 80, host: 8080}]}\n"
             "  b: {forwarded_ports: [{guest: 81, host: 8080}]}\n",
             "78 vmenv.yaml:4:25: machines.b.forwarded_ports[0]: host port 8080/tcp on "
             "127.0.0.1 is already forwarded by machine 'a'"},
            {"box: b\nprovision: [{shell: x, script: y}]\n",
             "78 vmenv.yaml:2:24: provision[0]: give either 'shell' or 'script', not both"},
            {"box: b\nprovision: [{file: {source: a}}]\n",
             "78 vmenv.yaml:2:14: provision[0]: a file provisioner needs a 'destination'"},
            {"box: b\nprovision: [{shell: x, run: twice}]\n",
             "78 vmenv.yaml:2:29: provision[0].run: \"twice\" is not one of once, always or never"},
            {"a: &x 1\n",
             "78 vmenv.yaml:1:4: YAML anchors (&x) are not supported: write the value out"},
            {"box: [\n", "78 vmenv.yaml:2:1: invalid YAML: did not find expected node content "
                         "(while parsing a flow node started on line 2)"},
            {"", "78 vmenv.yaml:1:1: the file is empty"},
            {"- box\n",
             "78 vmenv.yaml:1:1: expected a mapping of keys (box: ..., memory: ...), got a list"},
            {"box: b\nmachines:\n  a: {primary: true}\n  b: {primary: true}\n",
             "78 vmenv.yaml:4:3: machines.b.primary: machine 'a' is already primary"},
            {"box: b\nprimary: true\n",
             "78 vmenv.yaml:2:1: primary: 'primary' marks one of several machines: put it "
             "under machines.NAME"},
        };

        for (size_t i = 0; i < VMENV_ARRAY_SIZE(cases); i++)
                is_str(parse_err(cases[i].yaml), cases[i].want, cases[i].want + 3);
}

static void test_limits(void)
{
        struct vmenv_buf b = {0};
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c;

        /* billion laughs: refused at the first anchor, before any expansion */
        vmenv_buf_puts(&b, "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (char ch = 'b'; ch <= 'j'; ch++)
                vmenv_buf_printf(&b, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", ch, ch,
                                 ch - 1, ch - 1, ch - 1, ch - 1, ch - 1, ch - 1, ch - 1, ch - 1,
                                 ch - 1);
        c = vmenv_config_parse(b.data, b.len, "vmenv.yaml", &err);
        ok(!c && err.code == VMENV_EXIT_CONFIG && strstr(err.msg, "anchors"),
           "billion laughs is refused at its first anchor");
        vmenv_buf_free(&b);
        vmenv_error_clear(&err);

        for (int i = 0; i < 40; i++)
                vmenv_buf_puts(&b, "[");
        c = vmenv_config_parse(b.data, b.len, "vmenv.yaml", &err);
        ok(!c && err.msg && strstr(err.msg, "nested too deeply"),
           "nesting beyond the limit is refused");
        vmenv_buf_free(&b);
        vmenv_error_clear(&err);

        vmenv_buf_puts(&b, "box: b\nmachines:\n");
        for (int i = 0; i <= VMENV_CONFIG_MAX_MACHINES; i++)
                vmenv_buf_printf(&b, "  m%d: {}\n", i);
        c = vmenv_config_parse(b.data, b.len, "vmenv.yaml", &err);
        ok(!c && err.msg && strstr(err.msg, "too many machines (the limit is 64)"),
           "more than %d machines are refused", VMENV_CONFIG_MAX_MACHINES);
        vmenv_buf_free(&b);
        vmenv_error_clear(&err);

        {
                size_t n = VMENV_CONFIG_MAX_BYTES + 1;
                char *big = vmenv_malloc(n);
                memset(big, '#', n);
                c = vmenv_config_parse(big, n, "vmenv.yaml", &err);
                ok(!c && err.code == VMENV_EXIT_CONFIG && strstr(err.msg, "limit"),
                   "text larger than the limit is refused");
                free(big);
                vmenv_error_clear(&err);
        }
        c = vmenv_config_parse("box: b\0x", 8, "vmenv.yaml", &err);
        ok(!c && err.msg && strstr(err.msg, "NUL"), "a NUL byte is refused");
        vmenv_error_clear(&err);
}

static void test_find(void)
{
        char tmpl[] = "/tmp/vmenv-config-test.XXXXXX";
        char *root = mkdtemp(tmpl);
        _cleanup_free_ char *deep = NULL, *yaml = NULL, *found = NULL, *cwd = getcwd(NULL, 0);
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c;

        if (!ok(root != NULL, "a temporary folder"))
                return;
        deep = vmenv_strdupf("%s/My Project_2/sub/dir", root);
        vmenv_mkdir_p(deep, 0755, &err);
        yaml = vmenv_strdupf("%s/My Project_2/vmenv.yaml", root);
        vmenv_write_file_atomic(yaml, "box: b\nssh: {private_key: keys/id}\n", 34, 0644, &err);
        unsetenv("VMENV_FILE");
        found = vmenv_config_find(deep, &err);
        is_str(found, yaml, "found by walking up from a subfolder");
        free(found);
        found = NULL;

        c = vmenv_config_load_project(deep, &err);
        ok(c != NULL, "load_project from the subfolder");
        if (c) {
                _cleanup_free_ char *dir = vmenv_strdupf("%s/My Project_2", root);
                _cleanup_free_ char *key = vmenv_strdupf("%s/My Project_2/keys/id", root);
                is_str(c->dir, dir, "dir is the file's folder");
                is_str(c->project, "my-project-2", "project name is sanitised");
                is_str(c->machines[0].ssh.private_key, key,
                       "a relative private_key is resolved against the project");
        }
        vmenv_config_free(c);

        setenv("VMENV_FILE", yaml, 1);
        found = vmenv_config_find("/", &err);
        is_str(found, yaml, "VMENV_FILE overrides the search");
        free(found);
        setenv("VMENV_FILE", "/nonexistent/vmenv.yaml", 1);
        found = vmenv_config_find(deep, &err);
        ok(!found && err.code == VMENV_EXIT_CONFIG, "a missing VMENV_FILE is an error");
        unsetenv("VMENV_FILE");
        vmenv_error_clear(&err);

        found = vmenv_config_find(root, &err);
        ok(!found && err.code == VMENV_EXIT_CONFIG && err.hint &&
               !strcmp(err.hint, "run 'vmenv init' to create one"),
           "not found: config error with the init hint");
        vmenv_error_clear(&err);

        {
                _cleanup_free_ char *odd = vmenv_strdupf("%s/___", root);
                _cleanup_free_ char *oddyaml = vmenv_strdupf("%s/vmenv.yaml", odd);
                _cleanup_free_ char *longdir =
                    vmenv_strdupf("%s/A-Very-Long-Project-Name-Indeed-2024", root);
                _cleanup_free_ char *longyaml = vmenv_strdupf("%s/vmenv.yaml", longdir);
                vmenv_mkdir_p(odd, 0755, &err);
                vmenv_mkdir_p(longdir, 0755, &err);
                vmenv_write_file_atomic(oddyaml, "box: b\n", 7, 0644, &err);
                vmenv_write_file_atomic(longyaml, "box: b\n", 7, 0644, &err);
                c = vmenv_config_load(oddyaml, &err);
                is_str(c ? c->project : NULL, "project", "a name with no usable character");
                vmenv_config_free(c);
                c = vmenv_config_load(longyaml, &err);
                is_str(c ? c->project : NULL, "a-very-long-project-name", "at most 24 characters");
                vmenv_config_free(c);
        }
        {
                _cleanup_free_ char *cmd = vmenv_strdupf("rm -rf '%s'", root);
                ok(system(cmd) == 0, "cleaned up");
        }
        if (cwd && chdir(cwd) < 0)
                perror("chdir");
        vmenv_error_clear(&err);
}

static void test_json(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = parse(every_key, &err);
        _cleanup_free_ char *json = NULL;
        json_object *root, *m, *v;

        if (!c)
                return;
        vmenv_log_level = VMENV_LOG_DEBUG; /* as with -v: plain env values shown */
        json = vmenv_config_to_json(c);
        vmenv_log_level = VMENV_LOG_INFO;
        root = json_tokener_parse(json);
        ok(root != NULL, "the JSON parses");
        m = json_object_array_get_idx(json_object_object_get(root, "machines"), 0);
        ok(json_object_get_int64(json_object_object_get(m, "memory")) == 1536ll << 20,
           "memory in bytes");
        v = json_object_object_get(
            json_object_array_get_idx(json_object_object_get(m, "provision"), 0), "env");
        is_str(json_object_get_string(json_object_object_get(v, "TOKEN")), "***",
               "sensitive values are hidden");
        is_str(json_object_get_string(json_object_object_get(v, "A")), "one",
               "other values are shown");
        ok(!strstr(json, "s3cret"), "the secret appears nowhere");
        is_str(json_object_get_string(
                   json_object_object_get(json_object_object_get(m, "ssh"), "user")),
               "alpine", "nested settings");
        json_object_put(root);
        vmenv_config_free(c);
}

static const char two_nets[] = "box: vmenv/tiny\n"
                               "networks:\n"
                               "  - { type: private }\n"
                               "machines:\n"
                               "  web:\n"
                               "    networks:\n"
                               "      - { type: private, ip: 10.20.30.40, netmask: 255.255.0.0 }\n"
                               "      - { type: private, name: backend }\n"
                               "  db:\n"
                               "    networks:\n"
                               "      - { type: private, ip: 10.20.99.1/16 }\n"
                               "      - { type: private, name: backend, ip: 192.168.56.7 }\n"
                               "  cache: {}\n";

static void test_networks(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = parse(two_nets, &err);
        const struct vmenv_machine_config *m;
        const struct vmenv_network_def *d;

        if (!ok(c != NULL, "machines on two private networks parse")) {
                printf("# %s\n", err.msg);
                return;
        }
        m = vmenv_config_machine(c, "web");
        ok(m->n_privnets == 2, "web is on two networks");
        is_str(m->privnets[0].name, "private", "the network's name defaults to 'private'");
        is_str(m->privnets[0].ip, "10.20.30.40", "a fixed address");
        ok(m->privnets[0].prefix == 16, "netmask 255.255.0.0 is /16");
        ok(m->privnets[1].ip == NULL, "no ip: vmenv chooses");
        m = vmenv_config_machine(c, "db");
        is_str(m->privnets[0].ip, "10.20.99.1", "CIDR: the address without its prefix");
        ok(m->privnets[0].prefix == 16, "CIDR: the prefix");
        m = vmenv_config_machine(c, "cache");
        ok(m->n_privnets == 1 && m->privnets[0].ip == NULL, "the top-level networks are a default");
        ok(c->n_networks == 2, "two networks in the project");
        d = vmenv_config_network(c, "private");
        ok(d && d->subnet == ((10u << 24) | (20u << 16)) && d->prefix == 16,
           "the first fixed address sets the subnet 10.20.0.0/16");
        d = vmenv_config_network(c, "backend");
        ok(d && d->subnet == ((192u << 24) | (168u << 16) | (56u << 8)) && d->prefix == 24,
           "backend: 192.168.56.0/24 from db's address");
        vmenv_config_free(c);

        c = parse("box: b\nmachines:\n  a:\n    networks: [{type: private}]\n"
                  "  b:\n    networks: [{type: private, name: two}]\n",
                  &err);
        ok(c && c->n_networks == 2 && c->networks[0].subnet == 0xc0a83800u &&
               c->networks[1].subnet == 0xc0a83900u,
           "networks with no fixed address: 192.168.56.0/24, then 57");
        vmenv_config_free(c);

        static const struct {
                const char *yaml, *want;
        } bad[] = {
            {"box: b\nnetworks: [{ip: 10.0.0.2}]\n", "needs 'type'"},
            {"box: b\nnetworks: [{type: bridged}]\n", "bridged"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0}]\n", "is not an IPv4 address"},
            {"box: b\nnetworks: [{type: private, ip: 127.0.0.5}]\n", "loopback"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.2/33}]\n", "prefix length"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.2, netmask: 255.0.255.0}]\n",
             "is not a netmask"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.2/24, netmask: 16}]\n", "contradicts"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.2/31}]\n", "not supported"},
            {"box: b\nnetworks: [{type: private, netmask: 24}]\n", "needs an 'ip'"},
            {"box: b\nnetworks: [{type: private, name: Back}]\n", "invalid network name"},
            {"box: b\nnetworks: [{type: private}, {type: private}]\n",
             "already on network 'private'"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.1}]\n", "host's own address"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.0}]\n", "network address"},
            {"box: b\nnetworks: [{type: private, ip: 10.0.0.255}]\n", "broadcast address"},
            {"box: b\nmachines:\n  a:\n    networks: [{type: private, ip: 10.0.0.2}]\n"
             "  b:\n    networks: [{type: private, ip: 10.0.0.2}]\n",
             "vmenv.yaml:6:16: machines.b.networks[0].ip: 10.0.0.2 is already the address of "
             "machine 'a' (line 4)"},
            {"box: b\nmachines:\n  a:\n    networks: [{type: private, ip: 10.0.0.2}]\n"
             "  b:\n    networks: [{type: private, ip: 10.0.1.2}]\n",
             "vmenv.yaml:6:16: machines.b.networks[0].ip: 10.0.1.2 is outside network 'private' "
             "(10.0.0.0/24, set at line 4)"},
            {"box: b\nmachines:\n  a:\n    networks: [{type: private, ip: 10.0.0.2}]\n"
             "  b:\n    networks: [{type: private, ip: 10.0.0.3/25}]\n",
             "differs from the /24"},
            {"box: b\nmachines:\n  a:\n    networks: [{type: private, ip: 10.0.0.2/16}]\n"
             "  b:\n    networks: [{type: private, name: x, ip: 10.0.5.3}]\n",
             "overlaps network 'private'"},
            {"box: b\nmachines:\n  a:\n    networks: [{type: private, ip: 10.0.0.2/29}]\n"
             "  b:\n    networks: [{type: private}]\n"
             "  c:\n    networks: [{type: private}]\n"
             "  d:\n    networks: [{type: private}]\n"
             "  e:\n    networks: [{type: private}]\n"
             "  f:\n    networks: [{type: private}]\n"
             "  g:\n    networks: [{type: private}]\n",
             "has room for 5 machines"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *msg = parse_err(bad[i].yaml);
                if (!ok(strstr(msg, bad[i].want) != NULL && !strncmp(msg, "78 ", 3), "refused: %s",
                        bad[i].want))
                        printf("#   got: %s\n", msg);
        }
}

static void test_host_overlap(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c =
            parse("box: b\nnetworks:\n  - { type: private, ip: 192.168.56.10 }\n", &err);
        const struct vmenv_host_addr lo = {"lo", 0x7f000001u, 8}, other = {"eth0", 0x0a000205u, 24},
                                     same = {"eth1", 0xc0a8380au, 24},
                                     wide = {"wg0", 0xc0a00001u, 12},
                                     narrow = {"tap0", 0xc0a83881u, 30};

        if (!ok(c != NULL, "a machine with one fixed address parses"))
                return;
        CHECK(vmenv_config_check_host(c, "vmenv.yaml", (struct vmenv_host_addr[]){lo, other}, 2,
                                      &err),
              "addresses in other subnets do not overlap");
        ok(vmenv_config_check_host(c, "vmenv.yaml", &same, 1, &err) < 0 &&
               err.code == VMENV_EXIT_CONFIG &&
               !strcmp(err.msg, "vmenv.yaml:3:5: network 'private' (192.168.56.0/24) overlaps "
                                "the host's address 192.168.56.10/24 on 'eth1'") &&
               err.hint,
           "a host address in the subnet is refused at file:line, with a hint");
        ok(vmenv_config_check_host(c, "vmenv.yaml", &wide, 1, &err) < 0,
           "a host subnet holding the network is refused");
        ok(vmenv_config_check_host(c, "vmenv.yaml", &narrow, 1, &err) < 0,
           "a host subnet inside the network is refused");
        vmenv_error_clear(&err);
        vmenv_config_free(c);
}

static uint32_t subnet_of(const struct vmenv_config *c, const char *name)
{
        const struct vmenv_network_def *d = vmenv_config_network(c, name);
        return d ? d->subnet : 0;
}

#define NET(n) ((192u << 24) | (168u << 16) | ((n) << 8))

/* The subnet of a network without a fixed address skips the host's own
 * addresses: a list made here, never this host's interfaces. */
static void test_place_networks(void)
{
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_config *c = parse("box: b\nmachines:\n  a:\n    networks: [{type: private}]\n"
                                       "  b:\n    networks: [{type: private, name: two}, "
                                       "{type: private, name: fixed, ip: 192.168.58.10}]\n",
                                       &err);
        const struct vmenv_host_addr on56 = {"eth1", NET(56) | 20, 24},
                                     on60 = {"eth2", NET(60) | 9, 24},
                                     low_half = {"wg0", NET(0) | 1, 17},
                                     all = {"vpn0", NET(0) | 1, 16},
                                     on58 = {"eth3", NET(58) | 7, 24};
        struct vmenv_host_addr both[2] = {on56, on60}, bridge[2];
        char *br;

        if (!ok(c != NULL, "two networks without a fixed address and one with"))
                return;
        ok(subnet_of(c, "private") == NET(56) && subnet_of(c, "two") == NET(57) &&
               subnet_of(c, "fixed") == NET(58) && c->networks[0].automatic &&
               !vmenv_config_network(c, "fixed")->automatic,
           "parsed alone: 192.168.56.0/24 and 57, the fixed one's 58");
        vmenv_config_place_networks(c, NULL, 0);
        ok(subnet_of(c, "private") == NET(56) && subnet_of(c, "two") == NET(57),
           "no host address: the same choice");
        vmenv_config_place_networks(c, &on56, 1);
        ok(subnet_of(c, "private") == NET(57) && subnet_of(c, "two") == NET(59),
           "a host on 192.168.56.x: 57, then 59 (58 is the fixed network's)");
        vmenv_config_place_networks(c, &on56, 1);
        ok(subnet_of(c, "private") == NET(57) && subnet_of(c, "two") == NET(59),
           "the same list gives the same choice");
        vmenv_config_place_networks(c, both, 2);
        ok(subnet_of(c, "private") == NET(57) && subnet_of(c, "two") == NET(59),
           "an address in a subnet not chosen changes nothing");
        vmenv_config_place_networks(c, &low_half, 1);
        ok(subnet_of(c, "private") == NET(128) && subnet_of(c, "two") == NET(129),
           "a host route over 192.168.0.0/17: 128 and 129");
        vmenv_config_place_networks(c, &on58, 1);
        ok(subnet_of(c, "fixed") == NET(58) && subnet_of(c, "private") == NET(56),
           "a fixed network never moves (validate refuses the overlap instead)");
        vmenv_config_place_networks(c, &all, 1);
        ok(subnet_of(c, "private") == NET(56) && subnet_of(c, "two") == NET(57),
           "no free subnet: the file's choice stays");
        ok(vmenv_config_check_host(c, "vmenv.yaml", &all, 1, &err) < 0 &&
               strstr(err.msg, "overlaps the host's address"),
           "... and the host check refuses it");
        vmenv_error_clear(&err);

        /* the project's own bridge: the subnet it holds is kept while it is up */
        c->dir = vmenv_strdup("/srv/proj");
        br = vmenv_network_bridge(c, "private");
        bridge[0] = on56;
        bridge[1] = (struct vmenv_host_addr){br, NET(60) | 1, 24};
        vmenv_config_place_networks(c, bridge, 2);
        ok(subnet_of(c, "private") == NET(60) && subnet_of(c, "two") == NET(57),
           "the network's own bridge on 192.168.60.1: it keeps 60; two takes 57");
        bridge[0] = on60;
        vmenv_config_place_networks(c, bridge, 2);
        ok(subnet_of(c, "private") == NET(56) && subnet_of(c, "two") == NET(57),
           "its bridge's subnet now holds another host address: the first free one");
        free(br);
        vmenv_config_free(c);
}

int main(void)
{
        test_defaults();
        test_every_key();
        test_inheritance();
        test_names();
        test_errors();
        test_limits();
        test_find();
        test_json();
        test_networks();
        test_host_overlap();
        test_place_networks();
        return done_testing();
}
