/*
 * Helpers for the end-to-end C programs in tests/c_e2e/, run by tests/jobs_e2e.rs against an
 * in-process emulator: `prog HOST PORT [THING...]`. Plain C99 (and valid C++).
 *
 * Each program prints `ok ...` / `FAIL ...` lines and ends with `CHECKS passed=N failed=M`;
 * it exits 0 only when M is 0 and N > 0. The Rust side also asserts on the emulator's state.
 */
#ifndef IOTJOBS_E2E_H
#define IOTJOBS_E2E_H

#if !defined(_POSIX_C_SOURCE)
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

static int e2e_passed = 0;
static int e2e_failed = 0;

#define E2E_CHECK(cond)                                                                   \
    do {                                                                                  \
        if (cond) {                                                                       \
            e2e_passed++;                                                                 \
        } else {                                                                          \
            e2e_failed++;                                                                 \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                        \
            fflush(stdout);                                                               \
        }                                                                                 \
    } while (0)

/* The call returns exactly `expected` (a jobs_result). */
#define E2E_RC(call, expected)                                                            \
    do {                                                                                  \
        uint32_t e2e_got_ = (uint32_t)(call);                                             \
        uint32_t e2e_want_ = (uint32_t)(expected);                                        \
        if (e2e_got_ == e2e_want_) {                                                      \
            e2e_passed++;                                                                 \
        } else {                                                                          \
            char e2e_msg_[512];                                                           \
            if (jobs_last_error_message(e2e_msg_, sizeof e2e_msg_) == 0) e2e_msg_[0] = 0; \
            e2e_failed++;                                                                 \
            printf("FAIL %s:%d: %s returned %u (%s), expected %u (%s) [%s]\n", __FILE__,  \
                   __LINE__, #call, (unsigned)e2e_got_, jobs_result_str(e2e_got_),        \
                   (unsigned)e2e_want_, jobs_result_str(e2e_want_), e2e_msg_);            \
            fflush(stdout);                                                               \
        }                                                                                 \
    } while (0)

static inline void e2e_sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline double e2e_now(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A mutex-guarded record of what callbacks saw, for the main thread to wait on. */
struct e2e_seen {
    pthread_mutex_t lock;
    int count[8][5];           /* [topic type][reply type] messages */
    uint32_t last_rejection[8]; /* per topic type */
    uint32_t last_status[8];
    int64_t last_version[8];
    bool last_has_execution[8];
    char last_job[8][72];
    char last_details[8][1024];
    int online, offline;
    int other; /* messages for an unexpected thing */
};

static inline void e2e_seen_init(struct e2e_seen *s) {
    memset(s, 0, sizeof *s);
    if (pthread_mutex_init(&s->lock, NULL) != 0) abort();
}

static inline void e2e_lock(struct e2e_seen *s) {
    if (pthread_mutex_lock(&s->lock) != 0) abort();
}
static inline void e2e_unlock(struct e2e_seen *s) {
    if (pthread_mutex_unlock(&s->lock) != 0) abort();
}

/* Records one jobs message (call from a jobs_message_handler). */
static inline void e2e_record(struct e2e_seen *s, const jobs_message *m) {
    uint32_t t = jobs_message_topic_type(m);
    uint32_t r = jobs_message_reply_type(m);
    const char *job = jobs_message_execution_job_id(m);
    const char *details = jobs_message_status_details(m);
    if (t > 7 || r > 4) return;
    e2e_lock(s);
    s->count[t][r]++;
    s->last_rejection[t] = jobs_message_rejection_code(m);
    s->last_status[t] = jobs_message_status(m);
    s->last_version[t] = jobs_message_version_number(m);
    s->last_has_execution[t] = jobs_message_has_execution(m);
    snprintf(s->last_job[t], sizeof s->last_job[t], "%s", job ? job : "");
    snprintf(s->last_details[t], sizeof s->last_details[t], "%s", details ? details : "");
    e2e_unlock(s);
}

static inline int e2e_count(struct e2e_seen *s, uint32_t t, uint32_t r) {
    int n;
    e2e_lock(s);
    n = s->count[t][r];
    e2e_unlock(s);
    return n;
}

/* Waits (bounded) until at least `n` messages of (t, r) arrived; true when they did. */
static inline bool e2e_wait_count(struct e2e_seen *s, uint32_t t, uint32_t r, int n,
                                  double timeout_s) {
    double end = e2e_now() + timeout_s;
    while (e2e_now() < end) {
        if (e2e_count(s, t, r) >= n) return true;
        e2e_sleep_ms(5);
    }
    return e2e_count(s, t, r) >= n;
}

/* A plain-TCP config for the emulator at host:port with fast timeouts and backoff. */
static inline jobs_config *e2e_config(const char *host, const char *port_s, const char *client_id,
                                      const char *thing) {
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

/* Prints the verdict and returns the exit status. */
static inline int e2e_finish(void) {
    printf("CHECKS passed=%d failed=%d\n", e2e_passed, e2e_failed);
    fflush(stdout);
    return (e2e_failed == 0 && e2e_passed > 0) ? 0 : 1;
}

#endif /* IOTJOBS_E2E_H */
