/*
 * gateway.c: a gateway that executes the jobs of several things over ONE MQTT connection.
 *
 * One `jobs_connection` (jobs_connection_new) is shared by one jobs client per thing
 * (jobs_client_new_with_connection). Each client subscribes to its own thing's jobs topics and
 * runs the device_agent flow for it: start-next -> IN_PROGRESS progress updates -> SUCCEEDED or
 * FAILED -> start-next ... until no job is pending. The output proves the isolation: every
 * event line names the thing its topic belongs to, and at the end each client reports how many
 * messages it received and how many were for another thing (always 0), next to the connection's
 * own count of everything that arrived.
 *
 * Job documents: the device_agent schema (see examples-c/README.md), e.g.
 *   {"operation": "install", "steps": 3, "step_ms": 100, "fail_at_step": 2}
 *
 * Usage:
 *   gateway --endpoint HOST --thing NAME --thing NAME [--thing NAME ...] [--port N]
 *           [--client-id ID] [--ca FILE --cert FILE --key FILE | --plain] [--qos 0|1]
 *           [--idle-exit SECONDS] [--reply-timeout SECONDS]
 *
 * Exit status: 0 after a normal stop (every thing idle), 1 on failure or when a client saw a
 * message of another thing, 2 on bad arguments. Plain C99 (also valid C++).
 */
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

#define MAX_THINGS 8

static double now_s(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts;
    if (ms <= 0) return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reads an integer member of a flat JSON object ("key": 12); `def` when absent or not one. */
static long doc_int(const char *doc, const char *key, long def, long min, long max) {
    char pat[64];
    const char *p;
    char *end = NULL;
    long v;
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = doc ? strstr(doc, pat) : NULL;
    if (p == NULL) return def;
    p += strlen(pat);
    while (*p == ' ' || *p == ':') p++;
    errno = 0;
    v = strtol(p, &end, 10);
    if (errno != 0 || end == p || v < min || v > max) return def;
    return v;
}

enum state { IDLE, STARTING, RUNNING };

struct thing {
    const char *name;
    jobs_client *client;
    enum state state;
    double since; /* when the state last changed */
    char job[65];
    long steps, step_ms, fail_at, step;
    int64_t version, execution;
    uint32_t sent;
    long messages, foreign, succeeded, failed, canceled;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct thing things[MAX_THINGS];
static size_t nthings = 0;
static long conn_messages = 0;
static int fatal = 0;

static void set_state(struct thing *t, enum state s) {
    if (pthread_mutex_lock(&lock) != 0) abort();
    t->state = s;
    t->since = now_s();
    if (pthread_mutex_unlock(&lock) != 0) abort();
}

static void fail(const char *thing, const char *what, jobs_result rc) {
    char msg[512];
    if (jobs_last_error_message(msg, sizeof msg) == 0) msg[0] = '\0';
    printf("[%s] ERROR %s: %s %s\n", thing, what, jobs_result_str(rc), msg);
    if (pthread_mutex_lock(&lock) != 0) abort();
    fatal = 1;
    if (pthread_mutex_unlock(&lock) != 0) abort();
}

/* Counts the message and checks that it belongs to this client's thing. */
static bool mine(struct thing *t, const jobs_message *m) {
    const char *topic_thing = jobs_message_thing_name(m);
    bool ok = topic_thing != NULL && strcmp(topic_thing, t->name) == 0;
    if (pthread_mutex_lock(&lock) != 0) abort();
    t->messages++;
    if (!ok) t->foreign++;
    if (pthread_mutex_unlock(&lock) != 0) abort();
    if (!ok) {
        printf("[%s] ERROR received a message of thing %s: %s\n", t->name,
               topic_thing ? topic_thing : "(none)", jobs_message_topic(m, NULL));
    }
    return ok;
}

static void start_next(struct thing *t) {
    jobs_result rc;
    set_state(t, STARTING);
    rc = jobs_send_start_next(t->client, NULL, 0, NULL);
    if (rc != JOBS_RESULT_OK && rc != JOBS_RESULT_TIMEOUT) fail(t->name, "start-next", rc);
}

static void update(struct thing *t, uint32_t status, const char *details) {
    jobs_result rc;
    t->sent = status;
    set_state(t, RUNNING);
    rc = jobs_send_update(t->client, t->job, status, details, (uint64_t)t->version,
                          (uint64_t)t->execution, true, false, 0, NULL);
    if (rc != JOBS_RESULT_OK && rc != JOBS_RESULT_TIMEOUT) fail(t->name, "update", rc);
}

static void step(struct thing *t) {
    char details[256];
    sleep_ms(t->step_ms);
    t->step++;
    if (t->fail_at == t->step) {
        snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\",\"reason\":\"step %ld failed\"}",
                 t->step, t->steps, t->step);
        printf("[%s] %s FAILED at step %ld/%ld\n", t->name, t->job, t->step, t->steps);
        update(t, JOBS_STATUS_FAILED, details);
    } else if (t->step >= t->steps) {
        snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\",\"progress\":\"100%%\"}",
                 t->step, t->steps);
        printf("[%s] %s SUCCEEDED 100%%\n", t->name, t->job);
        update(t, JOBS_STATUS_SUCCEEDED, details);
    } else {
        snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\",\"progress\":\"%ld%%\"}",
                 t->step, t->steps, t->step * 100 / t->steps);
        printf("[%s] %s IN_PROGRESS %ld%% step %ld/%ld\n", t->name, t->job,
               t->step * 100 / t->steps, t->step, t->steps);
        update(t, JOBS_STATUS_IN_PROGRESS, details);
    }
}

