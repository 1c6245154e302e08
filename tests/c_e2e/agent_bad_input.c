/*
 * Bad input at every jobs_agent_* and jobs_job_* entry point returns its documented code
 * (and a last-error message): NULL, a wrong struct_size, bad UTF-8, out-of-range enums and
 * settings, a handler registered twice or while the agent runs, an oversized checkpoint, and
 * every call on a job handle after its handler returned. One real job ("agent-bad-1",
 * operation "install", created by tests/agent_c.rs) gives the handler its handle; it ends
 * SUCCEEDED with {"by":"agent_bad_input"}. Last, two agents with one journal file in DIR: the
 * second cannot start while the first runs.
 *
 * Usage: agent_bad_input HOST PORT DIR   (client id and thing "agent-bad-input")
 */
#include "check.h"

#define THING "agent-bad-input"
#define BAD_UTF8 "\xff\xfe"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static jobs_job *kept; /* the handle, used after its handler returned */
static int finished, handled, bad_events;
static int go; /* the handler checks only once main() has done its own (the counts are shared) */

static void on_event(void *ud, const jobs_agent_event *e) {
    (void)ud;
    if (e == NULL || e->reason == NULL) {
        pthread_mutex_lock(&lock);
        bad_events++;
        pthread_mutex_unlock(&lock);
        return;
    }
    printf("event %s job=%s status=%s reason=%s\n", jobs_agent_event_kind_str(e->kind),
           e->job_id ? e->job_id : "-", jobs_status_str(e->status), e->reason);
    fflush(stdout);
    pthread_mutex_lock(&lock);
    if (e->kind == JOBS_AGENT_EVENT_KIND_JOB_FINISHED) finished++;
    pthread_mutex_unlock(&lock);
}

static void noop_run(void *ud, jobs_job *job) {
    (void)ud;
    (void)job;
}

static bool wait_count(int *v, int n, double timeout_s) {
    double end = test_now() + timeout_s;
    int got = 0;
    while (test_now() < end) {
        pthread_mutex_lock(&lock);
        got = *v;
        pthread_mutex_unlock(&lock);
        if (got >= n) return true;
        test_sleep_ms(10);
    }
    return false;
}

