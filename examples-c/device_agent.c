/*
 * device_agent.c: a small device agent that executes AWS IoT Jobs, the Python SDK's jobs sample
 * flow (jobsSample.py) written against iotjobs.
 *
 *   subscribe notify-next, start-next/accepted|rejected, +/update/accepted|rejected
 *   -> StartNextPendingJobExecution
 *   -> on start-next/accepted with an execution: run the job document step by step, reporting
 *      progress with IN_PROGRESS updates, and finish with SUCCEEDED or FAILED, each update
 *      carrying expectedVersion and executionNumber from the last reply
 *   -> start the next job (start-next again, or when notify-next announces one)
 *   -> stop when no job is pending (after --idle-exit seconds of waiting)
 *
 * After a reconnect, a request whose reply may have been lost is resynchronized: start-next is
 * sent again, or the running job is described to learn whether the last update was applied.
 *
 * Everything happens inside the library's message callbacks: they call the blocking send
 * functions directly (the Python SDK deadlocks there; its sample needs a thread per send).
 *
 * Job document schema (a JSON object; unknown members are ignored):
 *
 *   {"operation": "install", "steps": 4, "step_ms": 300, "fail_at_step": 3}
 *
 *   operation     string, required: what to do (only printed and reported; any name works).
 *   steps         integer 1..100, default 1: the job's work is this many steps; each step
 *                 but the last is reported as IN_PROGRESS with statusDetails
 *                 {"operation", "step": "k/N", "progress": "P%"}.
 *   step_ms       integer 0..60000, default 0: how long one step takes (simulated work).
 *   fail_at_step  integer 1..steps, optional: step k fails; the job ends FAILED with
 *                 statusDetails {"operation", "step": "k/N", "reason": "..."}.
 *
 * A document that does not fit the schema is answered with REJECTED and a reason. A job that
 * is cancelled while it runs (the next update is rejected with InvalidStateTransition,
 * VersionMismatch or TerminalStateReached and the execution state says CANCELED, or any
 * terminal status) is abandoned: the agent stops its work and asks for the next job.
 *
 * Usage:
 *   device_agent --endpoint HOST --thing NAME [--port N] [--client-id ID]
 *                [--ca FILE --cert FILE --key FILE | --plain] [--qos 0|1]
 *                [--max-jobs N] [--idle-exit SECONDS] [--reply-timeout SECONDS]
 *
 *   Real AWS IoT (mutual TLS, port 8883 by default):
 *     device_agent --endpoint xxxx-ats.iot.eu-west-1.amazonaws.com --thing my-thing \
 *                  --ca AmazonRootCA1.pem --cert my-thing.cert.pem --key my-thing.private.key
 *   The local emulator (plain TCP, port 1883 by default):
 *     device_agent --endpoint 127.0.0.1 --port 1883 --plain --thing my-thing --idle-exit 5
 *
 * Output: one line per event, "[thing] job-id STATUS ...". Exit status: 0 after a normal stop,
 * 1 on a connection, subscription or protocol failure, 2 on bad command-line arguments.
 *
 * Plain C99 (also valid C++); needs POSIX threads and clocks.
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

#define ID_BUF 65 /* a job id is at most 64 characters */
#define DETAILS_BUF 1024

/* ---------------------------------------------------------------- options */

struct options {
    const char *endpoint;
    long port; /* 0: 8883 with TLS, 1883 plain */
    const char *thing;
    const char *client_id;
    const char *ca;
    const char *cert;
    const char *key;
    bool plain;
    long qos;
    long max_jobs;      /* 0: no limit */
    long idle_exit;     /* seconds to wait for a new job once none is pending; -1: forever */
    long reply_timeout; /* seconds to wait for any reply before giving up */
};

static void usage(FILE *to, const char *prog) {
    fprintf(to,
            "usage: %s --endpoint HOST --thing NAME [options]\n"
            "  --endpoint HOST        AWS IoT endpoint (xxxx-ats.iot.REGION.amazonaws.com) or host\n"
            "  --port N               port (default 8883 with TLS, 1883 with --plain)\n"
            "  --thing NAME           thing name whose jobs this agent executes\n"
            "  --client-id ID         MQTT client id (default: the thing name)\n"
            "  --ca FILE              root CA (AmazonRootCA1.pem) for mutual TLS (the default)\n"
            "  --cert FILE            device certificate (PEM)\n"
            "  --key FILE             device private key (PEM)\n"
            "  --plain                plain TCP, for a local emulator or broker only\n"
            "  --qos 0|1              QoS of every jobs subscribe and publish (default 1)\n"
            "  --max-jobs N           stop after N jobs (default 0: no limit)\n"
            "  --idle-exit SECONDS    once no job is pending, wait this long for a new one,\n"
            "                         then stop (default 0: stop at once; -1: never stop)\n"
            "  --reply-timeout SECS   give up when a reply does not come (default 30)\n",
            prog);
}

