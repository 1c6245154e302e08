/*
 * device_agent.c: a device agent that executes AWS IoT Jobs, the Python SDK v1's jobs sample flow
 * (jobsSample.py) on iotjobs' request/response calls: start-next, run the job document step by
 * step with an update per step (expectedVersion and executionNumber from the last reply), end
 * with SUCCEEDED, FAILED or REJECTED, start-next again; once none is pending, wait --idle-exit
 * seconds for notify-next to announce one.
 *
 * Each request has exactly one outcome, so the agent is one loop on the main thread. A reply
 * that does not come within a few seconds (the link was cut while it was on its way) is
 * resynchronized: start-next is asked again; an update is checked by describing the execution
 * and sent again only if it was not applied, so no step is reported twice.
 *
 * Options, job document schema and output: examples-c/README.md. Exit status: 0 after a normal
 * stop, 1 on a connection or protocol failure, 2 on bad arguments. Plain C99 (also valid C++);
 * needs POSIX threads and clocks.
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

#define DETAILS_BUF 1024
#define ATTEMPT_MS 5000 /* how long one request waits for its reply before resynchronizing */
#define MAX_RETRIES 6   /* throttled or internal-error rejections in a row (1 s, doubling) */

/* ---------------------------------------------------------------- options */

struct options {
    const char *endpoint, *thing, *client_id, *ca, *cert, *key;
    bool plain;
    long port; /* 0: 8883 with TLS, 1883 plain */
    long qos;
    long max_jobs;      /* 0: no limit */
    long idle_exit;     /* seconds to wait for a new job once none is pending; -1: forever */
    long reply_timeout; /* seconds without any reply, while connected, before giving up */
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
            "  --reply-timeout SECS   give up when no reply comes for this long while\n"
            "                         connected (default 30)\n",
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
    struct {
        const char *name;
        const char **text; /* a string option, or */
        long *number;      /* an integer option in [min, max] */
        long min, max;
    } known[] = {
        {"--endpoint", &o->endpoint, NULL, 0, 0},   {"--thing", &o->thing, NULL, 0, 0},
        {"--client-id", &o->client_id, NULL, 0, 0}, {"--ca", &o->ca, NULL, 0, 0},
        {"--cert", &o->cert, NULL, 0, 0},           {"--key", &o->key, NULL, 0, 0},
        {"--port", NULL, &o->port, 1, 65535},       {"--qos", NULL, &o->qos, 0, 1},
        {"--max-jobs", NULL, &o->max_jobs, 0, 1000000},
        {"--idle-exit", NULL, &o->idle_exit, -1, 86400},
        {"--reply-timeout", NULL, &o->reply_timeout, 1, 3600},
    };
    size_t n = sizeof known / sizeof known[0], k;
    int i;
    memset(o, 0, sizeof *o);
    o->qos = 1;
    o->reply_timeout = 30;
    for (i = 1; i < argc; i++) {
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (strcmp(argv[i], "--plain") == 0) {
            o->plain = true;
            continue;
        }
        for (k = 0; k < n && strcmp(argv[i], known[k].name) != 0; k++) {
        }
        if (k == n) {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
            usage(stderr, argv[0]);
            return 2;
        } else if (v == NULL) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]);
            return 2;
        } else if (known[k].text != NULL) {
            *known[k].text = v;
        } else if (!parse_long(v, known[k].min, known[k].max, known[k].number)) {
            fprintf(stderr, "%s: bad value for %s: '%s'\n", argv[0], argv[i], v);
            return 2;
        }
        i++;
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

/* ---------------------------------------------------------------- the agent */

struct agent {
    struct options opt;
    jobs_client *client;
    pthread_mutex_t lock; /* guards the next five, which callbacks use */
    bool announced;       /* notify-next named a job since the last start-next */
    bool stopping;        /* our own disconnect is under way */
    bool online;          /* the link is up */
    long cuts, cuts_seen; /* times the link went down; as last seen by link_was_down() */
    int onlines;          /* online callbacks so far (callback thread only) */
    long silent_ms;       /* waited, connected, for replies that never came since the last */
    long handled, succeeded, failed, rejected, canceled;
};

struct job {
    const char *id, *operation; /* borrowed from the start-next reply, which outlives the job */
    int64_t steps, step_ms, fail_at_step; /* fail_at_step 0: none */
    int64_t step;                         /* steps done so far */
    uint64_t version;                     /* expectedVersion of the next update */
    uint64_t execution;                   /* executionNumber */
    uint32_t ended;                       /* the status the service ended the job with */
};

