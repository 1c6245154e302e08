/*
 * Rejected updates arrive on the update/rejected callback with the right rejection code:
 * a stale expectedVersion is VersionMismatch (with the execution state), an update after a
 * terminal state is InvalidStateTransition, an unknown job is ResourceNotFound.
 *
 * Usage: rejected_updates HOST PORT THING JOB   (JOB is QUEUED for THING)
 */
#include "check.h"

static struct test_seen seen;
static int wrong_callback = 0;

static void on_accepted(void *ud, const jobs_message *m) {
    (void)ud;
    if (jobs_message_reply_type(m) != JOBS_REPLY_TYPE_ACCEPTED) wrong_callback++;
    test_seen_record(&seen, m);
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
    test_seen_record(&seen, m);
}

int main(int argc, char **argv) {
    jobs_client *c = NULL;
    uint32_t d = 99;
    uint64_t v0, v1, exec;
    const char *job;
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST PORT THING JOB\n", argv[0]);
        return 2;
    }
    job = argv[4];
    test_seen_init(&seen);
    c = test_connected_client(argv[1], argv[2], "e2e-rejected", argv[3]);
    if (c == NULL) return test_finish();
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, NULL,
                                    on_accepted, NULL, &d),
           JOBS_RESULT_OK);
    CHECK(d == JOBS_DELIVERY_SENT);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, "+",
                                    on_accepted, NULL, NULL),
           JOBS_RESULT_OK);
    CHECK_RC(jobs_create_subscription(c, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, "+",
                                    on_rejected, NULL, NULL),
           JOBS_RESULT_OK);

    /* Start the job: version and execution number come from the reply. */
    CHECK_RC(jobs_send_start_next(c, NULL, 0, NULL), JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_START_NEXT, JOBS_REPLY_TYPE_ACCEPTED, 1, 10));
    test_seen_lock(&seen);
    CHECK(seen.last_has_execution[JOBS_TOPIC_TYPE_START_NEXT]);
    CHECK(strcmp(seen.last_job[JOBS_TOPIC_TYPE_START_NEXT], job) == 0);
    CHECK(seen.last_status[JOBS_TOPIC_TYPE_START_NEXT] == JOBS_STATUS_IN_PROGRESS);
    v0 = seen.last_version[JOBS_TOPIC_TYPE_START_NEXT];
    test_seen_unlock(&seen);
    exec = 1;
    CHECK(v0 >= 1);

    /* A correct progress update moves the version on. */
    CHECK_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, "{\"progress\":\"50%\"}",
                            (uint64_t)v0, (uint64_t)exec, true, false, 0, &d),
           JOBS_RESULT_OK);
    CHECK(d == JOBS_DELIVERY_SENT);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, 1, 10));
    test_seen_lock(&seen);
    v1 = seen.last_version[JOBS_TOPIC_TYPE_UPDATE];
    test_seen_unlock(&seen);
    CHECK(v1 == v0 + 1);

    /* The same update again with the now stale version: VersionMismatch + execution state. */
    CHECK_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, "{\"progress\":\"60%\"}",
                            (uint64_t)v0, (uint64_t)exec, false, false, 0, NULL),
           JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, 1, 10));
    test_seen_lock(&seen);
    CHECK(seen.last_rejection[JOBS_TOPIC_TYPE_UPDATE] == JOBS_REJECTION_CODE_VERSION_MISMATCH);
    CHECK(seen.last_status[JOBS_TOPIC_TYPE_UPDATE] == JOBS_STATUS_IN_PROGRESS);
    CHECK(seen.last_version[JOBS_TOPIC_TYPE_UPDATE] == v1);
    CHECK(strstr(seen.last_details[JOBS_TOPIC_TYPE_UPDATE], "50%") != NULL);
    test_seen_unlock(&seen);
    printf("ok stale expectedVersion %lld: VersionMismatch, state IN_PROGRESS version %lld\n",
           (long long)v0, (long long)v1);

    /* Finish it with the right version. */
    CHECK_RC(jobs_send_update(c, job, JOBS_STATUS_SUCCEEDED, "{\"progress\":\"100%\"}",
                            (uint64_t)v1, (uint64_t)exec, false, false, 0, NULL),
           JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_ACCEPTED, 2, 10));

    /* Any update after a terminal state: InvalidStateTransition, state SUCCEEDED. */
    CHECK_RC(jobs_send_update(c, job, JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0, NULL),
           JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, 2, 10));
    test_seen_lock(&seen);
    CHECK(seen.last_rejection[JOBS_TOPIC_TYPE_UPDATE] ==
              JOBS_REJECTION_CODE_INVALID_STATE_TRANSITION);
    CHECK(seen.last_status[JOBS_TOPIC_TYPE_UPDATE] == JOBS_STATUS_SUCCEEDED);
    test_seen_unlock(&seen);
    printf("ok update after SUCCEEDED: InvalidStateTransition\n");

    /* A job that does not exist: ResourceNotFound. */
    CHECK_RC(jobs_send_update(c, "no-such-job", JOBS_STATUS_IN_PROGRESS, NULL, 0, 0, false, false, 0,
                            NULL),
           JOBS_RESULT_OK);
    CHECK(test_seen_wait_count(&seen, JOBS_TOPIC_TYPE_UPDATE, JOBS_REPLY_TYPE_REJECTED, 3, 10));
    test_seen_lock(&seen);
    CHECK(seen.last_rejection[JOBS_TOPIC_TYPE_UPDATE] ==
              JOBS_REJECTION_CODE_RESOURCE_NOT_FOUND);
    test_seen_unlock(&seen);
    printf("ok update of an unknown job: ResourceNotFound\n");

    CHECK(wrong_callback == 0);
    CHECK_RC(jobs_client_disconnect(c), JOBS_RESULT_OK);
    jobs_client_free(c);
    return test_finish();
}