static bool parse_long(const char *s, long min, long max, long *out) {
    char *end = NULL;
    long v;
    if (s == NULL || *s == '\0') return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max) return false;
    *out = v;
    return true;
}

/* Returns 0, or 2 after printing why the arguments are wrong. */
static int parse_options(int argc, char **argv, struct options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->qos = 1;
    o->reply_timeout = 30;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        bool takes_value = true;
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (strcmp(a, "--plain") == 0) {
            o->plain = true;
            takes_value = false;
        } else if (v == NULL) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], a);
            return 2;
        } else if (strcmp(a, "--endpoint") == 0) {
            o->endpoint = v;
        } else if (strcmp(a, "--port") == 0) {
            ok = parse_long(v, 1, 65535, &o->port);
        } else if (strcmp(a, "--thing") == 0) {
            o->thing = v;
        } else if (strcmp(a, "--client-id") == 0) {
            o->client_id = v;
        } else if (strcmp(a, "--ca") == 0) {
            o->ca = v;
        } else if (strcmp(a, "--cert") == 0) {
            o->cert = v;
        } else if (strcmp(a, "--key") == 0) {
            o->key = v;
        } else if (strcmp(a, "--qos") == 0) {
            ok = parse_long(v, 0, 1, &o->qos);
        } else if (strcmp(a, "--max-jobs") == 0) {
            ok = parse_long(v, 0, 1000000, &o->max_jobs);
        } else if (strcmp(a, "--idle-exit") == 0) {
            ok = parse_long(v, -1, 86400, &o->idle_exit);
        } else if (strcmp(a, "--reply-timeout") == 0) {
            ok = parse_long(v, 1, 3600, &o->reply_timeout);
        } else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
            usage(stderr, argv[0]);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "%s: bad value for %s: '%s'\n", argv[0], a, v);
            return 2;
        }
        if (takes_value) i++;
    }
    if (o->endpoint == NULL || o->thing == NULL) {
        fprintf(stderr, "%s: --endpoint and --thing are required\n", argv[0]);
        usage(stderr, argv[0]);
        return 2;
    }
    if (!o->plain && (o->ca == NULL || o->cert == NULL || o->key == NULL)) {
        fprintf(stderr, "%s: mutual TLS needs --ca, --cert and --key (or --plain for a local "
                        "emulator)\n", argv[0]);
        return 2;
    }
    if (o->port == 0) o->port = o->plain ? 1883 : 8883;
    if (o->client_id == NULL) o->client_id = o->thing;
    return 0;
}

/* ---------------------------------------------------------------- time */

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

/* ---------------------------------------------------------------- a tiny JSON reader */
/* Enough for a flat job document: finds a top-level member and reads a string or integer. */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* p at '"': returns the character after the closing quote, or NULL. */
static const char *skip_string(const char *p) {
    if (*p != '"') return NULL;
    for (p++; *p != '\0'; p++) {
        if (*p == '\\') {
            if (p[1] == '\0') return NULL;
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Skips any JSON value; returns the character after it, or NULL. */
static const char *skip_value(const char *p, int depth) {
    p = skip_ws(p);
    if (depth > 32) return NULL;
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        char close = (*p == '{') ? '}' : ']';
        p = skip_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = skip_string(skip_ws(p));
                if (p == NULL) return NULL;
                p = skip_ws(p);
                if (*p != ':') return NULL;
                p++;
            }
            p = skip_value(p, depth + 1);
            if (p == NULL) return NULL;
            p = skip_ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p == close) return p + 1;
            return NULL;
        }
    }
    if (*p == '\0') return NULL;
    while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\r' && *p != '\t')
        p++;
    return p;
}

/* Finds the value of top-level member `key` in object `json`; NULL when absent or malformed. */
static const char *json_member(const char *json, const char *key) {
    const char *p = skip_ws(json);
    size_t klen = strlen(key);
    if (*p != '{') return NULL;
    p = skip_ws(p + 1);
    if (*p == '}') return NULL;
    for (;;) {
        const char *kstart = p;
        const char *kend = skip_string(p);
        if (kend == NULL) return NULL;
        p = skip_ws(kend);
        if (*p != ':') return NULL;
        p = skip_ws(p + 1);
        if ((size_t)(kend - kstart) == klen + 2 && strncmp(kstart + 1, key, klen) == 0) return p;
        p = skip_value(p, 0);
        if (p == NULL) return NULL;
        p = skip_ws(p);
        if (*p != ',') return NULL;
        p = skip_ws(p + 1);
    }
}

