/*
 * The one harness of every C test: the API tests in tests/c/ (run by tests/c_api.rs and by
 * ctest) and the end-to-end programs in tests/c_e2e/ (run by tests/jobs_e2e.rs against the
 * emulator). Plain C99 that also compiles as C++11 (every test is built both ways), so: no
 * designated initializers, no compound literals, explicit casts from void *.
 *
 * Checks count and go on:
 *   CHECK(cond)                 the condition holds;
 *   CHECK_RC(call, expected)    the call returns exactly that jobs_result;
 *   CHECK_FAILS(call, expected) as CHECK_RC, and the thread's last-error message is set.
 * A failed check prints `FAIL file:line: ...` on stdout. test_finish() prints
 * `CHECKS passed=N failed=M`, which the Rust runners read, and returns the exit status: 0
 * only when no check failed and at least one ran (a test that checked nothing fails).
 *
 * A test that needs a server takes it from argv[1] (host) and argv[2] (port), as the Rust
 * runners pass them, or else from IOTJOBS_TEST_HOST and IOTJOBS_TEST_PORT (how ctest runs
 * them); see test_server(). Without either it fails: a missing server is an error, never a
 * skipped test.
 */
#ifndef IOTJOBS_TEST_CHECK_H
#define IOTJOBS_TEST_CHECK_H

#if !defined(_POSIX_C_SOURCE) && !defined(__cplusplus)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iotjobs.h"

/* Not valid UTF-8: a lone continuation byte, and a truncated two-byte sequence. */
#define TEST_BAD_UTF8 "topic/\x80/x"
#define TEST_BAD_UTF8_TRUNCATED "\xc3"

/* What the WebSocket setters return: the test runners define IOTJOBS_TEST_NO_WEBSOCKET when the
 * library under test is built without the cargo feature `websocket`, where the WebSocket
 * transports and IAM credentials are refused with JOBS_RESULT_INVALID_ARGUMENT. */
#ifdef IOTJOBS_TEST_NO_WEBSOCKET
#define TEST_WEBSOCKET_RC JOBS_RESULT_INVALID_ARGUMENT
#else
#define TEST_WEBSOCKET_RC JOBS_RESULT_OK
#endif

static int test_passed = 0;
static int test_failed = 0;

/* Prints the calling thread's last-error message (for failure reports). */
static inline void test_print_last_error(void) {
    char buf[512];
    size_t n = jobs_last_error_message(buf, sizeof buf);
    printf("    last error (%lu bytes): %s\n", (unsigned long)n, n ? buf : "(none)");
}

/* Records one check's outcome; prints `FAIL file:line: what` when it failed. */
static inline bool test_record_check(bool ok, const char *file, int line, const char *what) {
    if (ok) {
        test_passed++;
    } else {
        test_failed++;
        printf("FAIL %s:%d: %s\n", file, line, what);
    }
    fflush(stdout);
    return ok;
}

#define CHECK(cond) ((void)test_record_check((cond) ? true : false, __FILE__, __LINE__, #cond))

/* Records whether `got` is `want`; on a mismatch prints both codes and the last error. */
static inline void test_check_rc(uint32_t got, uint32_t want, const char *file, int line,
                                 const char *call) {
    if (!test_record_check(got == want, file, line, call)) {
        printf("    returned %u (%s), expected %u (%s)\n", (unsigned)got, jobs_result_str(got),
               (unsigned)want, jobs_result_str(want));
        if (got != JOBS_RESULT_OK) test_print_last_error();
        fflush(stdout);
    }
}

