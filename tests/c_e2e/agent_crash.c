/*
 * The device of tests/agent_crash_matrix.rs: a job agent with a journal, which the harness
 * kills with SIGKILL at random points and starts again until every job is final.
 *
 * Each handler execution appends one line to COUNT_FILE, fsync'd, before it does anything
 * else: "<job> <execution> start|resumed from=<step> pid=<pid>". That record is independent
 * of the journal, so the harness can tell whether a job ran again after it finished. A job
 * document {"operation": "install", "steps": N, "step_ms": M, "result": "succeed"|"fail"}
 * makes the handler report N steps M ms apart, each followed by a checkpoint "step=<i>"; a
 * resumed handler goes on after its checkpoint's step. It prints "decided <job> <status>"
 * once its final status is in the journal.
 *
 * The program runs until STOP_FILE exists (at most 120 s), then stops the agent (which waits
 * for the job under way, if any, to be acknowledged) and exits with its check summary.
 *
 * Usage: agent_crash HOST PORT THING JOURNAL COUNT_FILE STOP_FILE
 */
#include "check.h"

#include <fcntl.h>
#include <unistd.h>

static const char *count_file;
static double t0;

static double stamp(void) {
    return test_now() - t0;
}

static void on_event(void *ud, const jobs_agent_event *e) {
    (void)ud;
    printf("[%.3f] event %s job=%s exec=%lu status=%s reason=%.200s\n", stamp(),
           jobs_agent_event_kind_str(e->kind), e->job_id ? e->job_id : "-",
           (unsigned long)e->execution_number, jobs_status_str(e->status), e->reason);
    fflush(stdout);
}

/* Appends `line` to the count file and makes it durable before going on. */
static bool record(const char *line) {
    size_t len = strlen(line);
    bool ok;
    int fd = open(count_file, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return false;
    ok = write(fd, line, len) == (ssize_t)len && fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

static void run(void *ud, jobs_job *job) {
    const jobs_document *doc = jobs_job_document(job);
    const char *id = jobs_job_id(job);
    const char *result = "succeed";
    const uint8_t *saved = NULL;
    size_t saved_len = 0;
    int64_t steps = 0, step_ms = 0, i;
    long from = 0;
    bool resumed = jobs_job_resumed(job);
    char line[256], details[96], cp[32];
    uint32_t rc;
    (void)ud;
    if (doc != NULL) {
        (void)jobs_document_get_int(doc, "steps", &steps);
        (void)jobs_document_get_int(doc, "step_ms", &step_ms);
        (void)jobs_document_get_string(doc, "result", &result, NULL);
    }
    if (resumed && jobs_job_saved_checkpoint(job, &saved, &saved_len) == JOBS_RESULT_OK &&
        saved_len < sizeof cp) {
        memcpy(cp, saved, saved_len);
        cp[saved_len] = '\0';
        if (sscanf(cp, "step=%ld", &from) != 1) from = 0;
    }
    snprintf(line, sizeof line, "%s %lu %s from=%ld pid=%ld\n", id,
             (unsigned long)jobs_job_execution_number(job), resumed ? "resumed" : "start", from,
             (long)getpid());
    CHECK(record(line));
    printf("[%.3f] run %s", stamp(), line);
    fflush(stdout);
    for (i = from + 1; i <= steps; i++) {
        test_sleep_ms((long)step_ms);
        snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\"}", (long)i, (long)steps);
        CHECK_RC(jobs_job_progress(job, details, 0), JOBS_RESULT_OK);
        snprintf(cp, sizeof cp, "step=%ld", (long)i);
        CHECK_RC(jobs_job_checkpoint(job, cp, strlen(cp)), JOBS_RESULT_OK);
        printf("[%.3f] checkpoint %s %ld/%ld\n", stamp(), id, (long)i, (long)steps);
        fflush(stdout);
    }
    snprintf(details, sizeof details, "{\"step\":\"%ld/%ld\"}", (long)steps, (long)steps);
    if (strcmp(result, "fail") == 0) {
        rc = jobs_job_fail(job, details);
    } else {
        rc = jobs_job_succeed(job, details);
    }
    CHECK_RC(rc, JOBS_RESULT_OK);
    printf("[%.3f] decided %s %s rc=%u\n", stamp(), id, result, (unsigned)rc);
    fflush(stdout);
}

int main(int argc, char **argv) {
    jobs_client *client;
    jobs_agent *agent = NULL;
    jobs_agent_config cfg;
    jobs_agent_handler h;
    double end;
    uint32_t rc;
    t0 = test_now();
    if (argc != 7) {
        fprintf(stderr, "usage: %s HOST PORT THING JOURNAL COUNT_FILE STOP_FILE\n", argv[0]);
        return 2;
    }
    count_file = argv[5];
    client = test_connected_client(argv[1], argv[2], argv[3], argv[3]);
    if (client == NULL) return test_finish();
    CHECK_RC(jobs_agent_config_init(&cfg), JOBS_RESULT_OK);
    cfg.journal_path = argv[4];
    cfg.request_timeout_ms = 3000;
    cfg.backoff_base_ms = 50;
    cfg.backoff_max_ms = 500;
    cfg.on_event = on_event;
    CHECK_RC(jobs_agent_new(client, &cfg, &agent), JOBS_RESULT_OK);
    if (agent == NULL) return test_finish();
    CHECK_RC(jobs_agent_handler_init(&h), JOBS_RESULT_OK);
    h.run = run;
    h.resume = JOBS_RESUME_POLICY_RESUME;
    CHECK_RC(jobs_agent_set_handler(agent, "install", &h), JOBS_RESULT_OK);
    CHECK_RC(jobs_agent_start(agent), JOBS_RESULT_OK);
    printf("[%.3f] started pid=%ld\n", stamp(), (long)getpid());
    fflush(stdout);
    end = test_now() + 120.0;
    while (access(argv[6], F_OK) != 0 && test_now() < end) test_sleep_ms(10);
    CHECK(access(argv[6], F_OK) == 0);
    rc = jobs_agent_stop(agent, 10000);
    printf("[%.3f] stopped rc=%u\n", stamp(), (unsigned)rc);
    CHECK_RC(rc, JOBS_RESULT_OK);
    jobs_agent_free(agent);
    CHECK_RC(jobs_client_disconnect(client), JOBS_RESULT_OK);
    jobs_client_free(client);
    return test_finish();
}
