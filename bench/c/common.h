/* Shared helpers for the iotjobs benchmark programs: timing, statistics, a counter that a
 * callback thread bumps and the main thread waits on, and /proc/self readings.
 * Header-only so each benchmark stays one translation unit. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__GNUC__)
#define BENCH_UNUSED __attribute__((unused))
#else
#define BENCH_UNUSED
#endif

static BENCH_UNUSED void bench_fail(const char *what)
{
    fprintf(stderr, "bench: %s\n", what);
    exit(2);
}

static BENCH_UNUSED uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        bench_fail("clock_gettime failed");
    }
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static BENCH_UNUSED void sleep_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
        if (errno != EINTR) {
            bench_fail("nanosleep failed");
        }
    }
}

static BENCH_UNUSED long parse_long(const char *s, const char *name)
{
    char *end = NULL;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        fprintf(stderr, "bench: %s: %s is not a non-negative number\n", name, s);
        exit(2);
    }
    return v;
}

/* A monotonically increasing count, bumped from library callback threads. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t n;
    uint64_t errors;
} counter;

static BENCH_UNUSED void counter_init(counter *c)
{
    if (pthread_mutex_init(&c->mu, NULL) != 0 || pthread_cond_init(&c->cv, NULL) != 0) {
        bench_fail("pthread init failed");
    }
    c->n = 0;
    c->errors = 0;
}

static BENCH_UNUSED void counter_add(counter *c, bool error)
{
    if (pthread_mutex_lock(&c->mu) != 0) {
        bench_fail("mutex lock failed");
    }
    if (error) {
        c->errors++;
    } else {
        c->n++;
    }
    if (pthread_cond_broadcast(&c->cv) != 0 || pthread_mutex_unlock(&c->mu) != 0) {
        bench_fail("cond/mutex failed");
    }
}

static BENCH_UNUSED uint64_t counter_get(counter *c)
{
    uint64_t v;
    if (pthread_mutex_lock(&c->mu) != 0) {
        bench_fail("mutex lock failed");
    }
    v = c->n;
    if (pthread_mutex_unlock(&c->mu) != 0) {
        bench_fail("mutex unlock failed");
    }
    return v;
}

static BENCH_UNUSED uint64_t counter_errors(counter *c)
{
    uint64_t v;
    if (pthread_mutex_lock(&c->mu) != 0) {
        bench_fail("mutex lock failed");
    }
    v = c->errors;
    if (pthread_mutex_unlock(&c->mu) != 0) {
        bench_fail("mutex unlock failed");
    }
    return v;
}

/* Waits until n >= target (true) or an error was counted or timeout_ms passed (false). */
static BENCH_UNUSED bool counter_wait_ge(counter *c, uint64_t target, long timeout_ms)
{
    struct timespec dl;
    bool ok;
    if (clock_gettime(CLOCK_REALTIME, &dl) != 0) {
        bench_fail("clock_gettime failed");
    }
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec += 1;
        dl.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_lock(&c->mu) != 0) {
        bench_fail("mutex lock failed");
    }
    while (c->n < target && c->errors == 0) {
        int rc = pthread_cond_timedwait(&c->cv, &c->mu, &dl);
        if (rc == ETIMEDOUT) {
            break;
        }
        if (rc != 0) {
            bench_fail("pthread_cond_timedwait failed");
        }
    }
    ok = c->n >= target && c->errors == 0;
    if (pthread_mutex_unlock(&c->mu) != 0) {
        bench_fail("mutex unlock failed");
    }
    return ok;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Prints one machine-readable line: RESULT rt <name> n=.. median_us=.. p99_us=.. ... */
static BENCH_UNUSED void report_latencies(const char *name, uint64_t *ns, size_t n)
{
    double sum = 0.0;
    size_t i;
    size_t p99;
    if (n == 0) {
        bench_fail("no samples");
    }
    qsort(ns, n, sizeof ns[0], cmp_u64);
    for (i = 0; i < n; i++) {
        sum += (double)ns[i];
    }
    p99 = (n * 99 + 99) / 100;
    if (p99 > 0) {
        p99 -= 1;
    }
    if (p99 >= n) {
        p99 = n - 1;
    }
    printf("RESULT rt %s n=%zu median_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n",
           name, n, (double)ns[n / 2] / 1000.0, (double)ns[p99] / 1000.0, sum / (double)n / 1000.0,
           (double)ns[0] / 1000.0, (double)ns[n - 1] / 1000.0);
}

/* Reads a "Key:   123 kB" field of /proc/self/status, in kB (-1 if absent). */
static BENCH_UNUSED long proc_status_kb(const char *key)
{
    char line[256];
    long v = -1;
    size_t klen = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) {
        bench_fail("cannot open /proc/self/status");
    }
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    }
    if (fclose(f) != 0) {
        bench_fail("fclose failed");
    }
    return v;
}

/* Number of threads of this process (entries of /proc/self/task). */
static BENCH_UNUSED int thread_count(void)
{
    int n = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        bench_fail("cannot open /proc/self/task");
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    if (closedir(d) != 0) {
        bench_fail("closedir failed");
    }
    return n;
}