#define CHECK_RC(call, expected) \
    test_check_rc((uint32_t)(call), (uint32_t)(expected), __FILE__, __LINE__, #call)

/* After an expected failure: the last-error message of this thread is non-empty, and its
 * reported length matches what is copied. */
static inline void test_check_last_error(const char *file, int line, const char *what) {
    char buf[1024];
    size_t full = jobs_last_error_message(NULL, 0);
    size_t copied = jobs_last_error_message(buf, sizeof buf);
    bool ok = full != 0 && copied == full && buf[0] != '\0' &&
              strlen(buf) == (full < sizeof buf ? full : sizeof buf - 1);
    if (!test_record_check(ok, file, line, what)) {
        printf("    last-error message missing or inconsistent (length %lu, copied %lu, "
               "text '%s')\n",
               (unsigned long)full, (unsigned long)copied, buf);
        fflush(stdout);
    }
}

#define CHECK_FAILS(call, expected)                                \
    do {                                                           \
        CHECK_RC(call, expected);                                  \
        test_check_last_error(__FILE__, __LINE__, "after " #call); \
    } while (0)

/* Prints the verdict and returns the process exit status. */
static inline int test_finish(void) {
    printf("CHECKS passed=%d failed=%d\n", test_passed, test_failed);
    fflush(stdout);
    return (test_failed == 0 && test_passed > 0) ? 0 : 1;
}

/* ---- time ---- */

static inline void test_sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Seconds on the monotonic clock. */
static inline double test_now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the server ---- */

/* The server to use: argv[1]/argv[2], else IOTJOBS_TEST_HOST/IOTJOBS_TEST_PORT. Exits with
 * status 2 and a message when neither names one. */
static inline void test_server(int argc, char **argv, const char **host, uint16_t *port) {
    const char *h = argc > 2 ? argv[1] : getenv("IOTJOBS_TEST_HOST");
    const char *p = argc > 2 ? argv[2] : getenv("IOTJOBS_TEST_PORT");
    long n;
    char *end = NULL;
    if (h == NULL || p == NULL || h[0] == '\0') {
        fprintf(stderr, "this test needs an MQTT server: pass HOST PORT as arguments or set "
                        "IOTJOBS_TEST_HOST and IOTJOBS_TEST_PORT\n");
        exit(2);
    }
    n = strtol(p, &end, 10);
    if (end == p || *end != '\0' || n < 1 || n > 65535) {
        fprintf(stderr, "invalid server port '%s'\n", p);
        exit(2);
    }
    *host = h;
    *port = (uint16_t)n;
}

/* A plain-TCP config for the server at host:port with jobs QoS 1 and 10 s timeouts; NULL if a
 * setter refused (the end-to-end programs then fail their first check). */
static inline jobs_config *test_tcp_config(const char *host, const char *port_s,
                                           const char *client_id, const char *thing) {
    jobs_config *cfg = NULL;
    long port = strtol(port_s, NULL, 10);
    if (jobs_config_new(&cfg) != JOBS_RESULT_OK) return NULL;
    if (jobs_config_set_endpoint(cfg, host, (uint16_t)port) != JOBS_RESULT_OK ||
        jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP) != JOBS_RESULT_OK ||
        jobs_config_set_client_id(cfg, client_id) != JOBS_RESULT_OK ||
        (thing != NULL && jobs_config_set_thing_name(cfg, thing) != JOBS_RESULT_OK) ||
        jobs_config_set_jobs_qos(cfg, 1) != JOBS_RESULT_OK ||
        jobs_config_set_timeouts(cfg, 10000, 10000) != JOBS_RESULT_OK) {
        jobs_config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* A jobs client for `thing` on the server at host:port (see test_tcp_config), connected with
 * a blocking connect; NULL, after a failed check, when it could not be created. */
static inline jobs_client *test_connected_client(const char *host, const char *port_s,
                                                 const char *client_id, const char *thing) {
    jobs_config *cfg = test_tcp_config(host, port_s, client_id, thing);
    jobs_client *client = NULL;
    CHECK(cfg != NULL);
    if (cfg == NULL) return NULL;
    CHECK_RC(jobs_client_new(cfg, &client), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (client == NULL) return NULL;
    CHECK_RC(jobs_client_connect(client), JOBS_RESULT_OK);
    return client;
}

/* ---- what jobs callbacks saw ---- */

/* A mutex-guarded record of what callbacks saw, for the main thread to wait on. */
struct test_seen {
    pthread_mutex_t lock;
    int count[8][5];            /* [topic type][reply type] messages */
    uint32_t last_rejection[8]; /* per topic type */
    uint32_t last_status[8];
    uint64_t last_version[8];
    bool last_has_execution[8];
    char last_job[8][72];
    char last_details[8][1024];
    int online, offline;
    int other; /* messages for an unexpected thing */
};

static inline void test_seen_init(struct test_seen *s) {
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->lock, NULL) != 0) abort();
}

static inline void test_seen_lock(struct test_seen *s) {
    if (pthread_mutex_lock(&s->lock) != 0) abort();
}
static inline void test_seen_unlock(struct test_seen *s) {
    if (pthread_mutex_unlock(&s->lock) != 0) abort();
}

/* Records one jobs message (call from a jobs_message_handler). */
static inline void test_seen_record(struct test_seen *s, const jobs_message *m) {
    uint32_t t = jobs_message_topic_type(m);
    uint32_t r = jobs_message_reply_type(m);
    const char *job = jobs_message_execution_job_id(m);
    const char *details = jobs_message_status_details(m);
    if (t > 7 || r > 4) return;
    test_seen_lock(s);
    s->count[t][r]++;
    s->last_rejection[t] = jobs_message_rejection_code(m);
    s->last_status[t] = jobs_message_status(m);
    s->last_version[t] = jobs_message_version_number(m);
    s->last_has_execution[t] = jobs_message_has_execution(m);
    snprintf(s->last_job[t], sizeof s->last_job[t], "%s", job ? job : "");
    snprintf(s->last_details[t], sizeof s->last_details[t], "%s", details ? details : "");
    test_seen_unlock(s);
}

static inline int test_seen_count(struct test_seen *s, uint32_t t, uint32_t r) {
    int n;
    test_seen_lock(s);
    n = s->count[t][r];
    test_seen_unlock(s);
    return n;
}

/* Waits (bounded) until at least `n` messages of (t, r) arrived; true when they did. */
static inline bool test_seen_wait_count(struct test_seen *s, uint32_t t, uint32_t r, int n,
                                        double timeout_s) {
    double end = test_now() + timeout_s;
    while (test_now() < end) {
        if (test_seen_count(s, t, r) >= n) return true;
        test_sleep_ms(5);
    }
    return test_seen_count(s, t, r) >= n;
}

#endif /* IOTJOBS_TEST_CHECK_H */
