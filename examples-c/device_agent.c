/* device_agent.c: an AWS IoT Jobs device agent on the library's job agent, which takes each job,
 * runs its operation's handler on a worker thread and reports across disconnects and restarts;
 * this program only does the work (examples-c/README.md). C99, also C++11; POSIX threads. */
#if !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "iotjobs.h"

static struct {
    const char *endpoint, *thing, *client_id, *ca, *cert, *key, *journal;
    pthread_mutex_t lock; /* guards the counters (runs on), shared by main, callbacks, handlers */
    long plain, port, qos, max_jobs, idle_exit, runs, stopping, acks, beats, idle_ms;
} A;

static void sleep_ms(long ms) { /* below a second */
    struct timespec t = {0, 0};
    t.tv_nsec = ms * 1000000L;
    nanosleep(&t, NULL);
}
static long add(long *f, long by) { /* returns the sum; every call is a sign of activity */
    long v;
    pthread_mutex_lock(&A.lock);
    v = *f += by;
    A.idle_ms = 0;
    pthread_mutex_unlock(&A.lock);
    return v;
}
static void say_error(const char *what) { /* `what` up to '(' (a call's name), the reason */
    char msg[512] = "";
    jobs_last_error_message(msg, sizeof msg); /* it starts with the result's description */
    printf("[%s] ERROR %.*s: %s\n", A.thing, (int)strcspn(what, "("), what, msg);
}
/* Integer `path` into *out if there; 0 when it is there but not an integer in [min, max]. */
static int doc_int(jobs_job *job, const char *path, long long min, long long max, long long *out) {
    int64_t v = *out;
    jobs_result rc = jobs_document_get_int(jobs_job_document(job), path, &v);
    *out = (long long)v;
    return rc == JOBS_RESULT_NOT_FOUND || (rc == JOBS_RESULT_OK && v >= min && v <= max);
}
/* Simulated work; true once the job is cancelled. It beats, so a busy agent never looks idle. */
static int work(jobs_job *job, long long ms) {
    for (; ms > 0 && !jobs_job_is_cancelled(job); ms -= 20, add(&A.beats, 1))
        sleep_ms(ms < 20 ? (long)ms : 20);
    return jobs_job_is_cancelled(job);
}
/* Waits (60 s at most) for the service to take it: the agent sends only the latest update. */
static void progress(jobs_job *job, const char *details) {
    long acks = add(&A.acks, 0), ms = 0;
    if (jobs_job_progress(job, details, 0) != JOBS_RESULT_OK) return;
    while (add(&A.acks, 0) == acks && !jobs_job_is_cancelled(job) && (ms += 5) < 60000) sleep_ms(5);
}
/* Ends the job; the --max-jobs-th waits for the stop to be under way, so no job follows it. */
static void end(jobs_job *job, uint32_t status, const char *details) {
    jobs_result rc;
    printf("[%s] %s %s %s\n", A.thing, jobs_job_id(job), jobs_status_str(status), details);
    while (A.max_jobs > 0 && add(&A.runs, 0) >= A.max_jobs && !add(&A.stopping, 0)) sleep_ms(5);
    rc = status == JOBS_STATUS_SUCCEEDED ? jobs_job_succeed(job, details)
         : status == JOBS_STATUS_FAILED  ? jobs_job_fail(job, details)
                                         : jobs_job_reject(job, details);
    if (rc != JOBS_RESULT_OK) say_error(jobs_job_id(job));
}
/* Other operations: `steps` steps, each reported, then checkpointed (as steps done) to resume. */
static void run_steps(void *ud, jobs_job *job) {
    const uint8_t *saved = NULL;
    size_t len = 0;
    long long steps = 1, step_ms = 0, fail_at = 0, k = 0;
    char details[160];
    add((long *)ud, 1);
    if (!doc_int(job, "steps", 1, 100, &steps) || !doc_int(job, "step_ms", 0, 60000, &step_ms) ||
        !doc_int(job, "fail_at_step", 1, steps, &fail_at)) {
        end(job, JOBS_STATUS_REJECTED, "{\"reason\":\"bad job document: steps (1-100), step_ms "
            "(0-60000) and fail_at_step (1-steps) are integers\"}");
        return;
    }
    if (jobs_job_saved_checkpoint(job, &saved, &len) == JOBS_RESULT_OK && len == sizeof k) {
        memcpy(&k, saved, sizeof k);
        printf("[%s] %s resumed at step %lld/%lld\n", A.thing, jobs_job_id(job), k, steps);
    }
    while (!work(job, step_ms) && ++k != fail_at && k < steps) {
        snprintf(details, sizeof details, "{\"step\":\"%lld/%lld\",\"progress\":\"%lld%%\"}", k,
                 steps, k * 100 / steps);
        progress(job, details);
        if (jobs_job_checkpoint(job, &k, sizeof k) == JOBS_RESULT_IO) say_error("checkpoint");
        printf("[%s] %s IN_PROGRESS %s\n", A.thing, jobs_job_id(job), details);
    }
    if (jobs_job_is_cancelled(job)) return;
    snprintf(details, sizeof details, "{\"step\":\"%lld/%lld\",\"%s\":\"%s\"}", k, steps,
             k == fail_at ? "reason" : "progress", k == fail_at ? "fail_at_step reached" : "100%");
    end(job, k == fail_at ? JOBS_STATUS_FAILED : JOBS_STATUS_SUCCEEDED, details);
}
/* Firmware: writes the image, checkpoints "rebooting" and exits as a reboot would; the next
 * start (same --journal) resumes the job, and the handler finds the checkpoint and confirms. */