/* 1: found an integer in [min, max]; 0: absent; -1: present but not such an integer. */
static int json_int(const char *json, const char *key, long min, long max, long *out) {
    const char *v = json_member(json, key);
    char *end = NULL;
    long x;
    if (v == NULL) return 0;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno != 0 || end == v || (*skip_ws(end) != ',' && *skip_ws(end) != '}') || x < min ||
        x > max)
        return -1;
    *out = x;
    return 1;
}

/* 1: found a plain string (no escapes) that fits `len`; 0: absent; -1: anything else. */
static int json_str(const char *json, const char *key, char *buf, size_t len) {
    const char *v = json_member(json, key);
    const char *end;
    size_t n;
    if (v == NULL) return 0;
    end = skip_string(v);
    if (end == NULL) return -1;
    n = (size_t)(end - v) - 2;
    if (n == 0 || n >= len || memchr(v + 1, '\\', n) != NULL) return -1;
    memcpy(buf, v + 1, n);
    buf[n] = '\0';
    return 1;
}

/* ---------------------------------------------------------------- the agent */

enum agent_state {
    AGENT_IDLE,     /* no job; waiting for notify-next (or --idle-exit) */
    AGENT_STARTING, /* start-next sent, waiting for its reply */
    AGENT_RUNNING,  /* a job is running; an update is in flight */
    AGENT_DONE      /* stop */
};

struct job {
    char id[ID_BUF];
    char operation[64];
    long steps;
    long step_ms;
    long fail_at_step; /* 0: none */
    long step;         /* steps done so far */
    int64_t version;   /* expectedVersion for the next update */
    int64_t execution; /* executionNumber */
    uint32_t sent_status;              /* status of the last update sent */
    char sent_details[DETAILS_BUF];    /* its statusDetails, to send it again */
};

struct agent {
    struct options opt;
    jobs_client *client;
    pthread_mutex_t lock; /* guards state, timestamps and counters (read by main) */
    enum agent_state state;
    double idle_since;
    double waiting_since; /* when the request we wait for was sent */
    int exit_code;
    bool awaiting; /* a start-next or update reply is outstanding (callback thread only) */
    int onlines;   /* online callbacks so far (callback thread only) */
    bool resyncing;         /* a describe after a reconnect is outstanding */
    int64_t resync_version; /* the job's version when that describe was sent */
    struct job job;
    long handled, succeeded, failed, rejected, canceled;
};

static void set_state(struct agent *a, enum agent_state s) {
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    if (a->state != AGENT_DONE) {
        a->state = s;
        if (s == AGENT_IDLE) a->idle_since = now_s();
        a->waiting_since = now_s();
    }
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
}

static enum agent_state get_state(struct agent *a) {
    enum agent_state s;
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    s = a->state;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
    return s;
}

static void stop(struct agent *a, int code) {
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    a->state = AGENT_DONE;
    if (code > a->exit_code) a->exit_code = code;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
}

static void say_error(const struct agent *a, const char *what, jobs_result rc) {
    char msg[512];
    if (jobs_last_error_message(msg, sizeof msg) == 0) msg[0] = '\0';
    /* The last-error message already starts with the result's description. */
    printf("[%s] ERROR %s: %s\n", a->opt.thing, what, msg[0] ? msg : jobs_result_str(rc));
}

static const char *status_name(uint32_t s) {
    switch (s) {
    case JOBS_STATUS_QUEUED: return "QUEUED";
    case JOBS_STATUS_IN_PROGRESS: return "IN_PROGRESS";
    case JOBS_STATUS_FAILED: return "FAILED";
    case JOBS_STATUS_SUCCEEDED: return "SUCCEEDED";
    case JOBS_STATUS_CANCELED: return "CANCELED";
    case JOBS_STATUS_REJECTED: return "REJECTED";
    case JOBS_STATUS_TIMED_OUT: return "TIMED_OUT";
    case JOBS_STATUS_REMOVED: return "REMOVED";
    case JOBS_STATUS_NOT_SET: return "NOT_SET";
    default: return "UNKNOWN";
    }
}

static bool is_terminal(uint32_t s) {
    return s != JOBS_STATUS_QUEUED && s != JOBS_STATUS_IN_PROGRESS && s != JOBS_STATUS_NOT_SET;
}