/* Prints thread names (comm) of this process on one line, e.g. "main iotjobs-runtime ...". */
static BENCH_UNUSED void print_thread_names(const char *prefix)
{
    char path[300];
    char name[64];
    struct dirent *e;
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        bench_fail("cannot open /proc/self/task");
    }
    printf("%s", prefix);
    while ((e = readdir(d)) != NULL) {
        FILE *f;
        if (e->d_name[0] == '.') {
            continue;
        }
        if (snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name) >= (int)sizeof path) {
            continue;
        }
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        if (fgets(name, sizeof name, f) != NULL) {
            name[strcspn(name, "\n")] = '\0';
            printf(" %s", name);
        }
        if (fclose(f) != 0) {
            bench_fail("fclose failed");
        }
    }
    printf("\n");
    if (closedir(d) != 0) {
        bench_fail("closedir failed");
    }
}

/* Resident memory and threads in one RESULT line. */
static BENCH_UNUSED void report_process(const char *what, const char *name)
{
    printf("RESULT %s %s rss_kb=%ld hwm_kb=%ld threads=%d\n", what, name, proc_status_kb("VmRSS"),
           proc_status_kb("VmHWM"), thread_count());
}

/* Sets TCP_NODELAY on every TCP socket of this process connected to 127.0.0.1:port, for a
 * library that has no option for it. Returns how many sockets were changed. */
static BENCH_UNUSED int set_nodelay_on_peer_port(uint16_t port)
{
    int changed = 0;
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        bench_fail("cannot open /proc/self/fd");
    }
    while ((e = readdir(d)) != NULL) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        char *end = NULL;
        long fd;
        int one = 1;
        if (e->d_name[0] == '.') {
            continue;
        }
        fd = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0') {
            continue;
        }
        if (getpeername((int)fd, (struct sockaddr *)&peer, &len) != 0 || peer.sin_family != AF_INET ||
            ntohs(peer.sin_port) != port) {
            continue;
        }
        if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
            bench_fail("setsockopt(TCP_NODELAY) failed");
        }
        changed++;
    }
    if (closedir(d) != 0) {
        bench_fail("closedir failed");
    }
    return changed;
}

/* Prints the `top` mappings of this process with the most resident memory (from
 * /proc/self/smaps) as INFO lines, to show where the RSS is. */
static BENCH_UNUSED void print_top_mappings(const char *who, int top)
{
    enum { MAXMAP = 4096 };
    static char names[MAXMAP][128];
    static long rss[MAXMAP];
    char line[512];
    int n = 0;
    int i;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (f == NULL) {
        bench_fail("cannot open /proc/self/smaps");
    }
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long lo;
        unsigned long hi;
        long kb;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strchr(line, '-') != NULL &&
            strstr(line, ":") == NULL) {
            continue;
        }
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && n < MAXMAP) {
            char *path = strchr(line, '/');
            char *br = strchr(line, '[');
            const char *name = path != NULL ? path : (br != NULL ? br : "[anon]");
            size_t len = strcspn(name, "\n");
            if (len >= sizeof names[0]) {
                name += len - (sizeof names[0] - 1);
                len = sizeof names[0] - 1;
            }
            memcpy(names[n], name, len);
            names[n][len] = '\0';
            rss[n] = 0;
            n++;
        } else if (n > 0 && sscanf(line, "Rss: %ld kB", &kb) == 1) {
            rss[n - 1] = kb;
        }
    }
    if (fclose(f) != 0) {
        bench_fail("fclose failed");
    }
    for (i = 0; i < top; i++) {
        int j;
        int best = -1;
        for (j = 0; j < n; j++) {
            if (rss[j] > 0 && (best < 0 || rss[j] > rss[best])) {
                best = j;
            }
        }
        if (best < 0) {
            break;
        }
        printf("INFO %s largest resident mapping %d: %ld kB %s\n", who, i + 1, rss[best], names[best]);
        rss[best] = 0;
    }
}

/* CPU time (all threads) and context switches of this process, for per-operation costs. */
typedef struct {
    double cpu_us;
    double ctxsw;
} usage_snap;

static BENCH_UNUSED usage_snap usage_now(void)
{
    struct rusage ru;
    usage_snap u;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        bench_fail("getrusage failed");
    }
    u.cpu_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec +
               (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
    u.ctxsw = (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
    return u;
}

/* RESULT cost <kind> <name> cpu_us_per_op=.. ctxsw_per_op=.. (client process only). */
static BENCH_UNUSED void report_cost(const char *kind, const char *name, usage_snap a, usage_snap b,
                                     long ops)
{
    printf("RESULT cost_%s %s ops=%ld cpu_us_per_op=%.1f ctxsw_per_op=%.2f\n", kind, name, ops,
           (b.cpu_us - a.cpu_us) / (double)ops, (b.ctxsw - a.ctxsw) / (double)ops);
}

/* TLS material from the environment (set by bench/run for the mTLS runs): the CA file name, or
 * NULL for plain TCP. With a CA, BENCH_TLS_CERT and BENCH_TLS_KEY are required. */
static BENCH_UNUSED const char *tls_env(const char **cert, const char **key)
{
    const char *ca = getenv("BENCH_TLS_CA");
    if (ca == NULL || ca[0] == '\0') {
        return NULL;
    }
    *cert = getenv("BENCH_TLS_CERT");
    *key = getenv("BENCH_TLS_KEY");
    if (*cert == NULL || *key == NULL) {
        bench_fail("BENCH_TLS_CA needs BENCH_TLS_CERT and BENCH_TLS_KEY");
    }
    return ca;
}

#endif
