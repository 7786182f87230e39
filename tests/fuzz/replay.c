/* SPDX-License-Identifier: GPL-2.0-or-later */

/* Runs a fuzz target on every file of the directories given (a seed corpus,
 * the inputs of bugs found), without libFuzzer, so that every build replays
 * them as a unit test. TAP output: one test point per directory. A file
 * that breaks an invariant aborts the program, naming the file first. A
 * directory that does not exist counts as empty. */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "strbuf.h"

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        FILE *f = fopen(path, "rbe");
        if (!f)
                return -errno;
        StrBuf b = STRBUF_NULL;
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                strbuf_append(&b, buf, n);
        int r = ferror(f) ? -EIO : 0;
        fclose(f);
        if (r < 0 || strbuf_failed(&b)) {
                strbuf_done(&b);
                return r < 0 ? r : -ENOMEM;
        }
        *ret_size = b.len;
        *ret = (uint8_t *) strbuf_steal(&b);
        return 0;
}

/* Returns the number of files run, or -errno. */
static int replay_dir(const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;

        char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char **a = realloc(names, (n + 1) * sizeof(char *));
                if (!a || !(a[n] = strdup(de->d_name))) {
                        closedir(d);
                        return -ENOMEM;
                }
                names = a;
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), name_cmp);

        int count = 0, r = 0;
        for (size_t i = 0; i < n; i++) {
                char path[4096];
                struct stat st;
                snprintf(path, sizeof path, "%s/%s", dir, names[i]);
                if (r >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                        uint8_t *data = NULL;
                        size_t size = 0;
                        r = read_file(path, &data, &size);
                        if (r >= 0) {
                                /* named before running, so that a crash says which */
                                fprintf(stderr, "# %s\n", path);
                                LLVMFuzzerTestOneInput(data, size);
                                count++;
                        }
                        free(data);
                }
                free(names[i]);
        }
        free(names);
        return r < 0 ? r : count;
}

int main(int argc, char **argv) {
        int failed = 0;

        printf("1..%d\n", argc - 1);
        for (int i = 1; i < argc; i++) {
                int r = replay_dir(argv[i]);
                if (r < 0) {
                        printf("not ok %d - %s: %s\n", i, argv[i], strerror(-r));
                        failed++;
                } else
                        printf("ok %d - %s: %d input%s\n", i, argv[i], r, r == 1 ? "" : "s");
                fflush(stdout);
        }
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
