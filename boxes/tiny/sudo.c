/*
 * A tiny passwordless sudo for the vmenv tiny TEST box. It is installed
 * setuid root and lets root and members of group "sudo" (the vagrant user)
 * run any command as any user without a password, as a Vagrant box's
 * "vagrant ALL=(ALL) NOPASSWD: ALL" does. It is not a security boundary:
 * never use it outside a throw-away test VM.
 *
 * Supported forms: sudo [-n] [-E] [-H] [-S] [-k] [-u USER|#UID] [-g GROUP]
 * [-i | -s] [--] [VAR=value...] [COMMAND [ARG...]], and -V/-v/-l/-h answer
 * harmlessly. Built with gcc -static at box build time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECURE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_LINE 1024

struct user {
        char name[64];
        unsigned uid, gid;
        char home[256];
        char shell[256];
};

static void die(const char *msg, const char *what)
{
        if (what)
                fprintf(stderr, "sudo: %s '%s'\n", msg, what);
        else
                fprintf(stderr, "sudo: %s\n", msg);
        exit(1);
}

/* Looks a user up in /etc/passwd by name, or by uid when name is "#N". */
static int find_user(const char *name, int by_uid, unsigned uid, struct user *u)
{
        FILE *f = fopen("/etc/passwd", "r");
        char line[MAX_LINE];
        int found = 0;

        if (!f)
                return 0;
        while (!found && fgets(line, sizeof(line), f)) {
                char *fields[7];
                char *p = line;
                int n = 0;

                line[strcspn(line, "\n")] = '\0';
                while (n < 7) {
                        fields[n++] = p;
                        p = strchr(p, ':');
                        if (!p)
                                break;
                        *p++ = '\0';
                }
                if (n < 7)
                        continue;
                if (by_uid ? (unsigned)strtoul(fields[2], NULL, 10) != uid
                           : strcmp(fields[0], name) != 0)
                        continue;
                snprintf(u->name, sizeof(u->name), "%s", fields[0]);
                u->uid = (unsigned)strtoul(fields[2], NULL, 10);
                u->gid = (unsigned)strtoul(fields[3], NULL, 10);
                snprintf(u->home, sizeof(u->home), "%s", fields[5]);
                snprintf(u->shell, sizeof(u->shell), "%s", fields[6][0] ? fields[6] : "/bin/sh");
                found = 1;
        }
        fclose(f);
        return found;
}

/* Supplementary groups of a user from /etc/group (at most 64). */
static int user_groups(const char *name, gid_t primary, gid_t *groups, int max)
{
        FILE *f = fopen("/etc/group", "r");
        char line[MAX_LINE];
        int n = 0;

        groups[n++] = primary;
        if (!f)
                return n;
        while (n < max && fgets(line, sizeof(line), f)) {
                char *name_end, *gid_s, *members, *m;

                line[strcspn(line, "\n")] = '\0';
                name_end = strchr(line, ':');
                if (!name_end)
                        continue;
                gid_s = strchr(name_end + 1, ':');
                if (!gid_s)
                        continue;
                members = strchr(gid_s + 1, ':');
                if (!members)
                        continue;
                *members++ = '\0';
                for (m = strtok(members, ","); m; m = strtok(NULL, ","))
                        if (strcmp(m, name) == 0) {
                                groups[n++] = (gid_t)strtoul(gid_s + 1, NULL, 10);
                                break;
                        }
        }
        fclose(f);
        return n;
}

static int lookup_group(const char *name, gid_t *gid)
{
        FILE *f;
        char line[MAX_LINE];
        int found = 0;

        if (name[0] == '#') {
                *gid = (gid_t)strtoul(name + 1, NULL, 10);
                return 1;
        }
        f = fopen("/etc/group", "r");
        if (!f)
                return 0;
        while (!found && fgets(line, sizeof(line), f)) {
                char *c = strchr(line, ':');
                char *g;

                if (!c)
                        continue;
                *c = '\0';
                if (strcmp(line, name) != 0)
                        continue;
                g = strchr(c + 1, ':');
                if (g) {
                        *gid = (gid_t)strtoul(g + 1, NULL, 10);
                        found = 1;
                }
        }
        fclose(f);
        return found;
}

/* May the real user use sudo? root, or a member of group "sudo". */
static int allowed(void)
{
        gid_t sudo_gid, groups[256];
        int n, i;

        if (getuid() == 0)
                return 1;
        if (!lookup_group("sudo", &sudo_gid))
                return 0;
        if (getgid() == sudo_gid)
                return 1;
        n = getgroups(256, groups);
        for (i = 0; i < n; i++)
                if (groups[i] == sudo_gid)
                        return 1;
        return 0;
}

static void setenv_or_die(const char *k, const char *v)
{
        if (setenv(k, v, 1) != 0)
                die("cannot set the environment", k);
}