/* Sends StartNextPendingJobExecution (blocking with QoS 1; fine inside a callback). */
static void start_next(struct agent *a) {
    uint32_t delivery = 0;
    jobs_result rc;
    set_state(a, AGENT_STARTING);
    a->awaiting = true;
    rc = jobs_send_start_next(a->client, "{\"startedBy\":\"device_agent\"}", 0, &delivery);
    if (rc == JOBS_RESULT_TIMEOUT) {
        /* Still in flight: the library retransmits it after a reconnect. */
        printf("[%s] start-next not acknowledged yet (%s); waiting\n", a->opt.thing,
               jobs_result_str(rc));
    } else if (rc != JOBS_RESULT_OK) {
        say_error(a, "start-next", rc);
        stop(a, 1);
    } else if (delivery == JOBS_DELIVERY_QUEUED) {
        printf("[%s] start-next queued (offline)\n", a->opt.thing);
    }
    fflush(stdout);
}

/* Sends an update of the running job; the reply continues the job. */
static void send_update(struct agent *a, uint32_t status, const char *details) {
    uint32_t delivery = 0;
    jobs_result rc;
    a->job.sent_status = status;
    if (details != a->job.sent_details)
        snprintf(a->job.sent_details, sizeof a->job.sent_details, "%s", details ? details : "");
    set_state(a, AGENT_RUNNING);
    a->awaiting = true;
    rc = jobs_send_update(a->client, a->job.id, status,
                          a->job.sent_details[0] ? a->job.sent_details : NULL,
                          (uint64_t)a->job.version,
                          (uint64_t)a->job.execution, true, false, 0, &delivery);
    if (rc == JOBS_RESULT_TIMEOUT) {
        printf("[%s] %s update not acknowledged yet; waiting\n", a->opt.thing, a->job.id);
    } else if (rc != JOBS_RESULT_OK) {
        say_error(a, "update", rc);
        stop(a, 1);
    }
    fflush(stdout);
}

/* Does the work of the next step and reports it. */
static void run_step(struct agent *a) {
    struct job *j = &a->job;
    char details[DETAILS_BUF];
    long pct;
    sleep_ms(j->step_ms); /* the simulated work of this step */
    j->step++;
    pct = (j->step * 100) / j->steps;
    if (j->fail_at_step != 0 && j->step == j->fail_at_step) {
        snprintf(details, sizeof details,
                 "{\"operation\":\"%s\",\"step\":\"%ld/%ld\",\"reason\":\"step %ld of %s "
                 "failed (fail_at_step)\"}",
                 j->operation, j->step, j->steps, j->step, j->operation);
        printf("[%s] %s FAILED at step %ld/%ld: step %ld of %s failed (fail_at_step)\n",
               a->opt.thing, j->id, j->step, j->steps, j->step, j->operation);
        fflush(stdout);
        send_update(a, JOBS_STATUS_FAILED, details);
    } else if (j->step >= j->steps) {
        snprintf(details, sizeof details,
                 "{\"operation\":\"%s\",\"step\":\"%ld/%ld\",\"progress\":\"100%%\"}",
                 j->operation, j->step, j->steps);
        printf("[%s] %s SUCCEEDED 100%% step %ld/%ld (%s done)\n", a->opt.thing, j->id, j->step,
               j->steps, j->operation);
        fflush(stdout);
        send_update(a, JOBS_STATUS_SUCCEEDED, details);
    } else {
        snprintf(details, sizeof details,
                 "{\"operation\":\"%s\",\"step\":\"%ld/%ld\",\"progress\":\"%ld%%\"}",
                 j->operation, j->step, j->steps, pct);
        printf("[%s] %s IN_PROGRESS %ld%% step %ld/%ld\n", a->opt.thing, j->id, pct, j->step,
               j->steps);
        fflush(stdout);
        send_update(a, JOBS_STATUS_IN_PROGRESS, details);
    }
}

/* A job was finished (any terminal status): count it, then ask for the next one. */
static void job_finished(struct agent *a, uint32_t status) {
    bool limit;
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    a->handled++;
    if (status == JOBS_STATUS_SUCCEEDED) a->succeeded++;
    else if (status == JOBS_STATUS_FAILED) a->failed++;
    else if (status == JOBS_STATUS_REJECTED) a->rejected++;
    else a->canceled++;
    limit = a->opt.max_jobs > 0 && a->handled >= a->opt.max_jobs;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
    a->job.id[0] = '\0';
    if (limit) {
        printf("[%s] handled %ld job(s): --max-jobs reached\n", a->opt.thing, a->opt.max_jobs);
        fflush(stdout);
        stop(a, 0);
    } else {
        start_next(a);
    }
}