static void on_start_next_accepted(void *ud, const jobs_message *m) {
    struct thing *t = (struct thing *)ud;
    const char *id = jobs_message_execution_job_id(m);
    const char *doc = jobs_message_job_document(m, NULL);
    if (!mine(t, m) || t->state != STARTING) return;
    if (!jobs_message_has_execution(m) || id == NULL) {
        printf("[%s] no pending job\n", t->name);
        set_state(t, IDLE);
        return;
    }
    snprintf(t->job, sizeof t->job, "%s", id);
    t->version = (int64_t)jobs_message_version_number(m);
    t->execution = (int64_t)jobs_message_execution_number(m);
    t->steps = doc_int(doc, "steps", 1, 1, 100);
    t->step_ms = doc_int(doc, "step_ms", 0, 0, 60000);
    t->fail_at = doc_int(doc, "fail_at_step", 0, 1, t->steps);
    t->step = 0;
    printf("[%s] %s started (topic thing %s, version %lld): %s\n", t->name, t->job,
           jobs_message_thing_name(m), (long long)t->version, doc ? doc : "{}");
    step(t);
}

static void on_start_next_rejected(void *ud, const jobs_message *m) {
    struct thing *t = (struct thing *)ud;
    const char *text = jobs_message_rejection_text(m);
    if (!mine(t, m)) return;
    printf("[%s] start-next rejected: %s\n", t->name, text ? text : "?");
    fail(t->name, "start-next rejected", JOBS_RESULT_OK);
}

static void on_update_accepted(void *ud, const jobs_message *m) {
    struct thing *t = (struct thing *)ud;
    const char *job = jobs_message_job_id(m);
    int64_t v = (int64_t)jobs_message_version_number(m); /* 0: none */
    if (!mine(t, m) || t->state != RUNNING || job == NULL || strcmp(job, t->job) != 0) return;
    t->version = v > 0 ? v : t->version + 1;
    if (t->sent == JOBS_STATUS_IN_PROGRESS) {
        step(t);
        return;
    }
    if (pthread_mutex_lock(&lock) != 0) abort();
    if (t->sent == JOBS_STATUS_SUCCEEDED) t->succeeded++;
    else t->failed++;
    if (pthread_mutex_unlock(&lock) != 0) abort();
    start_next(t);
}