int main(int argc, char **argv)
{
        const char *target = "root", *group = NULL;
        int keep_env = 0, login = 0, shell = 0, i;
        struct user u, caller;
        gid_t groups[64];
        int ngroups;
        char num[32];
        char *term, *display;

        for (i = 1; i < argc && argv[i][0] == '-'; i++) {
                const char *a = argv[i];

                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strcmp(a, "--preserve-env") == 0) {
                        keep_env = 1;
                        continue;
                }
                if (strcmp(a, "--login") == 0) {
                        login = 1;
                        continue;
                }
                if (strcmp(a, "--non-interactive") == 0)
                        continue;
                if (strncmp(a, "--user=", 7) == 0) {
                        target = a + 7;
                        continue;
                }
                if (a[1] == '-')
                        die("unknown option", a);
                for (a++; *a; a++) {
                        switch (*a) {
                        case 'n':
                        case 'H':
                        case 'S':
                        case 'k':
                        case 'P':
                        case 'A':
                        case 'b':
                                break;
                        case 'E':
                                keep_env = 1;
                                break;
                        case 'i':
                                login = 1;
                                break;
                        case 's':
                                shell = 1;
                                break;
                        case 'v':
                                return 0;
                        case 'V':
                                puts("vmenv tiny sudo (test box only)");
                                return 0;
                        case 'l':
                                puts("    (ALL : ALL) NOPASSWD: ALL");
                                return 0;
                        case 'h':
                                puts("usage: sudo [-nEHS] [-u user] [-g group] [-i|-s] [--] "
                                     "[VAR=value...] [command [arg...]]");
                                return 0;
                        case 'u':
                        case 'g': {
                                const char *val;

                                if (a[1]) {
                                        val = a + 1;
                                } else if (i + 1 < argc) {
                                        val = argv[++i];
                                } else {
                                        die("option needs a value", a);
                                }
                                if (*a == 'u')
                                        target = val;
                                else
                                        group = val;
                                a = val + strlen(val) - 1;
                                break;
                        }
                        default: {
                                char opt[3] = {'-', *a, '\0'};

                                die("unknown option", opt);
                        }
                        }
                }
        }

        if (!allowed())
                die("you are not in group sudo on this test box", NULL);
        if (!find_user(NULL, 1, getuid(), &caller))
                die("your uid is not in /etc/passwd", NULL);
        if (target[0] == '#') {
                if (!find_user(NULL, 1, (unsigned)strtoul(target + 1, NULL, 10), &u)) {
                        memset(&u, 0, sizeof(u));
                        u.uid = u.gid = (unsigned)strtoul(target + 1, NULL, 10);
                        snprintf(u.home, sizeof(u.home), "/");
                        snprintf(u.shell, sizeof(u.shell), "/bin/sh");
                }
        } else if (!find_user(target, 0, 0, &u)) {
                die("unknown user", target);
        }

        /* Environment: sudo's env_reset unless -E; VAR=value words always. */
        term = getenv("TERM");
        term = term ? strdup(term) : NULL;
        display = getenv("DISPLAY");
        display = display ? strdup(display) : NULL;
        if (!keep_env) {
                clearenv();
                if (term)
                        setenv_or_die("TERM", term);
                if (display)
                        setenv_or_die("DISPLAY", display);
                setenv_or_die("PATH", SECURE_PATH);
        }
        free(term);
        free(display);
        if (!keep_env || login) {
                setenv_or_die("HOME", u.home);
        }
        setenv_or_die("USER", u.name[0] ? u.name : target);
        setenv_or_die("LOGNAME", u.name[0] ? u.name : target);
        setenv_or_die("SHELL", u.shell);
        setenv_or_die("SUDO_USER", caller.name);
        snprintf(num, sizeof(num), "%u", caller.uid);
        setenv_or_die("SUDO_UID", num);
        snprintf(num, sizeof(num), "%u", caller.gid);
        setenv_or_die("SUDO_GID", num);
        for (; i < argc && strchr(argv[i], '=') && argv[i][0] != '=' && argv[i][0] != '/'; i++) {
                char *eq = strchr(argv[i], '=');

                *eq = '\0';
                setenv_or_die(argv[i], eq + 1);
        }
        if (i < argc)
                setenv_or_die("SUDO_COMMAND", argv[i]);

        ngroups = user_groups(u.name, u.gid, groups, 64);
        if (group) {
                if (!lookup_group(group, &groups[0]))
                        die("unknown group", group);
        }
        if (setgroups((size_t)ngroups, groups) != 0 || setgid(groups[0]) != 0 || setuid(u.uid) != 0)
                die("cannot switch user (is sudo setuid root?)", target);

        if (login || shell) {
                /* -i: login shell in the target's home; both run COMMAND through
                 * the shell with -c, words joined by spaces as sudo does. */
                char *cmd = NULL;
                size_t len = 0;
                int j;

                if (login && chdir(u.home) != 0)
                        (void)chdir("/");
                for (j = i; j < argc; j++)
                        len += strlen(argv[j]) + 1;
                if (i < argc) {
                        cmd = malloc(len);
                        if (!cmd)
                                abort();
                        cmd[0] = '\0';
                        for (j = i; j < argc; j++) {
                                strcat(cmd, argv[j]);
                                if (j + 1 < argc)
                                        strcat(cmd, " ");
                        }
                }
                if (cmd)
                        execl(u.shell, login ? "-sh" : "sh", "-c", cmd, (char *)NULL);
                else
                        execl(u.shell, login ? "-sh" : "sh", (char *)NULL);
                die("cannot run the shell", u.shell);
        }
        if (i >= argc) {
                fputs(
                    "usage: sudo [-nEHS] [-u user] [-i|-s] [--] [VAR=value...] command [arg...]\n",
                    stderr);
                return 1;
        }
        execvp(argv[i], argv + i);
        fprintf(stderr, "sudo: %s: %s\n", argv[i], strerror(errno));
        return errno == ENOENT ? 127 : 126;
}