/* Reads the job document; false (with `why`) when it does not fit the schema. */
static bool load_job(struct job *j, const char *doc, char *why, size_t why_len) {
    int r;
    j->steps = 1;
    j->step_ms = 0;
    j->fail_at_step = 0;
    j->step = 0;
    if (doc == NULL) {
        snprintf(why, why_len, "no job document");
        return false;
    }
    r = json_str(doc, "operation", j->operation, sizeof j->operation);
    if (r != 1) {
        snprintf(why, why_len, "operation must be a string of 1-63 characters");
        snprintf(j->operation, sizeof j->operation, "unknown");
        return false;
    }
    if (json_int(doc, "steps", 1, 100, &j->steps) < 0) {
        snprintf(why, why_len, "steps must be an integer 1-100");
        return false;
    }
    if (json_int(doc, "step_ms", 0, 60000, &j->step_ms) < 0) {
        snprintf(why, why_len, "step_ms must be an integer 0-60000");
        return false;
    }
    if (json_int(doc, "fail_at_step", 1, j->steps, &j->fail_at_step) < 0) {
        snprintf(why, why_len, "fail_at_step must be an integer 1-%ld", j->steps);
        return false;
    }
    /* The reason goes into a JSON string: keep it free of quotes and backslashes. */
    if (strchr(j->operation, '"') != NULL || strchr(j->operation, '\\') != NULL) {
        snprintf(why, why_len, "operation contains quotes");
        return false;
    }
    return true;
}

/* A new execution from start-next/accepted: run it (inside this callback). */
static void begin_job(struct agent *a, const jobs_message *m) {
    struct job *j = &a->job;
    const char *id = jobs_message_execution_job_id(m);
    size_t doc_len = 0;
    const char *doc = jobs_message_job_document(m, &doc_len);
    char why[256];
    char details[DETAILS_BUF];
    if (id == NULL || strlen(id) >= sizeof j->id) {
        printf("[%s] ERROR start-next/accepted without a usable job id\n", a->opt.thing);
        stop(a, 1);
        return;
    }
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    j->version = (int64_t)jobs_message_version_number(m);     /* 0: none */
    j->execution = (int64_t)jobs_message_execution_number(m); /* 0: none */
    printf("[%s] %s started (%s, version %lld, execution %lld): %.*s\n", a->opt.thing, j->id,
           status_name(jobs_message_status(m)), (long long)j->version, (long long)j->execution,
           (int)(doc_len > 400 ? 400 : doc_len), doc ? doc : "");
    if (!load_job(j, doc, why, sizeof why)) {
        snprintf(details, sizeof details, "{\"reason\":\"bad job document: %s\"}", why);
        printf("[%s] %s REJECTED: bad job document: %s\n", a->opt.thing, j->id, why);
        fflush(stdout);
        send_update(a, JOBS_STATUS_REJECTED, details);
        return;
    }
    printf("[%s] %s IN_PROGRESS 0%% %s: %ld step(s) of %ld ms\n", a->opt.thing, j->id,
           j->operation, j->steps, j->step_ms);
    fflush(stdout);
    run_step(a);
}

/* ---- callbacks (all on the library's callback thread, one at a time) ---- */

static void on_start_next_accepted(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    if (get_state(a) != AGENT_STARTING) return; /* a stale or duplicate reply */
    a->awaiting = false;
    if (!jobs_message_has_execution(m)) {
        printf("[%s] no pending job\n", a->opt.thing);
        fflush(stdout);
        set_state(a, AGENT_IDLE);
        return;
    }
    begin_job(a, m);
}

static void on_start_next_rejected(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    const char *code = jobs_message_rejection_text(m);
    const char *why = jobs_message_rejection_message(m);
    uint32_t rc = jobs_message_rejection_code(m);
    if (get_state(a) != AGENT_STARTING) return;
    a->awaiting = false;
    printf("[%s] start-next rejected: %s (%s)\n", a->opt.thing, code ? code : "?", why ? why : "");
    fflush(stdout);
    if (rc == JOBS_REJECTION_CODE_REQUEST_THROTTLED || rc == JOBS_REJECTION_CODE_INTERNAL_ERROR) {
        sleep_ms(1000); /* AWS says: retry later */
        start_next(a);
    } else {
        stop(a, 1);
    }
}

static void on_update_accepted(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    struct job *j = &a->job;
    const char *topic_job = jobs_message_job_id(m);
    int64_t v = (int64_t)jobs_message_version_number(m); /* 0: none */
    if (get_state(a) != AGENT_RUNNING || topic_job == NULL || strcmp(topic_job, j->id) != 0) return;
    /* A reply to a request that was sent twice (retransmitted after a reconnect) or that a
     * resynchronization already accounted for: nothing new. */
    if (v > 0 && v <= j->version) return;
    a->awaiting = false;
    j->version = (v > 0) ? v : j->version + 1;
    if (is_terminal(j->sent_status)) {
        printf("[%s] %s %s recorded (version %lld)\n", a->opt.thing, j->id,
               status_name(j->sent_status), (long long)j->version);
        fflush(stdout);
        job_finished(a, j->sent_status);
    } else {
        run_step(a);
    }
}

