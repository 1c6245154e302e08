/*
 * The job agent from C, end to end: one agent for THING runs the jobs the Rust harness
 * (tests/agent_c.rs) created in the emulator, each handled as its document says, and prints
 * what happened (handler steps, the agent's events, its counters), each line stamped with the
 * seconds since the program started, for the harness to check against the emulator.
 *
 * A job document drives its handler:
 *   "steps": N, "step_ms": M      N progress updates ({"step": "i/N"}), M ms apart;
 *   "result": "succeed" (default), "fail", "reject" or "return" (return with no status);
 *   "fail_first": true             "fail" for execution 1, "succeed" for later ones;
 *   "until_cancelled": true        report progress every 50 ms ("quiet": true: none) until the
 *                                  service cancels or times the job out (at most 30 s), then
 *                                  try to succeed;
 *   "wait_file": PATH, "wait_at": K   before step K (default N, i.e. before the final status)
 *                                  print "WAIT <job> <K>" and wait (at most 60 s) for PATH;
 *   "bump": true                   right after that wait another client updates the execution,
 *                                  so the agent's expected version is stale;
 *   "checkpoint": BYTES            save a checkpoint of that size first and print the result;
 *   "expect_op": OP                jobs_job_operation must return OP.
 *
 * Usage: agent_jobs HOST PORT THING [--journal PATH] [--ops OP,OP,...] [--default]
 *          [--step-timeout MIN] [--fsize BYTES] [--max-packet BYTES] [--op-timeout MS]
 *          [--other] [--jobs N] [--timeout S]
 *   --ops        operations with a handler (default "install"); --default adds a default one;
 *   --fsize      RLIMIT_FSIZE for the process (SIGXFSZ ignored): a full disk for the journal;
 *   --other      connect the second client "bump" needs (client id THING-other);
 *   --jobs N     exit once N jobs ended (JOB_FINISHED or JOB_CANCELLED; default 1), after
 *                jobs_agent_stop reported nothing left under way; fail after S s (default 60).
 */
#include "check.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static double t0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int ended;          /* JOB_FINISHED and JOB_CANCELLED events */
static int journal_errors; /* JOURNAL_ERROR events */
static jobs_client *other; /* the second client of "bump", or NULL */
static const char *thing;

static double stamp(void) {
    return test_now() - t0;
}

static void on_event(void *ud, const jobs_agent_event *e) {
    (void)ud;
    printf("[%.3f] event %s job=%s exec=%lu status=%s reason=%.300s\n", stamp(),
           jobs_agent_event_kind_str(e->kind), e->job_id ? e->job_id : "-",
           (unsigned long)e->execution_number, jobs_status_str(e->status), e->reason);
    fflush(stdout);
    pthread_mutex_lock(&lock);
    if (e->kind == JOBS_AGENT_EVENT_KIND_JOB_FINISHED ||
        e->kind == JOBS_AGENT_EVENT_KIND_JOB_CANCELLED)
        ended++;
    if (e->kind == JOBS_AGENT_EVENT_KIND_JOURNAL_ERROR) journal_errors++;
    pthread_mutex_unlock(&lock);
}

static void on_cancel(void *ud, jobs_job *job) {
    (void)ud;
    printf("[%.3f] cancel-told %s cancelled=%d\n", stamp(), jobs_job_id(job),
           jobs_job_is_cancelled(job) ? 1 : 0);
    fflush(stdout);
}

static int64_t doc_int(const jobs_document *doc, const char *path, int64_t dflt) {
    int64_t v = dflt;
    if (doc == NULL || jobs_document_get_int(doc, path, &v) != JOBS_RESULT_OK) return dflt;
    return v;
}

static bool doc_bool(const jobs_document *doc, const char *path) {
    bool v = false;
    if (doc == NULL || jobs_document_get_bool(doc, path, &v) != JOBS_RESULT_OK) return false;
    return v;
}

