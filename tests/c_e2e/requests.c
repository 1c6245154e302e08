/*
 * Request/response from C: each operation, blocking and asynchronous, returns exactly one
 * outcome with a typed reply: accepted, rejected (with its code), timed out (the harness drops
 * the first reply), offline (fail-fast and an expired wait); a reply lent to a callback,
 * copied, reads the same after the callback returned; and every bad argument is refused with
 * its documented code before anything is sent.
 *
 * Usage: requests HOST PORT THING JOB   (JOB is QUEUED for THING; the first reply is dropped)
 */
#include "check.h"

struct async_result {
    pthread_mutex_t lock;
    int calls;
    uint32_t result;
    uint32_t status;
    uint64_t version;
    size_t details;
    char key[32];
    char value[32];
    jobs_reply *kept; /* a copy of the last reply, kept past the callback */
};

static void on_reply(void *ud, jobs_result result, const jobs_reply *reply) {
    struct async_result *r = (struct async_result *)ud;
    const jobs_message *m = jobs_reply_message(reply);
    size_t i;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    r->result = (uint32_t)result;
    r->status = jobs_message_status(m);
    r->version = jobs_message_version_number(m);
    r->details = jobs_message_status_details_count(m);
    for (i = 0; i < r->details; i++) { /* keep the "progress" pair */
        const char *k = NULL, *v = NULL;
        if (jobs_message_status_detail(m, i, &k, &v) == JOBS_RESULT_OK && strcmp(k, "progress") == 0) {
            snprintf(r->key, sizeof r->key, "%s", k);
            snprintf(r->value, sizeof r->value, "%s", v);
        }
    }
    if (reply != NULL) {
        jobs_reply_free(r->kept);
        r->kept = NULL;
        if (jobs_reply_copy(reply, &r->kept) != JOBS_RESULT_OK) r->kept = NULL;
    }
    pthread_mutex_unlock(&r->lock);
}

static pthread_mutex_t next_lock = PTHREAD_MUTEX_INITIALIZER;
static int next_events = 0, next_without_execution = 0;

static void on_next_job(void *ud, const jobs_message *m) {
    (void)ud;
    pthread_mutex_lock(&next_lock);
    next_events++;
    if (jobs_message_topic_type(m) == JOBS_TOPIC_TYPE_NOTIFY_NEXT && !jobs_message_has_execution(m))
        next_without_execution++;
    pthread_mutex_unlock(&next_lock);
}