static void on_update_rejected(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    struct job *j = &a->job;
    const char *topic_job = jobs_message_job_id(m);
    uint32_t code = jobs_message_rejection_code(m);
    const char *text = jobs_message_rejection_text(m);
    uint32_t status = jobs_message_status(m);
    int64_t v = (int64_t)jobs_message_version_number(m); /* 0: none */
    if (get_state(a) != AGENT_RUNNING || topic_job == NULL || strcmp(topic_job, j->id) != 0) return;
    if (is_terminal(status) || code == JOBS_REJECTION_CODE_INVALID_STATE_TRANSITION ||
        code == JOBS_REJECTION_CODE_TERMINAL_STATE_REACHED ||
        code == JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND) {
        printf("[%s] %s %s by the service (update rejected: %s) - abandoned at step %ld/%ld\n",
               a->opt.thing, j->id, is_terminal(status) ? status_name(status) : "ENDED",
               text ? text : "?", j->step, j->steps);
        fflush(stdout);
        job_finished(a, is_terminal(status) ? status : JOBS_STATUS_CANCELED);
    } else if (code == JOBS_REJECTION_CODE_VERSION_MISMATCH && v > 0) {
        /* Our outstanding update carries expectedVersion j->version: a mismatch that reports
         * exactly that version answers an older duplicate of a request, not this one. */
        if (v == j->version) return;
        printf("[%s] %s version mismatch (now %lld, %s); reporting again\n", a->opt.thing, j->id,
               (long long)v, status_name(status));
        j->version = v;
        send_update(a, j->sent_status, j->sent_details);
    } else if (code == JOBS_REJECTION_CODE_REQUEST_THROTTLED ||
               code == JOBS_REJECTION_CODE_INTERNAL_ERROR) {
        printf("[%s] %s update rejected: %s; retrying in 1 s\n", a->opt.thing, j->id,
               text ? text : "?");
        sleep_ms(1000);
        send_update(a, j->sent_status, j->sent_details);
    } else {
        printf("[%s] %s update rejected: %s (%s)\n", a->opt.thing, j->id, text ? text : "?",
               jobs_message_rejection_message(m) ? jobs_message_rejection_message(m) : "");
        fflush(stdout);
        stop(a, 1);
    }
}

/* After a reconnect the reply to an outstanding update may have been lost: DescribeJobExecution
 * tells whether the update was applied (version moved on) or not, or whether the job ended. */
static void on_describe_reply(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    struct job *j = &a->job;
    const char *topic_job = jobs_message_job_id(m);
    uint32_t status = jobs_message_status(m);
    int64_t v = (int64_t)jobs_message_version_number(m); /* 0: none */
    if (get_state(a) != AGENT_RUNNING || !a->resyncing || topic_job == NULL ||
        strcmp(topic_job, j->id) != 0)
        return;
    a->resyncing = false;
    /* The lost reply turned up after all (the job moved on meanwhile): nothing to repair. */
    if (!a->awaiting || j->version != a->resync_version) return;
    if (jobs_message_reply_type(m) == JOBS_REPLY_TYPE_REJECTED || is_terminal(status)) {
        bool ours = is_terminal(j->sent_status) && status == j->sent_status;
        uint32_t ended = is_terminal(status) ? status : JOBS_STATUS_CANCELED;
        a->awaiting = false;
        if (ours) {
            printf("[%s] %s resynchronized: %s recorded\n", a->opt.thing, j->id,
                   status_name(status));
        } else {
            printf("[%s] %s %s by the service (found after reconnecting) - abandoned at step "
                   "%ld/%ld\n",
                   a->opt.thing, j->id, status_name(ended), j->step, j->steps);
        }
        fflush(stdout);
        job_finished(a, ended);
    } else if (v > j->version) {
        printf("[%s] %s resynchronized: the last update was applied (version %lld)\n",
               a->opt.thing, j->id, (long long)v);
        fflush(stdout);
        a->awaiting = false;
        j->version = v;
        run_step(a);
    } else {
        printf("[%s] %s resynchronized: the last update was not applied; sending it again\n",
               a->opt.thing, j->id);
        fflush(stdout);
        send_update(a, j->sent_status, j->sent_details);
    }
}

