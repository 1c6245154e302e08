/*
 * Rejected updates arrive on the update/rejected callback with the right rejection code:
 * a stale expectedVersion is VersionMismatch (with the execution state), an update after a
 * terminal state is InvalidStateTransition, an unknown job is ResourceNotFound.
 *
 * Usage: rejected_updates HOST PORT THING JOB   (JOB is QUEUED for THING)
 */
#include "e2e.h"

static struct e2e_seen seen;
static int wrong_callback = 0;

static void on_accepted(void *ud, const jobs_message *m) {
    (void)ud;
    if (jobs_message_reply_type(m) != JOBS_REPLY_TYPE_ACCEPTED) wrong_callback++;
    e2e_record(&seen, m);
}

static void on_rejected(void *ud, const jobs_message *m) {
    const char *text = jobs_message_rejection_text(m);
    (void)ud;
    if (jobs_message_reply_type(m) != JOBS_REPLY_TYPE_REJECTED) wrong_callback++;
    printf("rejected-callback job=%s code=%u text=%s status=%u version=%lld\n",
           jobs_message_job_id(m) ? jobs_message_job_id(m) : "(none)",
           (unsigned)jobs_message_rejection_code(m), text ? text : "(none)",
           (unsigned)jobs_message_status(m), (long long)jobs_message_version_number(m));
    fflush(stdout);
    e2e_record(&seen, m);
}

int main(int argc, char **argv) {
    jobs_config *cfg;
    jobs_client *c = NULL;
    uint32_t d = 99;
    int64_t v0, v1, exec;
    const char *job;
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT THING JOB\n", argv[0]);
        return 2;
    }
    job = argv[4];
    e2e_seen_init(&seen);
    cfg = e2e_config(argv[1], argv[2], "e2e-rejected", argv[3]);
    E2E_CHECK(cfg != NULL);
    if (cfg == NULL) return e2e_finish();
    E2E_RC(jobs_client_new(cfg, &c), JOBS_RESULT_OK);
    jobs_config_free(cfg);
    if (c == NULL) return e2e_finish();
    E2E_RC(jobs_client_connect(c), JOBS_RESULT_OK);
    E2E_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                    on_accepted, NULL, &d),
           JOBS_RESULT_OK);
    E2E_CHECK(d == JOBS_DELIVERY_SENT);
    E2E_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, "+",
                                    on_accepted, NULL, NULL),
           JOBS_RESULT_OK);
    E2E_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, "+",
                                    on_rejected, NULL, NULL),
           JOBS_RESULT_OK);

    /* Start the job: version and execution number come from the reply. */
    E2E_RC(jobs_send_start_next(c, NULL, 0, NULL), JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&seen, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, 1, 10));
    e2e_lock(&seen);
    E2E_CHECK(seen.last_has_execution[JOBS_TOPIC_TYPE_START_NEXT]);
    E2E_CHECK(strcmp(seen.last_job[JOBS_TOPIC_TYPE_START_NEXT], job) == 0);
    E2E_CHECK(seen.last_status[JOBS_TOPIC_TYPE_START_NEXT] == JOBS_STATUS_IN_PROGRESS);
    v0 = seen.last_version[JOBS_TOPIC_TYPE_START_NEXT];
    e2e_unlock(&seen);
    exec = 1;
    E2E_CHECK(v0 >= 1);

    /* A correct progress update moves the version on. */
    E2E_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, "{\"progress\":\"50%\"}",
                            (uint64_t)v0, (uint64_t)exec, true, false, 0, &d),
           JOBS_RESULT_OK);
    E2E_CHECK(d == JOBS_DELIVERY_SENT);
    E2E_CHECK(e2e_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, 1, 10));
    e2e_lock(&seen);
    v1 = seen.last_version[JOBS_TOPIC_TYPE_UPDATE];
    e2e_unlock(&seen);
    E2E_CHECK(v1 == v0 + 1);

    /* The same update again with the now stale version: VersionMismatch + execution state. */
    E2E_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, "{\"progress\":\"60%\"}",
                            (uint64_t)v0, (uint64_t)exec, false, false, 0, NULL),
           JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, 1, 10));
    e2e_lock(&seen);
    E2E_CHECK(seen.last_rejection[JOBS_TOPIC_TYPE_UPDATE] == JOBS_REJECTION_CODE_VERSION_MISMATCH);
    E2E_CHECK(seen.last_status[JOBS_TOPIC_TYPE_UPDATE] == JOBS_STATUS_IN_PROGRESS);
    E2E_CHECK(seen.last_version[JOBS_TOPIC_TYPE_UPDATE] == v1);
    E2E_CHECK(strstr(seen.last_details[JOBS_TOPIC_TYPE_UPDATE], "50%") != NULL);
    e2e_unlock(&seen);
    printf("ok stale expectedVersion %lld: VersionMismatch, state IN_PROGRESS version %lld\n",
           (long long)v0, (long long)v1);

    /* Finish it with the right version. */
    E2E_RC(jobs_send_update(c, job, JOBS_STATUS_SUCCEEDED, "{\"progress\":\"100%\"}",
                            (uint64_t)v1, (uint64_t)exec, false, false, 0, NULL),
           JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, 2, 10));

    /* Any update after a terminal state: InvalidStateTransition, state SUCCEEDED. */
    E2E_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, 2, 10));
    e2e_lock(&seen);
    E2E_CHECK(seen.last_rejection[JOBS_TOPIC_TYPE_UPDATE] ==
              JOBS_REJECTION_CODE_INVALID_STATE_TRANSITION);
    E2E_CHECK(seen.last_status[JOBS_TOPIC_TYPE_UPDATE] == JOBS_STATUS_SUCCEEDED);
    e2e_unlock(&seen);
    printf("ok update after SUCCEEDED: InvalidStateTransition\n");

    /* A job that does not exist: ResourceNotFound. */
    E2E_RC(jobs_send_update(c, "no-such-job", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                            NULL),
           JOBS_RESULT_OK);
    E2E_CHECK(e2e_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, 3, 10));
    e2e_lock(&seen);
    E2E_CHECK(seen.last_rejection[JOBS_TOPIC_TYPE_UPDATE] ==
              JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND);
    e2e_unlock(&seen);
    printf("ok update of an unknown job: ResourceNotFound\n");

    E2E_CHECK(wrong_callback == 0);
    E2E_RC(jobs_client_disconnect(c), JOBS_RESULT_OK);
    jobs_client_free(c);
    return e2e_finish();
}