enum answer { ACCEPTED, REJECTED, LOST, RETRY, STOP }; /* LOST: no reply within ATTEMPT_MS */
enum outcome { REPORTED, RESEND, JOB_ENDED, AGENT_FAILED }; /* of reporting a status */

static void sleep_ms(long ms) {
    struct timespec ts;
    if (ms <= 0) return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void set_flag(struct agent *a, bool *flag, bool value) {
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    *flag = value;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
}

static bool get_flag(struct agent *a, const bool *flag) {
    bool v;
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    v = *flag;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
    return v;
}

/* True when the link is down or went down since the last call. */
static bool link_was_down(struct agent *a) {
    bool down;
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    down = !a->online || a->cuts != a->cuts_seen;
    a->cuts_seen = a->cuts;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
    return down;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

static void say_error(const struct agent *a, const char *what, jobs_result rc) {
    char msg[512];
    if (jobs_last_error_message(msg, sizeof msg) == 0) msg[0] = '\0';
    /* The last-error message already starts with the result's description. */
    printf("[%s] ERROR %s: %s\n", a->opt.thing, what, msg[0] ? msg : jobs_result_str(rc));
}

static bool is_terminal(uint32_t s) {
    return s != JOBS_STATUS_QUEUED && s != JOBS_STATUS_IN_PROGRESS && s != JOBS_STATUS_NOT_SET;
}

static uint32_t attempt_ms(const struct agent *a) {
    long limit = a->opt.reply_timeout * 1000;
    return (uint32_t)(limit < ATTEMPT_MS ? limit : ATTEMPT_MS);
}

/* What the result `rc` of a request means. A reply, accepted or rejected, is left in *r for
 * the caller to free. RETRY: a throttled or internal-error rejection, to be sent again after the
 * 1, 2, 4 ... s this waited, as AWS asks. STOP: said why (no reply came for --reply-timeout, or
 * the request cannot be made). */
static enum answer answer_of(struct agent *a, const char *what, jobs_result rc, jobs_reply **r,
                             int *retries) {
    const jobs_message *m = jobs_reply_message(*r);
    uint32_t code = jobs_message_rejection_code(m);
    if (rc == JOBS_RESULT_TIMEOUT) {
        /* Silence explained by a lost link does not count: the library reconnects by itself. */
        a->silent_ms = link_was_down(a) ? 0 : a->silent_ms + (long)attempt_ms(a);
        if (a->silent_ms < a->opt.reply_timeout * 1000) {
            printf("[%s] %s: no reply within %u ms; resynchronizing\n", a->opt.thing, what,
                   (unsigned)attempt_ms(a));
            return LOST;
        }
        printf("[%s] ERROR no reply within %ld s\n", a->opt.thing, a->opt.reply_timeout);
        return STOP;
    } else if (rc != JOBS_RESULT_OK && rc != JOBS_RESULT_REJECTED) {
        say_error(a, what, rc);
        return STOP;
    }
    a->silent_ms = 0;
    if (rc == JOBS_RESULT_OK) return ACCEPTED;
    if (code != JOBS_REJECTION_CODE_REQUEST_THROTTLED && code != JOBS_REJECTION_CODE_INTERNAL_ERROR)
        return REJECTED;
    if (*retries == MAX_RETRIES)
        printf("[%s] ERROR %s rejected: %s, %d times in a row\n", a->opt.thing, what,
               or_empty(jobs_message_rejection_text(m)), MAX_RETRIES + 1);
    else
        printf("[%s] %s rejected: %s; retrying in %ld s\n", a->opt.thing, what,
               or_empty(jobs_message_rejection_text(m)), 1L << *retries);
    jobs_reply_free(*r);
    *r = NULL;
    if (*retries == MAX_RETRIES) return STOP;
    sleep_ms(1000L << (*retries)++);
    return RETRY;
}

/* The value of status detail `key` in `m`, or NULL. */
static const char *status_detail(const jobs_message *m, const char *key) {
    size_t i, n = jobs_message_status_details_count(m);
    for (i = 0; i < n; i++) {
        const char *k = NULL, *v = NULL;
        if (jobs_message_status_detail(m, i, &k, &v) == JOBS_RESULT_OK && k != NULL &&
            strcmp(k, key) == 0)
            return v;
    }
    return NULL;
}

/* After a lost reply or a VersionMismatch: describes the execution to learn whether the update
 * (`status`, with statusDetails.step `step`, NULL for none) was applied. */
static enum outcome resync(struct agent *a, struct job *j, uint32_t status, const char *step) {
    jobs_describe_args args;
    jobs_reply *r = NULL;
    enum answer ans;
    enum outcome out;
    uint32_t now;
    int retries = 0;
    jobs_describe_args_init(&args);
    args.job_id = j->id;
    args.execution_number = j->execution;
    args.include_job_document = false;
    args.options.timeout_ms = attempt_ms(a);
    do { /* asking again until answered is safe: describe changes nothing */
        jobs_result rc = jobs_describe(a->client, &args, &r);
        ans = answer_of(a, "describe", rc, &r, &retries);
    } while (ans == LOST || ans == RETRY);
    if (ans == STOP) return AGENT_FAILED;
    now = ans == ACCEPTED ? jobs_message_status(jobs_reply_message(r)) : JOBS_STATUS_CANCELED;
    if (now == status && is_terminal(now)) {
        printf("[%s] %s resynchronized: %s recorded\n", a->opt.thing, j->id,
               jobs_status_str(now));
        out = REPORTED;
    } else if (is_terminal(now)) { /* including a rejected describe: the execution is gone */
        printf("[%s] %s %s by the service (found by describing it) - abandoned at step "
               "%lld/%lld\n", a->opt.thing, j->id, jobs_status_str(now), (long long)j->step,
               (long long)j->steps);
        j->ended = now;
        out = JOB_ENDED;
    } else {
        const jobs_message *m = jobs_reply_message(r);
        const char *seen = status_detail(m, "step");
        uint64_t v = jobs_message_version_number(m);
        bool applied = now == status && v > j->version &&
                       (step == NULL || (seen != NULL && strcmp(seen, step) == 0));
        printf(applied ? "[%s] %s resynchronized: the last update was applied (version %llu)\n"
                       : "[%s] %s resynchronized: the last update was not applied (version "
                         "%llu); sending it again\n",
               a->opt.thing, j->id, (unsigned long long)v);
        j->version = v;
        out = applied ? REPORTED : RESEND;
    }
    jobs_reply_free(r);
    return out;
}

/* Reports the job's `status` until it is recorded, or the job or the agent ends. */
static enum outcome report(struct agent *a, struct job *j, uint32_t status, const char *details,
                           const char *step) {
    char what[96];
    enum outcome out = RESEND;
    int retries = 0;
    snprintf(what, sizeof what, "%s update", j->id);
    while (out == RESEND) {
        jobs_update_args args;
        jobs_reply *r = NULL;
        enum answer ans;
        const jobs_message *m;
        uint32_t code, now;
        jobs_update_args_init(&args);
        args.job_id = j->id;
        args.status = status;
        args.status_details = details;
        args.expected_version = j->version;
        args.execution_number = j->execution;
        args.include_job_execution_state = true; /* a rejection then says what the job is */
        args.options.timeout_ms = attempt_ms(a);
        ans = answer_of(a, what, jobs_update(a->client, &args, &r), &r, &retries);
        m = jobs_reply_message(r);
        code = jobs_message_rejection_code(m);
        now = jobs_message_status(m);
        if (ans == STOP) {
            out = AGENT_FAILED;
        } else if (ans == RETRY) {
            out = RESEND;
        } else if (ans == LOST) {
            out = resync(a, j, status, step);
        } else if (ans == ACCEPTED) {
            uint64_t v = jobs_message_version_number(m);
            j->version = v > 0 ? v : j->version + 1;
            if (is_terminal(status))
                printf("[%s] %s %s recorded (version %llu)\n", a->opt.thing, j->id,
                       jobs_status_str(status), (unsigned long long)j->version);
            out = REPORTED;
        } else if (is_terminal(now) && now == status) { /* a retransmission's answer */
            printf("[%s] %s %s recorded\n", a->opt.thing, j->id, jobs_status_str(now));
            out = REPORTED;
        } else if (is_terminal(now) || code == JOBS_REJECTION_CODE_INVALID_STATE_TRANSITION ||
                   code == JOBS_REJECTION_CODE_TERMINAL_STATE_REACHED ||
                   code == JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND) {
            j->ended = is_terminal(now) ? now : JOBS_STATUS_CANCELED;
            printf("[%s] %s %s by the service (update rejected: %s) - abandoned at step "
                   "%lld/%lld\n", a->opt.thing, j->id, is_terminal(now) ? jobs_status_str(now)
                   : "ENDED", or_empty(jobs_message_rejection_text(m)), (long long)j->step,
                   (long long)j->steps);
            out = JOB_ENDED;
        } else if (code == JOBS_REJECTION_CODE_VERSION_MISMATCH) {
            printf("[%s] %s version mismatch (now %llu, %s); describing it\n", a->opt.thing,
                   j->id, (unsigned long long)jobs_message_version_number(m),
                   jobs_status_str(now));
            out = resync(a, j, status, step);
        } else {
            printf("[%s] %s rejected: %s (%s)\n", a->opt.thing, what,
                   or_empty(jobs_message_rejection_text(m)),
                   or_empty(jobs_message_rejection_message(m)));
            out = AGENT_FAILED;
        }
        jobs_reply_free(r);
    }
    return out;
}

/* Reads integer `path` into `*out` when present; false when it is there but no integer in
 * [min, max]. */
static bool doc_int(const jobs_document *doc, const char *path, int64_t min, int64_t max,
                    int64_t *out) {
    int64_t v = 0;
    jobs_result rc = jobs_document_get_int(doc, path, &v);
    if (rc == JOBS_RESULT_NOT_FOUND) return true;
    if (rc != JOBS_RESULT_OK || v < min || v > max) return false;
    *out = v;
    return true;
}

/* Reads the job document; NULL when it fits the schema, else why not. */
static const char *load_job(struct job *j, const jobs_document *doc, char *why, size_t len) {
    const char *op = NULL, *p;
    size_t op_len = 0;
    j->steps = 1;
    if (doc == NULL) return "no job document";
    if (jobs_document_get_string(doc, "operation", &op, &op_len) != JOBS_RESULT_OK ||
        op_len == 0 || op_len > 63 || strlen(op) != op_len)
        return "operation must be a string of 1-63 characters";
    for (p = op; *p != '\0'; p++) /* it goes into JSON strings as it is */
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return "operation contains quotes or control characters";
    j->operation = op;
    if (!doc_int(doc, "steps", 1, 100, &j->steps)) return "steps must be an integer 1-100";
    if (!doc_int(doc, "step_ms", 0, 60000, &j->step_ms))
        return "step_ms must be an integer 0-60000";
    if (!doc_int(doc, "fail_at_step", 1, j->steps, &j->fail_at_step)) {
        snprintf(why, len, "fail_at_step must be an integer 1-%lld", (long long)j->steps);
        return why;
    }
    return NULL;
}

/* Runs the execution of a start-next reply; returns its final status, or NOT_SET to stop. */
static uint32_t run_job(struct agent *a, const jobs_message *m) {
    struct job j;
    char details[DETAILS_BUF], step[48], why[64];
    size_t doc_len = 0;
    const char *bad, *doc = jobs_message_job_document(m, &doc_len);
    uint32_t status = JOBS_STATUS_IN_PROGRESS;
    enum outcome out = REPORTED;
    memset(&j, 0, sizeof j);
    j.id = jobs_message_execution_job_id(m);
    j.version = jobs_message_version_number(m);
    j.execution = jobs_message_execution_number(m);
    if (j.id == NULL) {
        printf("[%s] ERROR start-next accepted without a job id\n", a->opt.thing);
        return JOBS_STATUS_NOT_SET;
    }
    printf("[%s] %s started (%s, version %llu, execution %llu): %.*s\n", a->opt.thing, j.id,
           jobs_status_str(jobs_message_status(m)), (unsigned long long)j.version,
           (unsigned long long)j.execution, (int)(doc_len > 400 ? 400 : doc_len), or_empty(doc));
    bad = load_job(&j, jobs_message_document(m), why, sizeof why);
    if (bad != NULL) {
        snprintf(details, sizeof details, "{\"reason\":\"bad job document: %s\"}", bad);
        printf("[%s] %s REJECTED: bad job document: %s\n", a->opt.thing, j.id, bad);
        status = JOBS_STATUS_REJECTED;
        out = report(a, &j, status, details, NULL);
    } else {
        printf("[%s] %s IN_PROGRESS 0%% %s: %lld step(s) of %lld ms\n", a->opt.thing, j.id,
               j.operation, (long long)j.steps, (long long)j.step_ms);
    }
    while (out == REPORTED && !is_terminal(status)) {
        long long k = (long long)++j.step, n = (long long)j.steps, pct = k * 100 / n;
        sleep_ms((long)j.step_ms); /* the simulated work of this step */
        snprintf(step, sizeof step, "%lld/%lld", k, n);
        if (k == (long long)j.fail_at_step) {
            status = JOBS_STATUS_FAILED;
            snprintf(details, sizeof details, "{\"operation\":\"%s\",\"step\":\"%s\",\"reason\":"
                     "\"step %lld of %s failed (fail_at_step)\"}", j.operation, step, k,
                     j.operation);
            printf("[%s] %s FAILED at step %s: step %lld of %s failed (fail_at_step)\n",
                   a->opt.thing, j.id, step, k, j.operation);
        } else {
            status = k == n ? JOBS_STATUS_SUCCEEDED : JOBS_STATUS_IN_PROGRESS;
            snprintf(details, sizeof details,
                     "{\"operation\":\"%s\",\"step\":\"%s\",\"progress\":\"%lld%%\"}",
                     j.operation, step, pct);
            if (k == n)
                printf("[%s] %s SUCCEEDED 100%% step %s (%s done)\n", a->opt.thing, j.id, step,
                       j.operation);
            else
                printf("[%s] %s IN_PROGRESS %lld%% step %s\n", a->opt.thing, j.id, pct, step);
        }
        out = report(a, &j, status, details, step);
    }
    return out == JOB_ENDED ? j.ended : out == REPORTED ? status : JOBS_STATUS_NOT_SET;
}

/* StartNextPendingJobExecution until it is answered; NULL (said why) to stop. */
static jobs_reply *start_next(struct agent *a) {
    jobs_start_next_args args;
    jobs_reply *r = NULL;
    enum answer ans;
    int retries = 0;
    jobs_start_next_args_init(&args);
    args.status_details = "{\"startedBy\":\"device_agent\"}";
    args.options.timeout_ms = attempt_ms(a);
    set_flag(a, &a->announced, false);
    do { /* asking again after a lost reply is safe: it answers with the job now IN_PROGRESS */
        jobs_result rc = jobs_start_next(a->client, &args, &r);
        ans = answer_of(a, "start-next", rc, &r, &retries);
    } while (ans == LOST || ans == RETRY);
    if (ans == REJECTED) {
        const jobs_message *m = jobs_reply_message(r);
        printf("[%s] start-next rejected: %s (%s)\n", a->opt.thing,
               or_empty(jobs_message_rejection_text(m)),
               or_empty(jobs_message_rejection_message(m)));
        jobs_reply_free(r);
        r = NULL;
    }
    return r;
}

/* Once no job is pending: true when notify-next announces one within --idle-exit. */
static bool wait_for_announcement(struct agent *a) {
    long ticks = a->opt.idle_exit * 20; /* 50 ms each */
    while (!get_flag(a, &a->announced)) {
        if (a->opt.idle_exit >= 0 && ticks-- <= 0) return false;
        sleep_ms(50);
    }
    return true;
}

/* ---- callbacks (on the library's callback thread, one at a time) ---- */

static void on_notify_next(void *ud, const jobs_message *m) {
    struct agent *a = (struct agent *)ud;
    if (!jobs_message_has_execution(m)) {
        printf("[%s] notify-next: the queue is empty\n", a->opt.thing);
        return;
    }
    printf("[%s] notify-next: %s is next (%s)\n", a->opt.thing,
           or_empty(jobs_message_execution_job_id(m)), jobs_status_str(jobs_message_status(m)));
    set_flag(a, &a->announced, true); /* a busy agent picks it up with its next start-next */
}

static void on_online(void *ud) {
    struct agent *a = (struct agent *)ud;
    set_flag(a, &a->online, true);
    if (++a->onlines > 1) printf("[%s] reconnected\n", a->opt.thing);
}

static void on_offline(void *ud) {
    struct agent *a = (struct agent *)ud;
    bool ours;
    if (pthread_mutex_lock(&a->lock) != 0) abort();
    a->online = false;
    a->cuts++;
    ours = a->stopping;
    if (pthread_mutex_unlock(&a->lock) != 0) abort();
    if (!ours) /* our own disconnect at the end needs no word */
        printf("[%s] connection lost; the library reconnects\n", a->opt.thing);
}

static void on_event(void *ud, uint32_t kind, jobs_result result, const char *topic,
                     const char *message) {
    struct agent *a = (struct agent *)ud;
    printf("[%s] connection event %s: %s %s %s\n", a->opt.thing, jobs_event_kind_str(kind),
           jobs_result_str(result), or_empty(topic), or_empty(message));
}

/* ---------------------------------------------------------------- main */

/* Creates the client and connects; 0, or 1 after saying why not. */
static int setup(struct agent *a) {
    const struct options *o = &a->opt;
    jobs_config *cfg = NULL;
    jobs_result rc = jobs_config_new(&cfg);
    if (rc != JOBS_RESULT_OK) say_error(a, "jobs_config_new", rc);
#define CFG(call) \
    if (rc == JOBS_RESULT_OK && (rc = (call)) != JOBS_RESULT_OK) say_error(a, #call, rc)
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
    CFG(jobs_config_set_transport(cfg, o->plain ? JOBS_TRANSPORT_TCP : JOBS_TRANSPORT_TLS));
    if (!o->plain) {
        CFG(jobs_config_set_ca_file(cfg, o->ca));
        CFG(jobs_config_set_cert_file(cfg, o->cert));
        CFG(jobs_config_set_key_file(cfg, o->key));
    }
#undef CFG
    if (rc == JOBS_RESULT_OK && (rc = jobs_client_new(cfg, &a->client)) != JOBS_RESULT_OK)
        say_error(a, "jobs_client_new", rc);
    jobs_config_free(cfg);
    set_flag(a, &a->online, true); /* before connecting: an offline callback may follow at once */
    if (rc == JOBS_RESULT_OK && (rc = jobs_client_connect(a->client)) != JOBS_RESULT_OK)
        say_error(a, "connect", rc);
    if (rc != JOBS_RESULT_OK) return 1;
    printf("[%s] connected to %s:%ld as %s (%s, QoS %ld)\n", o->thing, o->endpoint, o->port,
           o->client_id, o->plain ? "plain TCP" : "mutual TLS", o->qos);
    /* The library subscribes to notify-next and keeps the subscription across reconnects. */
    rc = jobs_client_set_event_callback(a->client, JOBS_TOPIC_TYPE_NOTIFY_NEXT, on_notify_next, a);
    if (rc != JOBS_RESULT_OK) say_error(a, "notify-next", rc);
    return rc == JOBS_RESULT_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    static struct agent a; /* zeroed; lives until exit */
    int rc;
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0) return 1; /* line by line, also into a pipe */
    rc = parse_options(argc, argv, &a.opt);
    if (rc != 0) return rc;
    if (pthread_mutex_init(&a.lock, NULL) != 0) return 1;
    rc = setup(&a);
    while (rc == 0) {
        jobs_reply *r = start_next(&a);
        const jobs_message *m = jobs_reply_message(r);
        uint32_t status;
        if (r == NULL) {
            rc = 1;
        } else if (!jobs_message_has_execution(m)) {
            printf("[%s] no pending job\n", a.opt.thing);
            jobs_reply_free(r);
            if (!wait_for_announcement(&a)) break;
        } else {
            status = run_job(&a, m);
            jobs_reply_free(r);
            if (status == JOBS_STATUS_NOT_SET) {
                rc = 1;
                break;
            }
            a.handled++;
            if (status == JOBS_STATUS_SUCCEEDED) a.succeeded++;
            else if (status == JOBS_STATUS_FAILED) a.failed++;
            else if (status == JOBS_STATUS_REJECTED) a.rejected++;
            else a.canceled++;
            if (a.opt.max_jobs > 0 && a.handled >= a.opt.max_jobs) {
                printf("[%s] handled %ld job(s): --max-jobs reached\n", a.opt.thing, a.handled);
                break;
            }
        }
    }
    if (a.client != NULL) { /* freeing waits for a running callback; none runs afterwards */
        jobs_result d;
        set_flag(&a, &a.stopping, true);
        d = jobs_client_disconnect(a.client);
        if (d != JOBS_RESULT_OK && d != JOBS_RESULT_CLOSED) say_error(&a, "disconnect", d);
        jobs_client_free(a.client);
    }
    printf("[%s] done: handled=%ld succeeded=%ld failed=%ld rejected=%ld canceled=%ld exit=%d\n",
           a.opt.thing, a.handled, a.succeeded, a.failed, a.rejected, a.canceled, rc);
    pthread_mutex_destroy(&a.lock);
    return rc;
}