static void on_online(void *ud) {
    struct agent *a = (struct agent *)ud;
    enum agent_state s = get_state(a);
    jobs_result rc = JOBS_RESULT_OK;
    if (++a->onlines == 1) return;
    printf("[%s] reconnected\n", a->opt.thing);
    fflush(stdout);
    if (!a->awaiting) return;
    if (s == AGENT_STARTING) {
        start_next(a); /* the reply may be lost; a second start-next is harmless */
    } else if (s == AGENT_RUNNING) {
        a->resyncing = true;
        a->resync_version = a->job.version;
        rc = jobs_send_describe(a->client, a->job.id, 0, false, NULL);
        if (rc != JOBS_RESULT_OK && rc != JOBS_RESULT_TIMEOUT) say_error(a, "describe", rc);
    }
}

static void on_offline(void *ud) {
    struct agent *a = (struct agent *)ud;
    if (get_state(a) == AGENT_DONE) return; /* our own disconnect at the end */
    printf("[%s] connection lost; the library reconnects\n", a->opt.thing);
    fflush(stdout);
}

static void on_notify_next(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    const char *id = jobs_message_execution_job_id(m);
    if (!jobs_message_has_execution(m)) {
        printf("[%s] notify-next: the queue is empty\n", a->opt.thing);
        fflush(stdout);
        return;
    }
    printf("[%s] notify-next: %s is next (%s)\n", a->opt.thing, id ? id : "?",
           status_name(jobs_message_status(m)));
    fflush(stdout);
    /* Busy agents pick it up with their next start-next. */
    if (get_state(a) == AGENT_IDLE) start_next(a);
}

static void on_event(void *ud, uint32_t kind, jobs_result result, const char *topic,
                     const char *message) {
    struct agent *a = (struct agent *)ud;
    printf("[%s] connection event %u: %s %s %s\n", a->opt.thing, (unsigned)kind,
           jobs_result_str(result), topic ? topic : "", message ? message : "");
    fflush(stdout);
}

/* ---------------------------------------------------------------- main */