static int async_calls(struct async_result *r) {
    int n;
    pthread_mutex_lock(&r->lock);
    n = r->calls;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static bool wait_calls(struct async_result *r, int n) {
    double end = test_now() + 10;
    while (async_calls(r) < n) {
        if (test_now() > end) return false;
        test_sleep_ms(5);
    }
    return true;
}

static void bad_arguments(jobs_client *c) {
    jobs_get_pending_args g;
    jobs_update_args u;
    jobs_describe_args d;
    jobs_start_next_args s;
    jobs_reply *reply = (jobs_reply *)1;
    char long_token[80];

    CHECK_RC(jobs_get_pending_args_init(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_update_args_init(NULL), JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_get_pending_args_init(&g), JOBS_RESULT_OK);
    CHECK(g.struct_size == sizeof g && g.options.timeout_ms == 10000);
    CHECK(g.options.offline == JOBS_OFFLINE_WAIT && g.options.client_token == NULL);

    CHECK_FAILS(jobs_get_pending(NULL, &g, &reply), JOBS_RESULT_NULL_ARGUMENT);
    CHECK(reply == NULL);
    CHECK_FAILS(jobs_get_pending(c, NULL, NULL), JOBS_RESULT_NULL_ARGUMENT);
    g.struct_size = sizeof g - 1;
    CHECK_FAILS(jobs_get_pending(c, &g, NULL), JOBS_RESULT_INVALID_STRUCT_SIZE);
    CHECK_FAILS(jobs_get_pending_async(c, &g, on_reply, NULL), JOBS_RESULT_INVALID_STRUCT_SIZE);
    jobs_get_pending_args_init(&g);
    g.options.timeout_ms = 0;
    CHECK_FAILS(jobs_get_pending(c, &g, NULL), JOBS_RESULT_INVALID_ARGUMENT);
    g.options.timeout_ms = 86400001u;
    CHECK_FAILS(jobs_get_pending(c, &g, NULL), JOBS_RESULT_INVALID_ARGUMENT);
    jobs_get_pending_args_init(&g);
    g.options.offline = 7;
    CHECK_FAILS(jobs_get_pending(c, &g, NULL), JOBS_RESULT_INVALID_ARGUMENT);
    jobs_get_pending_args_init(&g);
    memset(long_token, 't', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    g.options.client_token = long_token;
    CHECK_FAILS(jobs_get_pending(c, &g, NULL), JOBS_RESULT_INVALID_CLIENT_TOKEN);
    g.options.client_token = "\xff\xfe";
    CHECK_FAILS(jobs_get_pending(c, &g, NULL), JOBS_RESULT_INVALID_UTF8);

    jobs_update_args_init(&u);
    CHECK(u.struct_size == sizeof u && u.status == JOBS_STATUS_NOT_SET);
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_NULL_ARGUMENT); /* no job id */
    u.job_id = "job-1";
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_INVALID_STATUS); /* NOT_SET */
    u.status = JOBS_STATUS_QUEUED;
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_INVALID_STATUS);
    u.status = 50; /* no such status */
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_INVALID_ARGUMENT);
    u.status = JOBS_STATUS_SUCCEEDED;
    u.job_id = "bad/id";
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_INVALID_JOB_ID);
    u.job_id = "job-1";
    u.status_details = "{\"a\":1}";
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    u.status_details = "not json";
    CHECK_FAILS(jobs_update_async(c, &u, on_reply, NULL), JOBS_RESULT_INVALID_STATUS_DETAILS);
    u.status_details = NULL;
    u.step_timeout_minutes = 10081;
    CHECK_FAILS(jobs_update(c, &u, NULL), JOBS_RESULT_INVALID_ARGUMENT);

    jobs_describe_args_init(&d);
    CHECK(d.include_job_document);
    CHECK_FAILS(jobs_describe(c, &d, NULL), JOBS_RESULT_NULL_ARGUMENT);
    d.job_id = "+";
    CHECK_FAILS(jobs_describe(c, &d, NULL), JOBS_RESULT_INVALID_JOB_ID);

    jobs_start_next_args_init(&s);
    s.step_timeout_minutes = -5;
    CHECK_FAILS(jobs_start_next(c, &s, NULL), JOBS_RESULT_INVALID_ARGUMENT);

    CHECK(jobs_reply_message(NULL) == NULL);
    reply = (jobs_reply *)1;
    CHECK_FAILS(jobs_reply_copy(NULL, &reply), JOBS_RESULT_NULL_ARGUMENT);
    CHECK(reply == (jobs_reply *)1); /* untouched on error */
    reply = NULL;
    jobs_reply_free(NULL);
}