/* Bad input to a live job handle, inside its handler. */
static void run(void *ud, jobs_job *job) {
    char big[4097];
    const uint8_t *bytes = (const uint8_t *)"x";
    size_t len = 99;
    (void)ud;
    if (!wait_count(&go, 1, 30.0)) return;
    CHECK(strcmp(jobs_job_id(job), "agent-bad-1") == 0);
    CHECK(strcmp(jobs_job_operation(job), "install") == 0);
    CHECK(jobs_job_document(job) != NULL && jobs_job_document_text(job) != NULL);
    CHECK(jobs_job_execution_number(job) == 1);
    CHECK(jobs_job_version_number(job) >= 1);
    CHECK(!jobs_job_resumed(job) && !jobs_job_is_cancelled(job));

    /* NULL handles: NULL, 0, false or JOBS_RESULT_NULL_ARGUMENT. */
    CHECK(jobs_job_id(NULL) == NULL && jobs_job_operation(NULL) == NULL);
    CHECK(jobs_job_document_text(NULL) == NULL && jobs_job_document(NULL) == NULL);
    CHECK(jobs_job_execution_number(NULL) == 0 && jobs_job_version_number(NULL) == 0);
    CHECK(!jobs_job_resumed(NULL) && !jobs_job_is_cancelled(NULL));
    CHECK_FAILS(jobs_job_progress(NULL, NULL, 0), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_succeed(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_fail(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_reject(NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_checkpoint(NULL, "x", 1), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_saved_checkpoint(NULL, &bytes, &len), JOBS_RESULT_NULL_ARGUMENT);

    /* Status details and step timeouts. */
    CHECK_FAILS(jobs_job_progress(job, BAD_UTF8, 0), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_job_progress(job, "not json", 0), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_job_progress(job, "[1]", 0), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_job_progress(job, "{\"n\":1}", 0), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_job_progress(job, "{\"bad key\":\"v\"}", 0),
                JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_job_progress(job, "{\"v\":\"" BAD_UTF8 "\"}", 0), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_job_progress(job, NULL, 10081), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_job_progress(job, NULL, -2), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_job_progress(job, NULL, INT64_MIN), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_job_succeed(job, BAD_UTF8), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_job_fail(job, "[]"), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_job_reject(job, "{\"k\":true}"), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_RC(jobs_job_progress(job, "{\"step\":\"bad input refused\"}", 0), JOBS_RESULT_OK);

    /* Checkpoints: at most 4096 bytes; NULL only with length 0. */
    memset(big, 'b', sizeof big);
    CHECK_FAILS(jobs_job_checkpoint(job, NULL, 5), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_checkpoint(job, big, sizeof big), JOBS_RESULT_PAYLOAD_TOO_LARGE);
    /* Any length over the limit, even one no buffer can have, is too large. */
    CHECK_FAILS(jobs_job_checkpoint(job, big, (size_t)-1), JOBS_RESULT_PAYLOAD_TOO_LARGE);
    CHECK_RC(jobs_job_checkpoint(job, big, sizeof big - 1), JOBS_RESULT_OK);
    CHECK_RC(jobs_job_checkpoint(job, NULL, 0), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_job_saved_checkpoint(job, NULL, &len), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_job_saved_checkpoint(job, &bytes, NULL), JOBS_RESULT_NULL_ARGUMENT);
    /* Not resumed: nothing was saved before a restart. */
    CHECK_FAILS(jobs_job_saved_checkpoint(job, &bytes, &len), JOBS_RESULT_NOT_FOUND);
    CHECK(bytes == NULL && len == 0);

    /* The final status, once; then the job has ended. */
    CHECK_RC(jobs_job_succeed(job, "{\"by\":\"agent_bad_input\"}"), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_job_succeed(job, NULL), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_fail(job, NULL), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_reject(job, NULL), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_progress(job, NULL, 0), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_checkpoint(job, "x", 1), JOBS_RESULT_JOB_ENDED);
    /* Its data stays readable until the handler returns. */
    CHECK(jobs_job_id(job) != NULL && strcmp(jobs_job_id(job), "agent-bad-1") == 0);
    pthread_mutex_lock(&lock);
    kept = job;
    handled++;
    pthread_mutex_unlock(&lock);
}

/* Every call on a handle whose handler returned. */
static void ended_handle(jobs_job *job) {
    const uint8_t *bytes = (const uint8_t *)"x";
    size_t len = 99;
    CHECK(jobs_job_id(job) == NULL);
    CHECK(jobs_job_operation(job) == NULL);
    CHECK(jobs_job_document_text(job) == NULL);
    CHECK(jobs_job_document(job) == NULL);
    CHECK(jobs_job_execution_number(job) == 0);
    CHECK(jobs_job_version_number(job) == 0);
    CHECK(!jobs_job_resumed(job));
    CHECK(!jobs_job_is_cancelled(job));
    CHECK_FAILS(jobs_job_saved_checkpoint(job, &bytes, &len), JOBS_RESULT_JOB_ENDED);
    CHECK(bytes == NULL && len == 0);
    CHECK_FAILS(jobs_job_progress(job, NULL, 0), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_succeed(job, NULL), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_fail(job, "{\"a\":\"b\"}"), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_reject(job, NULL), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_checkpoint(job, "x", 1), JOBS_RESULT_JOB_ENDED);
    CHECK_FAILS(jobs_job_checkpoint(job, NULL, 0), JOBS_RESULT_JOB_ENDED);
    /* Arguments are still checked first. */
    CHECK_FAILS(jobs_job_progress(job, "[1]", 0), JOBS_RESULT_INVALID_STATUS_DETAILS);
    CHECK_FAILS(jobs_job_succeed(job, BAD_UTF8), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_job_checkpoint(job, NULL, 3), JOBS_RESULT_NULL_ARGUMENT);
}

/* jobs_agent_new returns `want`; on failure *out is reset to NULL. */
static void new_fails(jobs_client *client, const jobs_agent_config *cfg, uint32_t want,
                      int line) {
    jobs_agent *out = (jobs_agent *)&lock; /* any non-NULL value */
    uint32_t rc = jobs_agent_new(client, cfg, &out);
    bool out_ok = want == JOBS_RESULT_OK ? out != NULL : out == NULL;
    if (!test_record_check(rc == want && out_ok, __FILE__, line, "jobs_agent_new")) {
        printf("    returned %u (%s), expected %u (%s)\n", (unsigned)rc, jobs_result_str(rc),
               (unsigned)want, jobs_result_str(want));
        test_print_last_error();
    }
    if (rc != JOBS_RESULT_OK) test_check_last_error(__FILE__, line, "after jobs_agent_new");
    if (rc == JOBS_RESULT_OK) jobs_agent_free(out);
}

#define NEW_FAILS(cfg, want) new_fails(client, &(cfg), (want), __LINE__)

static void constructor(jobs_client *client) {
    jobs_agent_config cfg, bad;
    jobs_agent *agent = NULL;

    CHECK_FAILS(jobs_agent_config_init(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_handler_init(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_agent_config_init(&cfg), JOBS_RESULT_OK);
    CHECK(cfg.struct_size == sizeof cfg && cfg.journal_path == NULL && cfg.on_event == NULL);
    CHECK(cfg.request_timeout_ms == 10000 && cfg.backoff_base_ms == 500 &&
          cfg.backoff_max_ms == 30000);

    CHECK_FAILS(jobs_agent_new(NULL, &cfg, &agent), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_new(client, NULL, &agent), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_new(client, &cfg, NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK(agent == NULL);

    bad = cfg;
    bad.struct_size = 0;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_STRUCT_SIZE);
    bad.struct_size = sizeof bad - 8;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_STRUCT_SIZE);
    bad.struct_size = sizeof bad + 8;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_STRUCT_SIZE);

    bad = cfg;
    bad.journal_path = BAD_UTF8;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_UTF8);
    bad = cfg;
    bad.operation_path = BAD_UTF8;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_UTF8);
    bad.operation_path = "a[";
    NEW_FAILS(bad, JOBS_RESULT_INVALID_PATH);
    bad.operation_path = "spec.operation";
    NEW_FAILS(bad, JOBS_RESULT_OK);

    bad = cfg;
    bad.step_timeout_minutes = -1;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.step_timeout_minutes = 10081;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.step_timeout_minutes = INT64_MAX;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.step_timeout_minutes = 10080;
    NEW_FAILS(bad, JOBS_RESULT_OK);

    bad = cfg;
    bad.request_timeout_ms = 86400001;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.request_timeout_ms = UINT32_MAX;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.request_timeout_ms = 0; /* the default */
    NEW_FAILS(bad, JOBS_RESULT_OK);

    bad = cfg;
    bad.backoff_base_ms = 2000;
    bad.backoff_max_ms = 1000;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.backoff_base_ms = 0; /* the default, 500 */
    NEW_FAILS(bad, JOBS_RESULT_OK);

    bad = cfg;
    bad.progress_interval_ms = 24u * 3600u * 1000u + 1u;
    NEW_FAILS(bad, JOBS_RESULT_INVALID_ARGUMENT);
    bad.progress_interval_ms = 24u * 3600u * 1000u;
    NEW_FAILS(bad, JOBS_RESULT_OK);

    jobs_agent_free(NULL); /* ignored */
}

static void registration(jobs_agent *agent) {
    jobs_agent_handler h, bad;
    char op[300];

    CHECK_RC(jobs_agent_handler_init(&h), JOBS_RESULT_OK);
    CHECK(h.struct_size == sizeof h && h.run == NULL && h.on_cancel == NULL &&
          h.resume == JOBS_RESUME_POLICY_RESUME);
    /* No handler yet: nothing to start. */
    CHECK_FAILS(jobs_agent_start(agent), JOBS_RESULT_INVALID_STATE);
    CHECK_FAILS(jobs_agent_start(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_stop(NULL, 0), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_stop(agent, 0), JOBS_RESULT_INVALID_STATE);

    h.run = noop_run;
    CHECK_FAILS(jobs_agent_set_handler(NULL, "install", &h), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_set_handler(NULL, "install", NULL), JOBS_RESULT_NULL_ARGUMENT);
    bad = h;
    bad.run = NULL;
    CHECK_FAILS(jobs_agent_set_handler(agent, "install", &bad), JOBS_RESULT_NULL_ARGUMENT);
    bad = h;
    bad.struct_size = 0;
    CHECK_FAILS(jobs_agent_set_handler(agent, "install", &bad), JOBS_RESULT_INVALID_STRUCT_SIZE);
    bad.struct_size = sizeof bad + 1;
    CHECK_FAILS(jobs_agent_set_handler(agent, "install", &bad), JOBS_RESULT_INVALID_STRUCT_SIZE);
    bad = h;
    bad.resume = 2;
    CHECK_FAILS(jobs_agent_set_handler(agent, "install", &bad), JOBS_RESULT_INVALID_ARGUMENT);
    bad.resume = UINT32_MAX;
    CHECK_FAILS(jobs_agent_set_handler(agent, NULL, &bad), JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_agent_set_handler(agent, BAD_UTF8, &h), JOBS_RESULT_INVALID_UTF8);
    CHECK_FAILS(jobs_agent_set_handler(agent, "", &h), JOBS_RESULT_INVALID_ARGUMENT);
    memset(op, 'o', sizeof op);
    op[257] = '\0';
    CHECK_FAILS(jobs_agent_set_handler(agent, op, &h), JOBS_RESULT_INVALID_ARGUMENT);
    op[256] = '\0'; /* exactly 256 bytes: fine */
    CHECK_RC(jobs_agent_set_handler(agent, op, &h), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_set_handler(agent, op, NULL), JOBS_RESULT_OK);

    /* Twice: refused until removed. */
    CHECK_RC(jobs_agent_set_handler(agent, "paint", &h), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_agent_set_handler(agent, "paint", &h), JOBS_RESULT_INVALID_STATE);
    CHECK_RC(jobs_agent_set_handler(agent, "paint", NULL), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_set_handler(agent, "paint", NULL), JOBS_RESULT_OK); /* none: no-op */
    CHECK_RC(jobs_agent_set_handler(agent, NULL, &h), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_agent_set_handler(agent, NULL, &h), JOBS_RESULT_INVALID_STATE);
    CHECK_RC(jobs_agent_set_handler(agent, NULL, NULL), JOBS_RESULT_OK);
    /* Removing every handler leaves nothing to start. */
    CHECK_FAILS(jobs_agent_start(agent), JOBS_RESULT_INVALID_STATE);

    h.run = run;
    CHECK_RC(jobs_agent_set_handler(agent, "install", &h), JOBS_RESULT_OK);
}

static void counters(jobs_agent *agent) {
    jobs_agent_counters c;
    memset(&c, 0, sizeof c);
    CHECK_FAILS(jobs_agent_get_counters(NULL, &c), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_FAILS(jobs_agent_get_counters(agent, NULL), JOBS_RESULT_NULL_ARGUMENT);
    c.struct_size = 0;
    CHECK_FAILS(jobs_agent_get_counters(agent, &c), JOBS_RESULT_INVALID_STRUCT_SIZE);
    c.struct_size = sizeof c - sizeof c.duplicates_suppressed;
    CHECK_FAILS(jobs_agent_get_counters(agent, &c), JOBS_RESULT_INVALID_STRUCT_SIZE);
    c.struct_size = sizeof c;
    CHECK_RC(jobs_agent_get_counters(agent, &c), JOBS_RESULT_OK);
}

static void enum_names(void) {
    CHECK(strcmp(jobs_agent_event_kind_str(JOBS_AGENT_EVENT_KIND_JOB_FINISHED),
                 "job_finished") == 0);
    CHECK(strcmp(jobs_agent_event_kind_str(0), "unknown") == 0);
    CHECK(strcmp(jobs_agent_event_kind_str(10), "unknown") == 0);
    CHECK(strcmp(jobs_agent_event_kind_str(UINT32_MAX), "unknown") == 0);
    CHECK(strcmp(jobs_resume_policy_str(JOBS_RESUME_POLICY_FAIL), "fail") == 0);
    CHECK(strcmp(jobs_resume_policy_str(2), "unknown") == 0);
}

/* One running agent per journal file in a process: each keeps the whole file's state. */
static void shared_journal(jobs_client *client, const char *dir) {
    char path[1024];
    jobs_agent_config cfg;
    jobs_agent_handler h;
    jobs_agent *first = NULL, *second = NULL;
    snprintf(path, sizeof path, "%s/journal", dir);
    CHECK_RC(jobs_agent_config_init(&cfg), JOBS_RESULT_OK);
    cfg.journal_path = path;
    CHECK_RC(jobs_agent_handler_init(&h), JOBS_RESULT_OK);
    h.run = noop_run;
    CHECK_RC(jobs_agent_new(client, &cfg, &first), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_new(client, &cfg, &second), JOBS_RESULT_OK);
    if (first == NULL || second == NULL) return;
    /* An operation no job names: neither agent takes the thing's jobs. */
    CHECK_RC(jobs_agent_set_handler(first, "never-used", &h), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_set_handler(second, "never-used", &h), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_start(first), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_agent_start(second), JOBS_RESULT_INVALID_STATE);
    CHECK_RC(jobs_agent_stop(first, 5000), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_start(second), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_agent_start(first), JOBS_RESULT_INVALID_STATE);
    CHECK_RC(jobs_agent_stop(second, 5000), JOBS_RESULT_OK);
    jobs_agent_free(second);
    jobs_agent_free(first);
}

int main(int argc, char **argv) {
    jobs_client *client;
    jobs_agent *agent = NULL;
    jobs_agent_config cfg;
    jobs_agent_handler h;
    jobs_agent_counters c;
    jobs_job *job;
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST PORT DIR\n", argv[0]);
        return 2;
    }
    client = test_connected_client(argv[1], argv[2], THING, THING);
    if (client == NULL) return test_finish();
    constructor(client);
    enum_names();

    CHECK_RC(jobs_agent_config_init(&cfg), JOBS_RESULT_OK);
    cfg.on_event = on_event;
    cfg.request_timeout_ms = 5000;
    CHECK_RC(jobs_agent_new(client, &cfg, &agent), JOBS_RESULT_OK);
    if (agent == NULL) return test_finish();
    registration(agent);
    counters(agent);

    CHECK_RC(jobs_agent_start(agent), JOBS_RESULT_OK);
    /* Running: no second start, no registration changes. */
    CHECK_FAILS(jobs_agent_start(agent), JOBS_RESULT_INVALID_STATE);
    CHECK_RC(jobs_agent_handler_init(&h), JOBS_RESULT_OK);
    h.run = noop_run;
    CHECK_FAILS(jobs_agent_set_handler(agent, "other", &h), JOBS_RESULT_INVALID_STATE);
    CHECK_FAILS(jobs_agent_set_handler(agent, "install", &h), JOBS_RESULT_INVALID_STATE);
    CHECK_FAILS(jobs_agent_set_handler(agent, "install", NULL), JOBS_RESULT_INVALID_STATE);
    CHECK_FAILS(jobs_agent_set_handler(agent, NULL, &h), JOBS_RESULT_INVALID_STATE);
    pthread_mutex_lock(&lock);
    go = 1;
    pthread_mutex_unlock(&lock);

    CHECK(wait_count(&handled, 1, 30.0));
    CHECK(wait_count(&finished, 1, 30.0));
    /* Once stop returns, the handler has returned too. */
    CHECK_RC(jobs_agent_stop(agent, 5000), JOBS_RESULT_OK);
    CHECK_FAILS(jobs_agent_stop(agent, 0), JOBS_RESULT_INVALID_STATE);
    pthread_mutex_lock(&lock);
    job = kept;
    pthread_mutex_unlock(&lock);
    CHECK(job != NULL);
    if (job != NULL) ended_handle(job);
    c.struct_size = sizeof c;
    CHECK_RC(jobs_agent_get_counters(agent, &c), JOBS_RESULT_OK);
    CHECK(c.started == 1 && c.finished == 1 && c.rejected == 0 && c.resumed == 0);
    CHECK(bad_events == 0);
    /* Stopped, the registrations may change again. */
    CHECK_RC(jobs_agent_set_handler(agent, "other", &h), JOBS_RESULT_OK);
    jobs_agent_free(agent);
    shared_journal(client, argv[3]);
    printf("ok bad input refused at every agent entry point\n");
    CHECK_RC(jobs_client_disconnect(client), JOBS_RESULT_OK);
    jobs_client_free(client);
    return test_finish();
}