static void on_update_rejected(void *ud, const jobs_message *m) {
    struct thing *t = (struct thing *)ud;
    const char *job = jobs_message_job_id(m);
    const char *text = jobs_message_rejection_text(m);
    if (!mine(t, m) || t->state != RUNNING || job == NULL || strcmp(job, t->job) != 0) return;
    printf("[%s] %s update rejected (%s, status %u): abandoned\n", t->name, t->job,
           text ? text : "?", (unsigned)jobs_message_status(m));
    if (pthread_mutex_lock(&lock) != 0) abort();
    t->canceled++;
    if (pthread_mutex_unlock(&lock) != 0) abort();
    start_next(t);
}

static void on_notify_next(void *ud, const jobs_message *m) {
    struct thing *t = (struct thing *)ud;
    const char *id = jobs_message_execution_job_id(m);
    if (!mine(t, m)) return;
    if (!jobs_message_has_execution(m)) return;
    printf("[%s] notify-next: %s\n", t->name, id ? id : "?");
    if (t->state == IDLE) start_next(t);
}

/* Connection-level: sees every message of every thing. */
static void on_message(void *ud, const char *topic, size_t topic_len, const uint8_t *payload,
                       size_t payload_len) {
    (void)ud;
    (void)topic;
    (void)topic_len;
    (void)payload;
    (void)payload_len;
    if (pthread_mutex_lock(&lock) != 0) abort();
    conn_messages++;
    if (pthread_mutex_unlock(&lock) != 0) abort();
}

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s --endpoint HOST --thing NAME --thing NAME [...] [--port N]\n"
            "          [--client-id ID] [--ca FILE --cert FILE --key FILE | --plain]\n"
            "          [--qos 0|1] [--idle-exit SECONDS] [--reply-timeout SECONDS]\n",
            prog);
}

static bool num(const char *s, long min, long max, long *out) {
    char *end = NULL;
    long v;
    if (s == NULL) return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    const char *endpoint = NULL, *client_id = "iotjobs-gateway", *ca = NULL, *cert = NULL,
               *key = NULL;
    long port = 0, qos = 1, idle_exit = 0, reply_timeout = 30;
    bool plain = false;
    jobs_config *cfg = NULL;
    jobs_connection *conn = NULL;
    jobs_result rc;
    int i, code = 0;
    size_t k;

    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) return 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--plain") == 0) {
            plain = true;
            continue;
        }
        if (v == NULL) {
            usage(argv[0]);
            return 2;
        }
        if (strcmp(a, "--endpoint") == 0) endpoint = v;
        else if (strcmp(a, "--client-id") == 0) client_id = v;
        else if (strcmp(a, "--ca") == 0) ca = v;
        else if (strcmp(a, "--cert") == 0) cert = v;
        else if (strcmp(a, "--key") == 0) key = v;
        else if (strcmp(a, "--port") == 0) ok = num(v, 1, 65535, &port);
        else if (strcmp(a, "--qos") == 0) ok = num(v, 0, 1, &qos);
        else if (strcmp(a, "--idle-exit") == 0) ok = num(v, 0, 86400, &idle_exit);
        else if (strcmp(a, "--reply-timeout") == 0) ok = num(v, 1, 3600, &reply_timeout);
        else if (strcmp(a, "--thing") == 0 && nthings < MAX_THINGS) things[nthings++].name = v;
        else ok = false;
        if (!ok) {
            fprintf(stderr, "%s: bad option %s %s\n", argv[0], a, v);
            usage(argv[0]);
            return 2;
        }
        i++;
    }
    if (endpoint == NULL || nthings < 2 || (!plain && (!ca || !cert || !key))) {
        usage(argv[0]);
        return 2;
    }
    if (port == 0) port = plain ? 1883 : 8883;

    /* One connection ... */
    if (jobs_config_new(&cfg) != JOBS_RESULT_OK) return 1;