int main(int argc, char **argv) {
    jobs_client *c = NULL, *offline = NULL;
    jobs_config *cfg;
    jobs_get_pending_args g;
    jobs_start_next_args s;
    jobs_update_args u;
    jobs_describe_args d;
    jobs_reply *reply = NULL;
    const jobs_message *m;
    jobs_job_summary summary;
    struct async_result r;
    uint64_t version;
    const char *job;
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT THING JOB\n", argv[0]);
        return 2;
    }
    job = argv[4];
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.lock, NULL);
    c = test_connected_client(argv[1], argv[2], "e2e-requests", argv[3]);
    if (c == NULL) return test_finish();

    /* The harness drops the first reply: the request times out, with no reply. */
    jobs_get_pending_args_init(&g);
    g.options.timeout_ms = 400;
    CHECK_FAILS(jobs_get_pending(c, &g, &reply), JOBS_RESULT_TIMEOUT);
    CHECK(reply == NULL);
    printf("ok timeout\n");

    bad_arguments(c);
    printf("ok bad arguments\n");

    /* GetPending: the queued job in the typed list. */
    jobs_get_pending_args_init(&g);
    CHECK_RC(jobs_get_pending(c, &g, &reply), JOBS_RESULT_OK);
    m = jobs_reply_message(reply);
    CHECK(jobs_message_pending_count(m, JOBS_STATUS_QUEUED) == 1);
    CHECK(jobs_message_pending_count(m, JOBS_STATUS_IN_PROGRESS) == 0);
    summary.struct_size = sizeof summary;
    CHECK_RC(jobs_message_pending_job(m, JOBS_STATUS_QUEUED, 0, &summary), JOBS_RESULT_OK);
    CHECK(summary.job_id != NULL && strcmp(summary.job_id, job) == 0);
    CHECK(summary.queued_at > 0 && summary.version_number >= 1);
    CHECK_FAILS(jobs_message_pending_job(m, JOBS_STATUS_QUEUED, 1, &summary), JOBS_RESULT_NOT_FOUND);
    CHECK_FAILS(jobs_message_pending_job(m, JOBS_STATUS_SUCCEEDED, 0, &summary),
                JOBS_RESULT_INVALID_ARGUMENT);
    summary.struct_size = 3;
    CHECK_FAILS(jobs_message_pending_job(m, JOBS_STATUS_QUEUED, 0, &summary),
                JOBS_RESULT_INVALID_STRUCT_SIZE);
    jobs_reply_free(reply);
    reply = NULL;
    printf("ok get-pending\n");

    /* StartNext: the execution, typed. */
    jobs_start_next_args_init(&s);
    s.status_details = "{\"step\":\"download\"}";
    CHECK_RC(jobs_start_next(c, &s, &reply), JOBS_RESULT_OK);
    m = jobs_reply_message(reply);
    CHECK(jobs_message_has_execution(m));
    CHECK(jobs_message_execution_job_id(m) != NULL &&
          strcmp(jobs_message_execution_job_id(m), job) == 0);
    CHECK(jobs_message_status(m) == JOBS_STATUS_IN_PROGRESS);
    CHECK(jobs_message_started_at(m) > 0 && jobs_message_queued_at(m) > 0);
    CHECK(jobs_message_execution_number(m) == 1);
    version = jobs_message_version_number(m);
    CHECK(version >= 2);
    {
        /* The job document, read by path without a JSON parser. */
        const jobs_document *doc = jobs_message_document(m);
        const char *text = NULL;
        int64_t retries = 0;
        size_t n = 0;
        CHECK(doc != NULL);
        CHECK_RC(jobs_document_get_string(doc, "operation", &text, NULL), JOBS_RESULT_OK);
        CHECK(text != NULL && strcmp(text, "install") == 0);
        CHECK_RC(jobs_document_get_string(doc, "steps[0].name", &text, &n), JOBS_RESULT_OK);
        CHECK(n == 8 && strcmp(text, "download") == 0);
        CHECK_RC(jobs_document_get_int(doc, "steps[0].retries", &retries), JOBS_RESULT_OK);
        CHECK(retries == 3);
        CHECK_RC(jobs_document_array_length(doc, "steps", &n), JOBS_RESULT_OK);
        CHECK(n == 1);
        CHECK_FAILS(jobs_document_get_int(doc, "steps[1].retries", &retries), JOBS_RESULT_NOT_FOUND);
        CHECK_FAILS(jobs_document_get_int(doc, "operation", &retries), JOBS_RESULT_WRONG_TYPE);
        CHECK_FAILS(jobs_document_get_int(doc, "steps[", &retries), JOBS_RESULT_INVALID_PATH);
    }
    jobs_reply_free(reply);
    reply = NULL;
    printf("ok start-next version=%llu\nok document\n", (unsigned long long)version);

    /* A stale expected version: REJECTED with the code, and the reply says why. */
    jobs_update_args_init(&u);
    u.job_id = job;
    u.status = JOBS_STATUS_IN_PROGRESS;
    u.expected_version = version + 10;
    CHECK_FAILS(jobs_update(c, &u, &reply), JOBS_RESULT_REJECTED);
    m = jobs_reply_message(reply);
    CHECK(jobs_message_rejection_code(m) == JOBS_REJECTION_CODE_VERSION_MISMATCH);
    CHECK(jobs_message_version_number(m) == version);
    jobs_reply_free(reply);
    reply = NULL;
    printf("ok update rejected\n");

    /* Progress with details, then describe it asynchronously. */
    u.expected_version = version;
    u.status_details = "{\"progress\":\"50%\"}";
    u.include_job_execution_state = true;
    CHECK_RC(jobs_update(c, &u, NULL), JOBS_RESULT_OK);
    jobs_describe_args_init(&d);
    d.job_id = job;
    CHECK_RC(jobs_describe_async(c, &d, on_reply, &r), JOBS_RESULT_OK);
    CHECK(wait_calls(&r, 1));
    pthread_mutex_lock(&r.lock);
    CHECK(r.result == JOBS_RESULT_OK && r.status == JOBS_STATUS_IN_PROGRESS);
    CHECK(r.version == version + 1);
    CHECK(r.details >= 1 && strcmp(r.key, "progress") == 0 && strcmp(r.value, "50%") == 0);
    /* The copy made inside the callback reads the same after it returned. */
    CHECK(r.kept != NULL);
    m = jobs_reply_message(r.kept);
    CHECK(jobs_message_status(m) == JOBS_STATUS_IN_PROGRESS);
    CHECK(jobs_message_version_number(m) == version + 1);
    CHECK(jobs_message_execution_job_id(m) != NULL &&
          strcmp(jobs_message_execution_job_id(m), job) == 0);
    CHECK_FAILS(jobs_reply_copy(r.kept, NULL), JOBS_RESULT_NULL_ARGUMENT);
    pthread_mutex_unlock(&r.lock);
    printf("ok describe async\n");

    /* The library subscribes notify-next for this thing. */
    CHECK_FAILS(jobs_client_set_event_callback(c, JOBS_TOPIC_TYPE_UPDATE, on_next_job, NULL),
                JOBS_RESULT_INVALID_ARGUMENT);
    CHECK_FAILS(jobs_client_set_event_callback(NULL, JOBS_TOPIC_TYPE_NOTIFY_NEXT, on_next_job, NULL),
                JOBS_RESULT_NULL_ARGUMENT);
    CHECK_RC(jobs_client_set_event_callback(c, JOBS_TOPIC_TYPE_NOTIFY_NEXT, on_next_job, NULL),
             JOBS_RESULT_OK);
    test_sleep_ms(200); /* the SUBSCRIBE reaches the server before the job ends */

    /* Finish asynchronously; then the job is gone from the pending list. */
    u.status = JOBS_STATUS_SUCCEEDED;
    u.expected_version = version + 1;
    u.status_details = "{\"progress\":\"100%\"}";
    CHECK_RC(jobs_update_async(c, &u, on_reply, &r), JOBS_RESULT_OK);
    CHECK(wait_calls(&r, 2));
    pthread_mutex_lock(&r.lock);
    CHECK(r.result == JOBS_RESULT_OK);
    pthread_mutex_unlock(&r.lock);
    CHECK_RC(jobs_get_pending(c, &g, &reply), JOBS_RESULT_OK);
    CHECK(jobs_message_pending_count(jobs_reply_message(reply), JOBS_STATUS_QUEUED) == 0);
    jobs_reply_free(reply);
    reply = NULL;
    d.job_id = "no-such-job";
    CHECK_FAILS(jobs_describe(c, &d, &reply), JOBS_RESULT_REJECTED);
    CHECK(jobs_message_rejection_code(jobs_reply_message(reply)) ==
          JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND);
    jobs_reply_free(reply);
    reply = NULL;
    {
        double end = test_now() + 10;
        int seen = 0;
        while (test_now() < end) {
            pthread_mutex_lock(&next_lock);
            seen = next_without_execution;
            pthread_mutex_unlock(&next_lock);
            if (seen > 0) break;
            test_sleep_ms(10);
        }
        CHECK(seen == 1);
    }
    CHECK_RC(jobs_client_set_event_callback(c, JOBS_TOPIC_TYPE_NOTIFY_NEXT, NULL, NULL),
             JOBS_RESULT_OK);
    printf("ok update async\nok notify-next event\n");

    /* Offline: fail fast at once; or wait, and expire unsent when the deadline passes. */
    cfg = test_tcp_config(argv[1], argv[2], "e2e-requests-offline", argv[3]);
    CHECK_RC(jobs_client_new(cfg, &offline), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    jobs_get_pending_args_init(&g);
    g.options.offline = JOBS_OFFLINE_FAIL_FAST;
    CHECK_FAILS(jobs_get_pending(offline, &g, &reply), JOBS_RESULT_NOT_CONNECTED);
    g.options.offline = JOBS_OFFLINE_WAIT;
    g.options.timeout_ms = 200;
    CHECK_FAILS(jobs_get_pending(offline, &g, &reply), JOBS_RESULT_TIMEOUT);
    CHECK(reply == NULL);
    jobs_client_free(offline);
    printf("ok offline\n");

    CHECK(async_calls(&r) == 2);
    jobs_client_free(c);
    jobs_reply_free(r.kept);
    pthread_mutex_destroy(&r.lock);
    return test_finish();
}