static const char *doc_str(const jobs_document *doc, const char *path, const char *dflt) {
    const char *v = NULL;
    if (doc == NULL || jobs_document_get_string(doc, path, &v, NULL) != JOBS_RESULT_OK)
        return dflt;
    return v;
}

static bool wait_for_file(const char *path, double timeout_s) {
    double end = test_now() + timeout_s;
    while (test_now() < end) {
        if (access(path, F_OK) == 0) return true;
        test_sleep_ms(5);
    }
    return access(path, F_OK) == 0;
}

/* Another client moves the execution's version on: the agent's next update is stale. */
static void bump(const char *job_id) {
    jobs_update_args args;
    jobs_reply *reply = NULL;
    CHECK(other != NULL);
    if (other == NULL) return;
    CHECK_RC(jobs_update_args_init(&args), JOBS_RESULT_OK);
    args.job_id = job_id;
    args.status = JOBS_STATUS_IN_PROGRESS;
    args.status_details = "{\"by\":\"other\"}";
    args.include_job_execution_state = true;
    CHECK_RC(jobs_update(other, &args, &reply), JOBS_RESULT_OK);
    printf("[%.3f] bumped %s version=%lu\n", stamp(), job_id,
           (unsigned long)jobs_message_version_number(jobs_reply_message(reply)));
    fflush(stdout);
    jobs_reply_free(reply);
}

static void run(void *ud, jobs_job *job) {
    const jobs_document *doc = jobs_job_document(job);
    const char *id = jobs_job_id(job);
    const char *result = doc_str(doc, "result", "succeed");
    bool quiet = doc_bool(doc, "quiet");
    const char *wait_file = doc_str(doc, "wait_file", NULL);
    const char *expect_op = doc_str(doc, "expect_op", NULL);
    int64_t steps = doc_int(doc, "steps", 0);
    int64_t step_ms = doc_int(doc, "step_ms", 0);
    int64_t wait_at = doc_int(doc, "wait_at", steps);
    int64_t checkpoint = doc_int(doc, "checkpoint", -1);
    int64_t i;
    uint32_t rc;
    char details[96];
    (void)ud;
    if (doc_bool(doc, "fail_first"))
        result = jobs_job_execution_number(job) == 1 ? "fail" : "succeed";
    CHECK(id != NULL && jobs_job_document_text(job) != NULL);
    printf("[%.3f] run %s exec=%lu version=%lu resumed=%d op=%s doc_len=%lu\n", stamp(), id,
           (unsigned long)jobs_job_execution_number(job),
           (unsigned long)jobs_job_version_number(job), jobs_job_resumed(job) ? 1 : 0,
           jobs_job_operation(job), (unsigned long)strlen(jobs_job_document_text(job)));
    fflush(stdout);
    if (expect_op != NULL) CHECK(strcmp(jobs_job_operation(job), expect_op) == 0);
    if (checkpoint >= 0) {
        char *bytes = (char *)malloc((size_t)checkpoint + 1);
        CHECK(bytes != NULL);
        if (bytes != NULL) {
            memset(bytes, 'c', (size_t)checkpoint + 1);
            rc = jobs_job_checkpoint(job, bytes, (size_t)checkpoint);
            printf("[%.3f] checkpoint %s len=%ld rc=%u (%s)\n", stamp(), id,
                   (long)checkpoint, (unsigned)rc, jobs_result_str(rc));
            fflush(stdout);
            free(bytes);
        }
    }
    if (doc_bool(doc, "until_cancelled")) {
        double end = test_now() + 30.0;
        int n = 0;
        while (!jobs_job_is_cancelled(job) && test_now() < end) {
            if (!quiet) {
                snprintf(details, sizeof details, "{\"tick\":\"%d\"}", ++n);
                rc = jobs_job_progress(job, details, 0);
                CHECK(rc == JOBS_RESULT_OK || rc == JOBS_RESULT_CANCELLED);
            }
            test_sleep_ms(50);
        }
        printf("[%.3f] handler-saw-cancel %s cancelled=%d\n", stamp(), id,
               jobs_job_is_cancelled(job) ? 1 : 0);
        /* Gone at the service: later calls are refused, nothing more is sent. */
        rc = jobs_job_succeed(job, NULL);
        printf("[%.3f] final %s SUCCEEDED rc=%u (%s)\n", stamp(), id, (unsigned)rc,
               jobs_result_str(rc));
        fflush(stdout);
        CHECK_RC(rc, JOBS_RESULT_CANCELLED);
        CHECK_RC(jobs_job_progress(job, NULL, 0), JOBS_RESULT_CANCELLED);
        return;
    }
    for (i = 0; i <= steps; i++) {
        if (i == wait_at && wait_file != NULL) {
            printf("[%.3f] WAIT %s %ld\n", stamp(), id, (long)i);
            fflush(stdout);
            CHECK(wait_for_file(wait_file, 60.0));
            if (doc_bool(doc, "bump")) bump(id);
        }
        if (i == steps) break;
        if (step_ms > 0) test_sleep_ms((long)step_ms);
        snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\"}", (long)(i + 1), (long)steps);
        rc = jobs_job_progress(job, details, 0);
        printf("[%.3f] progress %s %ld/%ld rc=%u\n", stamp(), id, (long)(i + 1), (long)steps,
               (unsigned)rc);
        fflush(stdout);
        CHECK_RC(rc, JOBS_RESULT_OK);
    }
    snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\",\"by\":\"agent_jobs\"}",
             (long)steps, (long)steps);
    if (strcmp(result, "return") == 0) {
        printf("[%.3f] final %s none\n", stamp(), id);
        fflush(stdout);
        return;
    }
    if (strcmp(result, "fail") == 0) {
        rc = jobs_job_fail(job, details);
    } else if (strcmp(result, "reject") == 0) {
        rc = jobs_job_reject(job, details);
    } else {
        rc = jobs_job_succeed(job, details);
    }
    printf("[%.3f] final %s %s rc=%u\n", stamp(), id, result, (unsigned)rc);
    fflush(stdout);
    CHECK_RC(rc, JOBS_RESULT_OK);
    /* One final status per job. */
    CHECK_RC(jobs_job_succeed(job, NULL), JOBS_RESULT_JOB_ENDED);
}