#define CFG(call)                                  \
    do {                                           \
        rc = (call);                               \
        if (rc != JOBS_RESULT_OK) {                \
            fail("gateway", #call, rc);            \
            jobs_config_free(cfg);                 \
            return 1;                              \
        }                                          \
    } while (0)
    CFG(jobs_config_set_endpoint(cfg, endpoint, (uint16_t)port));
    CFG(jobs_config_set_client_id(cfg, client_id));
    CFG(jobs_config_set_timeouts(cfg, 10000, 10000));
    CFG(jobs_config_set_on_message(cfg, on_message));
    CFG(jobs_config_set_transport(cfg, plain ? JOBS_TRANSPORT_TCP : JOBS_TRANSPORT_TLS));
    if (!plain) {
        CFG(jobs_config_set_ca_file(cfg, ca));
        CFG(jobs_config_set_cert_file(cfg, cert));
        CFG(jobs_config_set_key_file(cfg, key));
    }
#undef CFG
    rc = jobs_connection_new(cfg, &conn);
    jobs_config_free(cfg);
    if (rc != JOBS_RESULT_OK) {
        fail("gateway", "jobs_connection_new", rc);
        return 1;
    }
    rc = jobs_connection_connect(conn);
    if (rc != JOBS_RESULT_OK) {
        fail("gateway", "connect", rc);
        jobs_connection_free(conn);
        return 1;
    }
    printf("[gateway] one connection to %s:%ld as %s for %lu things\n", endpoint, port, client_id,
           (unsigned long)nthings);

    /* ... and one jobs client per thing over it. */
    for (k = 0; k < nthings && code == 0; k++) {
        struct thing *t = &things[k];
        rc = jobs_client_new_with_connection(conn, t->name, client_id, (uint32_t)qos, &t->client);
        if (rc != JOBS_RESULT_OK) {
            fail(t->name, "jobs_client_new_with_connection", rc);
            code = 1;
            break;
        }
#define SUB(type, reply, job, cb)                                                              \
    do {                                                                                       \
        rc = jobs_create_subscription(t->client, type, reply, job, cb, t, NULL);               \
        if (rc != JOBS_RESULT_OK) {                                                            \
            fail(t->name, "subscribe", rc);                                                    \
            code = 1;                                                                          \
        }                                                                                      \
    } while (0)
        SUB(JOBS_TOPIC_TYPE_NOTIFY_NEXT, JOBS_REPLY_TYPE_REQUEST, NULL, on_notify_next);
        SUB(JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL, on_start_next_accepted);
        SUB(JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_REJECTED, NULL, on_start_next_rejected);
        SUB(JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, "+", on_update_accepted);
        SUB(JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, "+", on_update_rejected);
#undef SUB
        printf("[%s] jobs client on the shared connection, subscribed to its own topics\n",
               t->name);
    }
    for (k = 0; k < nthings && code == 0; k++) start_next(&things[k]);

    /* Wait until every thing has been idle for idle_exit seconds (or a failure). */
    while (code == 0) {
        bool all_idle = true, stuck = false;
        if (pthread_mutex_lock(&lock) != 0) abort();
        if (fatal) code = 1;
        for (k = 0; k < nthings; k++) {
            double in_state = now_s() - things[k].since;
            if (things[k].state != IDLE || in_state < (double)idle_exit) all_idle = false;
            if (things[k].state != IDLE && in_state > (double)reply_timeout + 60.0) stuck = true;
        }
        if (pthread_mutex_unlock(&lock) != 0) abort();
        if (stuck) {
            printf("[gateway] ERROR no reply within %ld s\n", reply_timeout);
            code = 1;
        }
        if (all_idle || code != 0) break;
        sleep_ms(50);
    }

    /* Free the clients first, then the connection they share. */
    for (k = 0; k < nthings; k++) {
        jobs_client_free(things[k].client);
        things[k].client = NULL;
    }
    rc = jobs_connection_disconnect(conn);
    if (rc != JOBS_RESULT_OK) fail("gateway", "disconnect", rc);
    jobs_connection_free(conn);

    for (k = 0; k < nthings; k++) {
        const struct thing *t = &things[k];
        printf("[%s] received %ld messages, %ld for another thing; succeeded=%ld failed=%ld "
               "abandoned=%ld\n",
               t->name, t->messages, t->foreign, t->succeeded, t->failed, t->canceled);
        if (t->foreign != 0) code = 1;
    }
    printf("[gateway] the shared connection received %ld messages in all; exit=%d\n",
           conn_messages, code);
    return code;
}