static void firmware(void *ud, jobs_job *job) {
    const char *v = "", *id = jobs_job_id(job);
    const uint8_t *saved = NULL;
    size_t n = 0, len = 0;
    char details[64];
    add((long *)ud, 1);
    jobs_document_get_string(jobs_job_document(job), "version", &v, &n);
    snprintf(details, sizeof details, "{\"version\":\"%s\"}", v);
    if (A.journal == NULL || n == 0 || n > 32 || strspn(v, "0123456789.") != n) {
        end(job, JOBS_STATUS_REJECTED, "{\"reason\":\"firmware needs --journal and a version of "
            "1-32 digits and dots\"}");
    } else if (jobs_job_saved_checkpoint(job, &saved, &len) == JOBS_RESULT_OK && len == 9 &&
               memcmp(saved, "rebooting", 9) == 0) {
        printf("[%s] %s firmware %s runs after the reboot: confirmed\n", A.thing, id, v);
        end(job, JOBS_STATUS_SUCCEEDED, details);
    } else if (!work(job, 300) && jobs_job_checkpoint(job, "rebooting", 9) == JOBS_RESULT_OK) {
        printf("[%s] %s firmware %s written; rebooting\n", A.thing, id, v); /* line-buffered */
        _Exit(0); /* no clean-up, as with a reboot: the journal holds the job */
    } /* else cancelled, or the journal failed: returning without a status fails the job */
}
static void on_event(void *ud, const jobs_agent_event *e) { /* on the callback thread */
    add(e->kind == JOBS_AGENT_EVENT_KIND_PROGRESS_SENT ? (long *)ud : &A.beats, 1);
    if (e->kind != JOBS_AGENT_EVENT_KIND_PROGRESS_SENT) /* the handler prints the steps */
        printf("[%s] %s %s %s %s\n", A.thing, e->job_id != NULL ? e->job_id : "-",
               jobs_agent_event_kind_str(e->kind), jobs_status_str(e->status), e->reason);
}
static int parse_options(int argc, char **argv) {
    struct { const char *name, **text; long *num, min, max; } o[] = {
        {"--endpoint", &A.endpoint, NULL, 0, 0}, {"--thing", &A.thing, NULL, 0, 0},
        {"--client-id", &A.client_id, NULL, 0, 0}, {"--journal", &A.journal, NULL, 0, 0},
        {"--ca", &A.ca, NULL, 0, 0}, {"--cert", &A.cert, NULL, 0, 0}, {"--key", &A.key, NULL, 0, 0},
        {"--qos", NULL, &A.qos, 0, 1}, {"--max-jobs", NULL, &A.max_jobs, 0, 1000000},
        {"--port", NULL, &A.port, 1, 65535}, {"--idle-exit", NULL, &A.idle_exit, -1, 86400}};
    int i, k, n = (int)(sizeof o / sizeof o[0]);
    char *end = NULL;
    for (A.qos = 1, A.idle_exit = 2, i = 1; i < argc; i++) {
        for (k = 0; k < n && strcmp(argv[i], o[k].name) != 0; k++) {}
        if (strcmp(argv[i], "--plain") == 0) A.plain = 1;
        else if (k == n || ++i == argc) break; /* unknown, or without its value */
        else if (o[k].text != NULL) *o[k].text = argv[i];
        else if ((*o[k].num = strtol(argv[i], &end, 10)) < o[k].min || *o[k].num > o[k].max ||
                 *end != '\0' || end == argv[i]) break;
    }
    if (i < argc || !A.endpoint || !A.thing || !(A.plain || (A.ca && A.cert && A.key))) {
        fprintf(stderr, "usage: %s --endpoint HOST --thing NAME (--plain | --ca F --cert F --key F)"
                "\n  [--port N] [--client-id ID] [--qos 0|1] [--journal PATH] [--max-jobs N] "
                "[--idle-exit S]\n", argv[0]);
        return 2;
    }
    A.port = A.port != 0 ? A.port : A.plain ? 1883 : 8883;
    return 0;
}
#define CALL(call) /* goes on while all went well; says what failed */ \
    if (rc == JOBS_RESULT_OK && (rc = (call)) != JOBS_RESULT_OK) say_error(#call)
int main(int argc, char **argv) {
    jobs_config *cfg = NULL;
    jobs_client *client = NULL;
    jobs_agent *agent = NULL;
    jobs_agent_config ac;
    jobs_agent_handler h;
    jobs_result rc = JOBS_RESULT_OK;
    if (parse_options(argc, argv) != 0) return 2;
    if (setvbuf(stdout, NULL, _IOLBF, 0) != 0 || pthread_mutex_init(&A.lock, NULL) != 0) return 1;
    CALL(jobs_config_new(&cfg));
    CALL(jobs_config_set_endpoint(cfg, A.endpoint, (uint16_t)A.port));
    CALL(jobs_config_set_client_id(cfg, A.client_id != NULL ? A.client_id : A.thing));
    CALL(jobs_config_set_thing_name(cfg, A.thing));
    CALL(jobs_config_set_jobs_qos(cfg, (uint32_t)A.qos));
    CALL(jobs_config_set_transport(cfg, A.plain ? JOBS_TRANSPORT_TCP : JOBS_TRANSPORT_TLS));
    if (A.ca != NULL) CALL(jobs_config_set_ca_file(cfg, A.ca));
    if (A.cert != NULL) CALL(jobs_config_set_cert_file(cfg, A.cert));
    if (A.key != NULL) CALL(jobs_config_set_key_file(cfg, A.key));
    CALL(jobs_client_new(cfg, &client));
    jobs_config_free(cfg);
    CALL(jobs_client_connect(client));
    jobs_agent_config_init(&ac);
    ac.journal_path = A.journal;
    ac.on_event = on_event;
    ac.user_data = &A.acks; /* where the events count acknowledged progress */
    CALL(jobs_agent_new(client, &ac, &agent));
    jobs_agent_handler_init(&h); /* resumes a job interrupted by a restart */
    h.user_data = &A.runs;       /* where the handlers count their runs */
    h.run = run_steps;           /* the default handler, of every operation without its own */
    CALL(jobs_agent_set_handler(agent, NULL, &h));
    h.run = firmware;
    CALL(jobs_agent_set_handler(agent, "firmware", &h));
    CALL(jobs_agent_start(agent));
    while (rc == JOBS_RESULT_OK && !A.stopping) { /* after --max-jobs, or --idle-exit s online */
        sleep_ms(50);
        pthread_mutex_lock(&A.lock);
        A.idle_ms = jobs_connection_get_state(jobs_client_connection(client)) ==
                    JOBS_CONNECTION_STATE_ONLINE ? A.idle_ms + 50 : 0; /* offline does not count */
        A.stopping = (A.max_jobs > 0 && A.runs >= A.max_jobs) ||
                     (A.idle_exit >= 0 && A.idle_ms >= A.idle_exit * 1000);
        pthread_mutex_unlock(&A.lock);
    }
    CALL(jobs_agent_stop(agent, 0xFFFFFFFFu)); /* once the job under way, if any, has ended */
    jobs_agent_free(agent); /* before the client it runs on */
    jobs_client_free(client);
    printf("[%s] done: ran %ld job(s), exit %d\n", A.thing, A.runs, rc != JOBS_RESULT_OK);
    return rc == JOBS_RESULT_OK ? 0 : 1;
}
