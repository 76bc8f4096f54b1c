/* Drives vmenv_sync_folder against a real sshd for tests/integration/sync.sh
 * and tests/bench/rsync.sh:
 *   sync-driver -p PORT -i KEY [-u USER] [-r] [-o UID:GID] [-x PATTERN]... [-w N] LOCAL GUEST
 * prints "sent=N bytes=B deleted=D unchanged=U" and exits with the error's
 * code after printing it, as main() would. With -w it then watches LOCAL as
 * rsync-auto does, syncing (and printing a line) after each burst of
 * changes, until N syncs were done or SIGINT/SIGTERM arrives. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmenv/log.h"
#include "vmenv/ssh.h"
#include "vmenv/sync.h"
#include "vmenv/util.h"

static void print_stats(const struct vmenv_sync_stats *st)
{
        printf("sent=%zu bytes=%llu deleted=%zu unchanged=%zu\n", st->sent,
               (unsigned long long)st->bytes, st->deleted, st->unchanged);
        fflush(stdout);
}

int main(int argc, char **argv)
{
        struct vmenv_ssh_target t = {
            .host = "127.0.0.1", .user = "root", .connect_timeout_ms = 10000, .tofu = true};
        vmenv_error err = VMENV_ERROR_INIT;
        struct vmenv_sync_stats st = {0};
        struct vmenv_ssh *s;
        char **exclude = NULL;
        const char *owner = NULL;
        bool as_root = false;
        int c, r, watch = -1;

        while ((c = getopt(argc, argv, "p:i:u:ro:x:vw:")) != -1) {
                switch (c) {
                case 'p':
                        t.port = atoi(optarg);
                        break;
                case 'i':
                        t.key_path = optarg;
                        break;
                case 'u':
                        t.user = optarg;
                        break;
                case 'r':
                        as_root = true;
                        break;
                case 'o':
                        owner = optarg;
                        break;
                case 'x':
                        vmenv_strv_push(&exclude, vmenv_strdup(optarg));
                        break;
                case 'v':
                        vmenv_log_level = VMENV_LOG_DEBUG;
                        break;
                case 'w':
                        watch = atoi(optarg);
                        break;
                default:
                        return 64;
                }
        }
        if (argc - optind != 2 || !t.port || !t.key_path) {
                fprintf(stderr, "usage: sync-driver -p PORT -i KEY [-u USER] [-r] [-o UID:GID] "
                                "[-x PATTERN]... LOCAL GUEST\n");
                return 64;
        }
        if (!(s = vmenv_ssh_connect(&t, NULL, &err))) {
                fprintf(stderr, "sync-driver: error: %s\n", err.msg);
                return err.code ? err.code : 1;
        }
        r = vmenv_sync_folder(s, argv[optind], argv[optind + 1], exclude, as_root, owner, &st,
                              &err);
        if (r == 0 && watch >= 0) {
                struct vmenv_sync_watch *w = vmenv_sync_watch_new(&err);
                bool dirty = false;
                print_stats(&st);
                r = w ? vmenv_sync_watch_add(w, argv[optind], exclude, 0, &err) : -1;
                for (int done = 0; r == 0 && done < watch; done++) {
                        if ((r = vmenv_sync_watch_wait(w, 200, &dirty, 1, &err)) <= 0)
                                break;
                        r = vmenv_sync_folder(s, argv[optind], argv[optind + 1], exclude, as_root,
                                              owner, &st, &err);
                        if (r == 0)
                                print_stats(&st);
                }
                if (r > 0)
                        r = 0;
                vmenv_sync_watch_free(w);
                if (r == 0) {
                        vmenv_ssh_free(s);
                        vmenv_strv_free(exclude);
                        return 0;
                }
        }
        vmenv_ssh_free(s);
        vmenv_strv_free(exclude);
        if (r < 0) {
                fprintf(stderr, "sync-driver: error: %s\n", err.msg);
                if (err.hint)
                        fprintf(stderr, "sync-driver: hint: %s\n", err.hint);
                r = err.code ? err.code : 1;
                vmenv_error_clear(&err);
                return r;
        }
        print_stats(&st);
        return 0;
}