static bool arg_is(const char *a, const char *name) {
    return strcmp(a, name) == 0;
}

int main(int argc, char **argv) {
    const char *journal = NULL, *ops = "install";
    bool with_default = false, with_other = false;
    long step_timeout = 0, fsize = -1, max_packet = 0, op_timeout = 10000, jobs = 1;
    double timeout = 60.0, end;
    char other_id[200];
    jobs_config *cfg;
    jobs_client *client = NULL;
    jobs_agent *agent = NULL;
    jobs_agent_config acfg;
    jobs_agent_handler h;
    jobs_agent_counters c;
    int i, n = 0;
    char opbuf[512];
    char *op, *save = NULL;

    t0 = test_now();
    if (argc < 4) {
        fprintf(stderr, "usage: %s HOST PORT THING [options]\n", argv[0]);
        return 2;
    }
    thing = argv[3];
    for (i = 4; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (arg_is(a, "--default")) {
            with_default = true;
            continue;
        }
        if (arg_is(a, "--other")) {
            with_other = true;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        i++;
        if (arg_is(a, "--journal")) journal = v;
        else if (arg_is(a, "--ops")) ops = v;
        else if (arg_is(a, "--step-timeout")) step_timeout = atol(v);
        else if (arg_is(a, "--fsize")) fsize = atol(v);
        else if (arg_is(a, "--max-packet")) max_packet = atol(v);
        else if (arg_is(a, "--op-timeout")) op_timeout = atol(v);
        else if (arg_is(a, "--jobs")) jobs = atol(v);
        else if (arg_is(a, "--timeout")) timeout = atof(v);
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }

    cfg = test_tcp_config(argv[1], argv[2], thing, thing);
    CHECK(cfg != NULL);
    if (cfg == NULL) return test_finish();
    /* Quick reconnects after the harness cuts the link; a black-holed link is found after
     * about two operation timeouts. */
    CHECK_RC(jobs_config_set_backoff(cfg, 200, 1000, 5000, false), JOBS_RESULT_OK);
    CHECK_RC(jobs_config_set_timeouts(cfg, 10000, (uint32_t)op_timeout), JOBS_RESULT_OK);
    if (max_packet > 0)
        CHECK_RC(jobs_config_set_max_packet_size(cfg, (size_t)max_packet), JOBS_RESULT_OK);
    CHECK_RC(jobs_client_new(cfg, &client), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (client == NULL) return test_finish();
    CHECK_RC(jobs_client_connect(client), JOBS_RESULT_OK);
    if (with_other) {
        snprintf(other_id, sizeof other_id, "%s-other", thing);
        other = test_connected_client(argv[1], argv[2], other_id, thing);
    }

    CHECK_RC(jobs_agent_config_init(&acfg), JOBS_RESULT_OK);
    acfg.journal_path = journal;
    acfg.step_timeout_minutes = step_timeout;
    acfg.request_timeout_ms = 3000;
    acfg.backoff_base_ms = 100;
    acfg.backoff_max_ms = 1000;
    acfg.on_event = on_event;
    CHECK_RC(jobs_agent_new(client, &acfg, &agent), JOBS_RESULT_OK);
    if (agent == NULL) return test_finish();
    CHECK_RC(jobs_agent_handler_init(&h), JOBS_RESULT_OK);
    h.run = run;
    h.on_cancel = on_cancel;
    snprintf(opbuf, sizeof opbuf, "%s", ops);
    for (op = strtok_r(opbuf, ",", &save); op != NULL; op = strtok_r(NULL, ",", &save)) {
        CHECK_RC(jobs_agent_set_handler(agent, op, &h), JOBS_RESULT_OK);
    }
    if (with_default) CHECK_RC(jobs_agent_set_handler(agent, NULL, &h), JOBS_RESULT_OK);

    if (fsize >= 0) {
        struct rlimit lim;
        /* A write past the limit then fails with EFBIG instead of killing the process. */
        signal(SIGXFSZ, SIG_IGN);
        lim.rlim_cur = (rlim_t)fsize;
        lim.rlim_max = (rlim_t)fsize;
        CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    }
    CHECK_RC(jobs_agent_start(agent), JOBS_RESULT_OK);
    printf("[%.3f] started thing=%s\n", stamp(), thing);
    fflush(stdout);

    end = test_now() + timeout;
    while (test_now() < end) {
        pthread_mutex_lock(&lock);
        n = ended;
        pthread_mutex_unlock(&lock);
        if (n >= jobs) break;
        test_sleep_ms(10);
    }
    CHECK(n >= jobs);
    /* Every job ended: nothing is left under way. */
    CHECK_RC(jobs_agent_stop(agent, 5000), JOBS_RESULT_OK);
    c.struct_size = sizeof c;
    CHECK_RC(jobs_agent_get_counters(agent, &c), JOBS_RESULT_OK);
    pthread_mutex_lock(&lock);
    printf("[%.3f] counters started=%lu resumed=%lu progress=%lu finished=%lu cancelled=%lu "
           "rejected=%lu retries=%lu duplicates=%lu journal_errors=%d\n",
           stamp(), (unsigned long)c.started, (unsigned long)c.resumed,
           (unsigned long)c.progress_sent, (unsigned long)c.finished,
           (unsigned long)c.cancelled, (unsigned long)c.rejected, (unsigned long)c.retries,
           (unsigned long)c.duplicates_suppressed, journal_errors);
    pthread_mutex_unlock(&lock);
    jobs_agent_free(agent);
    jobs_client_free(other);
    CHECK_RC(jobs_client_disconnect(client), JOBS_RESULT_OK);
    jobs_client_free(client);
    return test_finish();
}