static int setup(struct agent *a) {
    jobs_config *cfg = NULL;
    jobs_result rc;
    const struct options *o = &a->opt;
    struct sub {
        uint32_t topic, reply;
        const char *job;
        jobs_message_handler cb;
    } subs[7];
    size_t i;

    rc = jobs_config_new(&cfg);
    if (rc != JOBS_RESULT_OK) {
        say_error(a, "jobs_config_new", rc);
        return 1;
    }
#define CFG(call)                         \
    do {                                  \
        rc = (call);                      \
        if (rc != JOBS_RESULT_OK) {       \
            say_error(a, #call, rc);      \
            jobs_config_free(cfg);        \
            return 1;                     \
        }                                 \
    } while (0)
    CFG(jobs_config_set_endpoint(cfg, o->endpoint, (uint16_t)o->port));
    CFG(jobs_config_set_client_id(cfg, o->client_id));
    CFG(jobs_config_set_thing_name(cfg, o->thing));
    CFG(jobs_config_set_jobs_qos(cfg, (uint32_t)o->qos));
    /* The sample's settings: 10 s connect and operation timeouts, backoff 1/32/20 s. */
    CFG(jobs_config_set_timeouts(cfg, 10000, 10000));
    CFG(jobs_config_set_backoff(cfg, 1000, 32000, 20000, true));
    CFG(jobs_config_set_user_data(cfg, a));
    CFG(jobs_config_set_on_event(cfg, on_event));
    CFG(jobs_config_set_on_online_offline(cfg, on_online, on_offline));
    if (o->plain) {
        CFG(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TCP));
    } else {
        CFG(jobs_config_set_transport(cfg, JOBS_TRANSPORT_TLS));
        CFG(jobs_config_set_ca_file(cfg, o->ca));
        CFG(jobs_config_set_cert_file(cfg, o->cert));
        CFG(jobs_config_set_key_file(cfg, o->key));
    }
#undef CFG
    rc = jobs_client_new(cfg, &a->client);
    jobs_config_free(cfg);
    if (rc != JOBS_RESULT_OK) {
        say_error(a, "jobs_client_new", rc);
        return 1;
    }
    rc = jobs_client_connect(a->client);
    if (rc != JOBS_RESULT_OK) {
        say_error(a, "connect", rc);
        return 1;
    }
    printf("[%s] connected to %s:%ld as %s (%s, QoS %ld)\n", o->thing, o->endpoint, o->port,
           o->client_id, o->plain ? "plain TCP" : "mutual TLS", o->qos);

    subs[0].topic = JOBS_TOPIC_TYPE_NOTIFY_NEXT;
    subs[0].reply = JOBS_REPLY_TYPE_REQUEST;
    subs[0].job = NULL;
    subs[0].cb = on_notify_next;
    subs[1].topic = JOBS_TOPIC_TYPE_START_NEXT;
    subs[1].reply = JOBS_REPLY_TYPE_ACCEPTED;
    subs[1].job = NULL;
    subs[1].cb = on_start_next_accepted;
    subs[2].topic = JOBS_TOPIC_TYPE_START_NEXT;
    subs[2].reply = JOBS_REPLY_TYPE_REJECTED;
    subs[2].job = NULL;
    subs[2].cb = on_start_next_rejected;
    subs[3].topic = JOBS_TOPIC_TYPE_UPDATE;
    subs[3].reply = JOBS_REPLY_TYPE_ACCEPTED;
    subs[3].job = "+";
    subs[3].cb = on_update_accepted;
    subs[4].topic = JOBS_TOPIC_TYPE_UPDATE;
    subs[4].reply = JOBS_REPLY_TYPE_REJECTED;
    subs[4].job = "+";
    subs[4].cb = on_update_rejected;
    subs[5].topic = JOBS_TOPIC_TYPE_DESCRIBE;
    subs[5].reply = JOBS_REPLY_TYPE_ACCEPTED;
    subs[5].job = "+";
    subs[5].cb = on_describe_reply;
    subs[6].topic = JOBS_TOPIC_TYPE_DESCRIBE;
    subs[6].reply = JOBS_REPLY_TYPE_REJECTED;
    subs[6].job = "+";
    subs[6].cb = on_describe_reply;
    for (i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        uint32_t delivery = 0;
        rc = jobs_create_subscription(a->client, subs[i].topic, subs[i].reply, subs[i].job,
                                      subs[i].cb, a, &delivery);
        if (rc != JOBS_RESULT_OK) {
            say_error(a, "subscribe", rc);
            return 1;
        }
    }
    printf("[%s] subscribed: notify-next, start-next/accepted|rejected, "
           "+/update/accepted|rejected, +/get/accepted|rejected\n",
           o->thing);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    static struct agent a; /* zeroed; lives until exit */
    int rc;
    enum agent_state s;
    bool timed_out = false;

    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) return 1;
    rc = parse_options(argc, argv, &a.opt);
    if (rc != 0) return rc;
    if (pthread_mutex_init(&a.lock, NULL) != 0) return 1;
    a.state = AGENT_STARTING;
    a.waiting_since = now_s();

    rc = setup(&a);
    if (rc == 0) {
        start_next(&a); /* from main: the sample uses a thread; any thread works */
        for (;;) {
            double idle_for, waiting_for;
            if (pthread_mutex_lock(&a.lock) != 0) abort();
            s = a.state;
            idle_for = now_s() - a.idle_since;
            waiting_for = now_s() - a.waiting_since;
            if (s == AGENT_IDLE && a.opt.idle_exit >= 0 && idle_for >= (double)a.opt.idle_exit) {
                a.state = AGENT_DONE;
                s = AGENT_DONE;
            } else if (s == AGENT_STARTING && waiting_for > (double)a.opt.reply_timeout) {
                /* A running job's own callbacks never block on this; only silence counts. */
                a.state = AGENT_DONE;
                a.exit_code = 1;
                s = AGENT_DONE;
                timed_out = true;
            } else if (s == AGENT_RUNNING && waiting_for > (double)a.opt.reply_timeout + 60.0) {
                /* + 60 s: the longest step (step_ms) a callback may spend working. */
                a.state = AGENT_DONE;
                a.exit_code = 1;
                s = AGENT_DONE;
                timed_out = true;
            }
            if (pthread_mutex_unlock(&a.lock) != 0) abort();
            if (s == AGENT_DONE) break;
            sleep_ms(50);
        }
        if (timed_out)
            printf("[%s] ERROR no reply within %ld s\n", a.opt.thing, a.opt.reply_timeout);
        rc = a.exit_code;
    }
    /* Freeing waits for a running callback to finish; none runs afterwards. */
    if (a.client != NULL) {
        jobs_result d = jobs_client_disconnect(a.client);
        if (d != JOBS_RESULT_OK && d != JOBS_RESULT_CLOSED) say_error(&a, "disconnect", d);
        jobs_client_free(a.client);
        a.client = NULL;
    }
    printf("[%s] done: handled=%ld succeeded=%ld failed=%ld rejected=%ld canceled=%ld exit=%d\n",
           a.opt.thing, a.handled, a.succeeded, a.failed, a.rejected, a.canceled, rc);
    if (pthread_mutex_destroy(&a.lock) != 0) return 1;
    return rc;
}
